/**
 * A lean stdio client for benchmarks: raw JSON lines, no SDK. `open(child)` sends `initialize` and lists tools;
 * `call(name, args)` resolves with the response line (a failed call rejects); `run(calls, inFlight)` keeps that
 * many echo calls outstanding and reports calls/s with the monotonic start and end (µs) of the phase.
 * `benchHome` and `spawnWrap` start the processes it drives.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NODE = process.execPath;
export const CLI = path.join(ROOT, 'dist/cli/index.js');
export const UPSTREAM = path.join(ROOT, 'bench/upstream.mjs');

/** Folders made by benchHome, removed when this process exits (npm run bench removes its whole run folder too). */
const homes = [];
process.on('exit', () => {
  for (const dir of homes) rmSync(dir, { recursive: true, force: true });
});

/**
 * A private folder for one benchmark process, an environment that points there, and its config file. The folder is
 * removed when the script exits, also when it runs alone (node bench/profile.mjs, bench/memory.mjs).
 */
export function benchHome(prefix, configOf) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), prefix));
  homes.push(tmp);
  const cfg = path.join(tmp, 'config.yaml');
  writeFileSync(cfg, configOf(tmp));
  const env = { PATH: process.env.PATH, HOME: tmp, XDG_CONFIG_HOME: path.join(tmp, 'cfg'), XDG_STATE_HOME: path.join(tmp, 'state'), MCP_WARDEN_LOG_LEVEL: 'warn' };
  return { tmp, cfg, env };
}

/** `wrap` with every stage on (strict audit in its own folder) around the bench upstream, with extra Node flags (given the process's folder). */
export function spawnWrap(prefix, nodeFlags = () => []) {
  const home = benchHome(prefix, (tmp) => `audit: { db: ${JSON.stringify(path.join(tmp, 'audit.db'))} }\n`);
  const child = spawn(NODE, [...nodeFlags(home.tmp), CLI, 'wrap', '--config', home.cfg, '--', NODE, UPSTREAM, 'stdio'], { env: home.env, stdio: ['pipe', 'pipe', 'ignore'] });
  return { ...home, child };
}

/**
 * `serve` with every stage on (strict audit in its own folder) in front of the bench upstream on a free loopback port,
 * with extra Node flags (given the process's folder); resolves once it is listening.
 */
export async function spawnServe(prefix, nodeFlags = () => []) {
  const port = await new Promise((r) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => r(p));
    });
  });
  const home = benchHome(prefix, (tmp) => `servers:\n  bench:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(UPSTREAM)}, stdio]\nlisten: { port: ${port} }\naudit: { db: ${JSON.stringify(path.join(tmp, 'audit.db'))} }\n`);
  const gw = spawn(NODE, [...nodeFlags(home.tmp), CLI, 'serve', '--config', home.cfg], { env: home.env, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((resolve, reject) => {
    let buf = '';
    gw.stderr.on('data', (d) => {
      buf += d;
      if (/serving on/.test(buf)) resolve();
    });
    gw.once('exit', (c) => reject(new Error(`serve exited ${c}: ${buf}`)));
  });
  return { ...home, gw, url: `http://127.0.0.1:${port}/bench/mcp` };
}

export async function open(child) {
  let buf = '';
  const waiters = new Map();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^\{"jsonrpc":"2\.0","id":(\d+)/.exec(line) ?? /"id":(\d+)/.exec(line);
      const w = m && waiters.get(Number(m[1]));
      if (w) {
        waiters.delete(Number(m[1]));
        if (line.includes('"result"')) w.resolve(line);
        else w.reject(new Error(`call failed: ${line.slice(0, 200)}`));
      }
    }
  });
  let id = 0;
  const send = (method, params) =>
    new Promise((resolve, reject) => {
      const i = ++id;
      waiters.set(i, { resolve, reject });
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: i, method, params })}\n`);
    });
  await send('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench-lean', version: '1' } });
  child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  await send('tools/list', {});
  const call = (name, args) => send('tools/call', { name, arguments: args });
  return {
    call,
    async run(calls, inFlight) {
      const from = Number(process.hrtime.bigint() / 1000n);
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next++ < calls) await call('echo', { text: 'hello world' });
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      return { from, to: Number(process.hrtime.bigint() / 1000n), rate: calls / secs };
    },
  };
}
