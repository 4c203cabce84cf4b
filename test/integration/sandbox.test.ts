/**
 * Issue 9: children cannot reach the proxy's secrets. The same hostile server runs behind `serve` twice: without a
 * sandbox it can read the gateway's environment through /proc, the audit database, the signing key and the config
 * (the same user can read the same files — what SECURITY.md says holds without a sandbox); with `sandbox: bwrap` it
 * can read none of them, cannot write outside its `write` list, and still serves calls.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type McpClient } from '../helpers/clients.js';
import { ALLOW_ALL, isolatedEnv, NODE, ROOT, startServe, type Running } from '../helpers/cli.js';

const SNOOP = path.join(ROOT, 'test/fixtures/snoop-server.mjs');
const SECRET = 'gateway-secret-value-7f3a';

function text(r: Record<string, unknown>): string {
  return (r['content'] as { text: string }[])[0]!.text;
}

describe('sandbox: bwrap', () => {
  let gw: Running;
  let dir: string;
  let files: { db: string; key: string; config: string; state: string; scratch: string };
  let open: McpClient;
  let boxed: McpClient;

  beforeAll(async () => {
    // Outside /tmp: the sandbox's private /tmp would hide anything there anyway, and the point is the hiding.
    dir = mkdtempSync('/var/tmp/mcpw-sandbox-');
    const state = path.join(dir, 'state');
    const scratch = path.join(dir, 'scratch');
    mkdirSync(scratch);
    const auditDir = path.join(dir, 'audit');
    files = { db: path.join(auditDir, 'audit.db'), key: path.join(auditDir, 'signing.key'), config: '', state, scratch };
    gw = await startServe(
      `servers:
  open: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(SNOOP)}] }
  boxed:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(SNOOP)}]
    sandbox: { type: bwrap, write: [${JSON.stringify(scratch)}] }
policy: [${JSON.stringify(ALLOW_ALL)}]
audit: { db: ${JSON.stringify(files.db)}, signing_key: ${JSON.stringify(files.key)}, anchor: ${JSON.stringify(path.join(auditDir, 'anchor'))} }
pins: false
`,
      { env: isolatedEnv({ GATEWAY_SECRET: SECRET, XDG_STATE_HOME: state }) },
    );
    files.config = /--config (\S+)/.exec(gw.proc.spawnargs.join(' '))?.[1] ?? '';
    open = await connectClient('v1', { kind: 'http', url: `${gw.url}/open/mcp` });
    boxed = await connectClient('v1', { kind: 'http', url: `${gw.url}/boxed/mcp` });
    // Something for the audit trail and the key to exist.
    await open.callTool('ls', { path: '/' });
  });

  afterAll(async () => {
    await open?.close();
    await boxed?.close();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = async (c: McpClient, p: string) => text(await c.callTool('read', { path: p }));

  it('without a sandbox, the same user can read the gateway environment, audit database, key and config', async () => {
    expect(await read(open, `/proc/${gw.proc.pid}/environ`)).toContain(SECRET);
    expect(await read(open, files.db)).toMatch(/^SQLite format 3/);
    expect(await read(open, files.key)).not.toMatch(/^ERR/);
    expect(await read(open, files.config)).toContain('servers:');
  });

  it('with bwrap, none of them can be read, and the gateway is not even visible in /proc', async () => {
    expect(await read(boxed, `/proc/${gw.proc.pid}/environ`)).toMatch(/^ERR (ENOENT|EACCES)/);
    expect(await read(boxed, files.db)).toMatch(/^ERR ENOENT$/);
    expect(await read(boxed, files.key)).toMatch(/^ERR ENOENT$/);
    expect(await read(boxed, files.config)).toMatch(/^(|ERR \w+)$/);
    expect(text(await boxed.callTool('ls', { path: path.dirname(files.db) }))).toBe('');
    const procs = text(await boxed.callTool('ls', { path: '/proc' })).split('\n').filter((n) => /^\d+$/.test(n));
    expect(procs.length).toBeLessThan(5);
  });

  it('with bwrap, writes succeed only under `write`; the rest of the file system is read-only', async () => {
    expect(text(await boxed.callTool('write', { path: path.join(files.scratch, 'ok.txt') }))).toBe('ok');
    expect(existsSync(path.join(files.scratch, 'ok.txt'))).toBe(true);
    expect(text(await boxed.callTool('write', { path: path.join(dir, 'planted.txt') }))).toMatch(/^ERR (EROFS|EACCES)/);
    expect(text(await boxed.callTool('write', { path: path.join(ROOT, 'planted.txt') }))).toMatch(/^ERR (EROFS|EACCES)/);
    expect(existsSync(path.join(ROOT, 'planted.txt'))).toBe(false);
    // Its /tmp is its own.
    const mark = `/tmp/mcpw-sandbox-private-${process.pid}.txt`;
    expect(text(await boxed.callTool('write', { path: mark }))).toBe('ok');
    expect(existsSync(mark)).toBe(false);
  });

  it('a sandbox that cannot be set up refuses to start the server (fail closed)', async () => {
    const bad = await startServe(`servers:\n  s:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(SNOOP)}]\n    sandbox: { type: bwrap, bwrap: /nonexistent/bwrap }\npolicy: [${JSON.stringify(ALLOW_ALL)}]\npins: false\naudit: { enabled: false }\n`);
    try {
      const r = await fetch(`${bad.url}/s/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
      expect(r.status).toBe(502);
      expect(await r.text()).toContain('bubblewrap');
    } finally {
      await bad.stop();
    }
  });
});


