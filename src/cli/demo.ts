/**
 * `mcp-warden demo`: the whole job on a bundled example, no setup. A careless example server
 * (examples/demo-server.mjs) runs behind `wrap` with the demo policy, a scripted client session shows what the
 * proxy does, then the audit trail is verified and an HTML report written. Everything lives in a temporary
 * directory; nothing of the user's (config, state, audit database) is read or touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { packagePath } from '../config/paths.js';
import { StartError } from '../errors.js';

interface Reply {
  id?: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** A minimal line-delimited JSON-RPC client over a child's stdio (the demo must not need the SDK). */
class LineClient {
  private buf = '';
  private next = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  stderr = '';

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          const m = JSON.parse(line) as Reply;
          if (typeof m.id === 'number') {
            this.waiting.get(m.id)?.(m);
            this.waiting.delete(m.id);
          }
        } catch {
          /* not a message */
        }
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  request(method: string, params: Record<string, unknown>): Promise<Reply> {
    const id = this.next++;
    this.proc.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new StartError(`the demo got no answer to ${method} within 15 s:\n${this.stderr.slice(-2000)}`)), 15_000);
      this.waiting.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
  }

  notify(method: string): void {
    this.proc.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', method })}\n`);
  }

  close(): Promise<void> {
    this.proc.stdin!.end();
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) resolve();
      else this.proc.once('exit', () => resolve());
    });
  }
}

const tty = process.stdout.isTTY;
const paint = (code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = (s: string) => paint('32', s);
const red = (s: string) => paint('31', s);
const yellow = (s: string) => paint('33', s);
const bold = (s: string) => paint('1', s);
const dim = (s: string) => paint('2', s);

function textOf(r: Reply): string {
  if (r.error) return r.error.message;
  return ((r.result?.['content'] as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join('');
}

function oneLine(s: string, max = 96): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export async function runDemo(opts: { keep?: boolean } = {}): Promise<number> {
  const started = performance.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcp-warden-demo-'));
  const state = path.join(dir, 'state');
  const server = packagePath('examples', 'demo-server.mjs');
  const policy = packagePath('examples', 'demo-policy.yaml');
  const cli = packagePath('dist', 'cli', 'index.js');
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, `policy: [${JSON.stringify(policy)}]\nredaction: { packs: [secrets, pii], action: mask, inbound: detect }\nlocal_identity: { sub: "local:demo" }\n`);
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_STATE_HOME: state, MCP_WARDEN_LOG_LEVEL: 'warn' };
  const db = path.join(state, 'mcp-warden', 'audit.db');

  const out = (s = '') => process.stdout.write(`${s}\n`);
  out(bold('mcp-warden demo'));
  out(dim(`  upstream: examples/demo-server.mjs — a careless server: it reads any path, returns personal data, leaks keys`));
  out(dim(`  policy:   examples/demo-policy.yaml — read only under /data, lookups allowed, deletes denied`));
  out(dim(`  pins:     tool definitions pinned on first use; a changed definition is hidden and refused`));
  out(dim(`  running:  mcp-warden wrap --config ${config} -- node demo-server.mjs`));
  out();

  const proc = spawn(process.execPath, [cli, 'wrap', '--config', config, '--name', 'demo', '--', process.execPath, server], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const c = new LineClient(proc);
  const rows: { step: string; outcome: string; detail: string }[] = [];
  try {
    const init = await c.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'mcp-warden-demo', version: '1' } });
    if (init.error) throw new StartError(`initialize failed: ${init.error.message}`);
    c.notify('notifications/initialized');

    const list = await c.request('tools/list', {});
    const names = ((list.result?.['tools'] as { name: string }[] | undefined) ?? []).map((t) => t.name);
    out(`${bold('1. What the model is shown')}  tools/list → ${names.join(', ')}`);
    out(`   ${yellow('hidden  ')}  delete_file: denied by rule no-deletes, so it is not offered at all`);
    rows.push({ step: 'tools/list', outcome: 'filtered', detail: `${names.length} of 4 tools shown (delete_file hidden)` });

    const show = async (n: string, tool: string, args: Record<string, unknown>, explain: (r: Reply, text: string) => { outcome: string; detail: string }) => {
      const r = await c.request('tools/call', { name: tool, arguments: args });
      const text = textOf(r);
      const e = explain(r, text);
      const mark = e.outcome === 'allowed' ? green('allowed ') : e.outcome === 'denied' ? red('denied  ') : yellow(e.outcome.padEnd(8));
      out(`${bold(n)}  ${tool}(${JSON.stringify(args)})`);
      out(`   ${mark}  ${oneLine(e.detail, 220)}`);
      rows.push({ step: `${tool} ${JSON.stringify(args)}`, outcome: e.outcome, detail: e.detail });
    };

    await show('2. An allowed call', 'read_file', { path: '/data/notes.txt' }, (_r, t) => ({ outcome: 'allowed', detail: t }));
    await show('3. A call the policy refuses', 'read_file', { path: '/data/../etc/passwd' }, (r, t) => ({
      outcome: r.result?.['isError'] ? 'denied' : 'allowed',
      detail: t,
    }));
    await show('4. Personal data in a result', 'lookup_customer', { id: 'c-1042' }, (_r, t) => ({ outcome: 'redacted', detail: t }));
    await show('5. A secret in a result', 'get_deploy_config', { env: 'production' }, (_r, t) => ({ outcome: 'redacted', detail: t }));
    const del = await c.request('tools/call', { name: 'delete_file', arguments: { path: '/data/notes.txt' } });
    out(`${bold('6. A hidden tool, called anyway')}  delete_file(${JSON.stringify({ path: '/data/notes.txt' })})`);
    out(`   ${red('denied  ')}  ${oneLine(textOf(del))} (the same answer as for a tool that does not exist)`);
    rows.push({ step: 'delete_file {"path":"/data/notes.txt"}', outcome: 'denied', detail: textOf(del) });

    // The server has quietly changed read_file's description (a rug pull): pinned definitions catch it.
    const list2 = await c.request('tools/list', {});
    const names2 = ((list2.result?.['tools'] as { name: string }[] | undefined) ?? []).map((t) => t.name);
    out(`${bold('7. The server changes a tool behind your back')}  tools/list → ${names2.join(', ')}`);
    if (!names2.includes('read_file')) out(`   ${red('blocked ')}  read_file's description changed since it was pinned on first use: hidden from the model`);
    const rug = await c.request('tools/call', { name: 'read_file', arguments: { path: '/data/notes.txt' } });
    out(`   ${rug.result?.['isError'] ? red('denied  ') : green('allowed ')}  ${oneLine(textOf(rug), 220)}`);
    rows.push({ step: 'read_file after a rug pull', outcome: rug.result?.['isError'] ? 'blocked' : 'allowed', detail: textOf(rug) });
  } finally {
    await c.close();
  }

  out();
  out(bold('Summary'));
  const w = Math.max(...rows.map((r) => r.step.length));
  for (const r of rows) out(`  ${r.step.padEnd(w)}  ${r.outcome.padEnd(9)}  ${dim(oneLine(r.detail, 70))}`);

  out();
  out(bold('Audit trail'));
  const verify = spawnSync(process.execPath, [cli, 'audit', 'verify', '--db', db], { env, encoding: 'utf8' });
  for (const line of verify.stdout.trim().split('\n')) out(`  ${line}`);
  const report = path.join(dir, 'report.html');
  const rep = spawnSync(process.execPath, [cli, 'audit', 'report', '--db', db, '--out', report], { env, encoding: 'utf8' });
  if (rep.status !== 0) throw new StartError(`audit report failed: ${rep.stderr}`);
  out(`  database: ${db}`);
  out(`  report:   ${report}`);
  out(dim(`  see every event: mcp-warden audit tail --db ${db}`));
  out();
  out(dim(`done in ${((performance.now() - started) / 1000).toFixed(1)} s${opts.keep === false ? '' : `; the files stay in ${dir}`}`));
  const expected = rows.filter((r) => r.outcome === 'denied').length === 2 && rows.filter((r) => r.outcome === 'redacted').length === 2 && rows.some((r) => r.outcome === 'blocked');
  return verify.status === 0 && expected ? 0 : 1;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the main job end to end on a bundled example server, no setup (writes only to a temporary directory)')
    .action(async () => {
      process.exitCode = await runDemo();
    });
}
