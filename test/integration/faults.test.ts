/**
 * Issue 2, done-when 3: faults and bad input, through wrap and through serve. Each is answered as SPEC §10
 * says and the proxy keeps serving afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, isolatedEnv, NODE, ROOT, startServe, writeConfig, wrapArgs, type Running } from '../helpers/cli.js';
import { RawStdio, text } from '../helpers/raw.js';
import { auditEvents } from '../helpers/audit.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const LIMITS = 'limits:\n  request_timeout_s: 1.5\n';
const MB20 = 20 * 1024 * 1024;

function bigRequest(id: number, bytes: number): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":"${'a'.repeat(bytes)}"}}}\n`;
}

function deepRequest(id: number, depth: number): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","deep":${'['.repeat(depth)}${']'.repeat(depth)}}}}\n`;
}

describe('wrap', () => {
  let peer: RawStdio;

  beforeAll(async () => {
    const cfg = writeConfig(LIMITS);
    peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), isolatedEnv());
    const init = await peer.initialize();
    expect(init.result?.['serverInfo']).toMatchObject({ name: 'fault-server' });
  });

  afterAll(async () => {
    expect(await peer.close()).toBe(0);
  });

  const alive = async (id: number) => expect(text(await peer.call(id, 'echo', { text: `ok ${id}` }))).toBe(`echo: ok ${id}`);

  it('answers invalid JSON with -32700 and carries on', async () => {
    peer.write('{"jsonrpc":"2.0","id":1,"method":\n');
    const r = await peer.waitFor((m) => m.error?.code === -32700);
    expect(r.id).toBeNull();
    await alive(2);
  });

  it('answers invalid UTF-8 with -32700', async () => {
    peer.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":3,"method":"ping","params":{"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}\n')]));
    await peer.waitFor((m) => m.error?.code === -32700 && m.id === null);
    await alive(4);
  });

  it('refuses duplicate keys with -32600 naming the request', async () => {
    peer.write('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","name":"die","arguments":{}}}\n');
    const r = await peer.reply(5);
    expect(r.error?.code).toBe(-32600);
    expect(r.error?.message).toMatch(/duplicate keys/);
    await alive(6);
  });

  it('refuses a 1000-deep message with -32600 naming the request', async () => {
    peer.write(deepRequest(7, 1000));
    const r = await peer.reply(7);
    expect(r.error?.code).toBe(-32600);
    expect(r.error?.message).toMatch(/nested deeper than 64/);
    await alive(8);
  });

  it('refuses a 20 MB message with -32012 naming the request', async () => {
    peer.write(bigRequest(9, MB20));
    const r = await peer.reply(9, 30_000);
    expect(r.error?.code).toBe(-32012);
    expect(r.error?.message).toMatch(/exceeds the limit of 16777216 bytes/);
    await alive(10);
  });

  it('answers an envelope that is not JSON-RPC with -32600', async () => {
    peer.write('{"jsonrpc":"2.0","id":11,"method":"tools/call","params":"nope"}\n');
    expect((await peer.reply(11)).error?.code).toBe(-32600);
    peer.write('[]\n');
    await peer.waitFor((m) => m.id === null && m.error?.code === -32600);
    await alive(12);
  });

  it('times out a request the server never answers, and carries on', async () => {
    const started = Date.now();
    const r = await peer.call(13, 'hang');
    expect(r.error?.code).toBe(-32001);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await alive(14);
  });

  it('skips garbage the server prints and still answers', async () => {
    const r = await peer.call(15, 'garbage');
    expect(text(r)).toBe('after garbage');
    expect(peer.unparsed).toEqual([]);
    // The duplicate-key notification among the garbage is refused, not relayed.
    expect(peer.received.some((m) => m.method === 'notifications/message')).toBe(false);
    await alive(16);
  });

  it('turns a server answer over the limit into an error for that request', async () => {
    const r = await peer.call(17, 'big', { bytes: MB20 }, 30_000);
    expect(r.error?.code).toBe(-32011);
    expect(r.error?.message).toMatch(/exceeds the limit/);
    await alive(18);
  });

  it('fails the call in flight when the server is killed, then restarts it', async () => {
    const pid = Number(text(await peer.call(19, 'pid')));
    const inflight = peer.call(20, 'hang');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 'SIGKILL');
    const r = await inflight;
    expect(r.error?.code).toBe(-32011);
    expect(r.error?.message).toMatch(/exited on SIGKILL/);
    const newPid = Number(text(await peer.call(21, 'pid')));
    expect(newPid).not.toBe(pid);
    await alive(22);
  });

  it('fails the call when the server exits by itself mid-call', async () => {
    const r = await peer.call(23, 'die', { code: 7 });
    expect(r.error?.code).toBe(-32011);
    expect(r.error?.message).toMatch(/exited with code 7/);
    await alive(24);
  });

  it('keeps serving while the server floods stderr', async () => {
    expect(text(await peer.call(25, 'flood', { lines: 20_000 }))).toBe('flooded');
    await alive(26);
  });

  it('relays every page of a paginated list with its cursors', async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    let id = 100;
    do {
      const r = await peer.request(id++, 'tools/list', cursor ? { cursor } : {});
      names.push(...(r.result?.['tools'] as { name: string }[]).map((t) => t.name));
      cursor = r.result?.['nextCursor'] as string | undefined;
    } while (cursor);
    expect(names).toHaveLength(11);
  });
});

describe('the deepest message the configuration allows', () => {
  it('max_json_depth 1000 (its most): a message nested that deep is answered and audited, and the proxy carries on', async () => {
    // The schema allowed 10000: a 6000-deep request overflowed the stack (parsing counts keys recursively) and
    // wrap exited (1); at 4000 a stage overflowed and the answer was withheld.
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpw-deep-'));
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`limits:\n  max_json_depth: 1000\naudit:\n  db: ${db}\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), isolatedEnv());
    await peer.initialize();
    await peer.request('list', 'tools/list', {});
    peer.write(deepRequest(1, 995));
    const r = await peer.reply(1);
    expect(text(r)).toBe('echo: x');
    expect(text(await peer.call(2, 'echo', { text: 'after' }))).toBe('echo: after');
    expect(await peer.close()).toBe(0);
    const calls = auditEvents(db, { event: 'exchange' }).filter((e) => e.method === 'tools/call');
    expect(calls).toHaveLength(2);
    expect(calls[0]!.args).toContain('[[[[');
  });

  it('a deeper setting is refused at start with the line', () => {
    const cfg = writeConfig('limits:\n  max_json_depth: 1001\n');
    const r = spawnSync(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), { encoding: 'utf8', env: isolatedEnv(), input: '', timeout: 15_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${cfg}:2: limits.max_json_depth: must be <= 1000`);
  });
});

/** A legacy initialize POSTed to a serve endpoint: the status and the JSON body. */
async function postInitialize(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('serve start-up failures', () => {
  it('a port another process holds: exit 1 with the reason and the setting to change, not a stack trace', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const cfg = writeConfig(`servers:\n  fault:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(FAULT)}]\naudit: { enabled: false }\n`);
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(NODE, [CLI, 'serve', '--config', cfg, '--port', String(port)], { env: isolatedEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
        p.on('exit', (code) => {
          clearTimeout(t);
          resolve({ code, stderr });
        });
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: another process is listening there (EADDRINUSE); choose another listen.port in ${cfg}, or --port`);
      expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    } finally {
      holder.close();
    }
  });

  it('a secret file a server\'s auth names that is missing or empty stops the start, with the setting and the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpw-secret-'));
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n');
    for (const [auth, why] of [
      [`{ type: bearer, token_file: ${JSON.stringify(path.join(dir, 'nope'))} }`, `servers.remote.auth.token_file: ${path.join(dir, 'nope')}: cannot read it: no such file or directory (ENOENT)`],
      [`{ type: client_credentials, token_endpoint: "http://127.0.0.1:9/token", client_id: c, client_secret_file: ${JSON.stringify(empty)} }`, `servers.remote.auth.client_secret_file: ${empty} is empty`],
    ] as const) {
      const cfg = writeConfig(`servers:\n  remote:\n    url: http://127.0.0.1:9/mcp\n    auth: ${auth}\naudit: { enabled: false }\n`);
      // serve, where it was found only when a client came (the client's error named the file; the log had nothing).
      const r = spawnSync(NODE, [CLI, 'serve', '--config', cfg, '--port', '0'], { env: isolatedEnv(), encoding: 'utf8', timeout: 15_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`mcp-warden: ${why}\n`);
      const peer = new RawStdio(NODE, wrapArgs('--config', cfg), isolatedEnv());
      expect(await peer.exitedWithin(15_000)).toBe(2);
      expect(peer.stderr).toBe(`mcp-warden: ${why}\n`);
    }
  });

  it('a secret file every user can read is named in a warning as the proxy starts (path and mode, not its content)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpw-secret-'));
    const open = path.join(dir, 'open-token');
    const closed = path.join(dir, 'closed-token');
    writeFileSync(open, 'open-token-value-41\n', { mode: 0o644 });
    writeFileSync(closed, 'closed-token-value-42\n', { mode: 0o600 });
    chmodSync(open, 0o644);
    chmodSync(closed, 0o640);
    const gw = await startServe(
      `servers:\n  a:\n    url: http://127.0.0.1:9/mcp\n    auth: { type: bearer, token_file: ${JSON.stringify(open)} }\n  b:\n    url: http://127.0.0.1:9/mcp\n    auth: { type: header, name: X-Key, value_file: ${JSON.stringify(closed)} }\naudit: { enabled: false }\n`,
    );
    try {
      const want = `servers.a.auth.token_file: ${open} holds a secret every user of this machine can read (mode 0644); chmod o-r it`;
      for (let i = 0; i < 50 && !gw.stderr().includes(want); i++) await new Promise((res) => setTimeout(res, 100));
      expect(gw.stderr()).toContain(want);
      // Group-readable is a team's choice, as for the signing key; neither file's content is logged.
      expect(gw.stderr()).not.toContain(closed);
      expect(gw.stderr()).not.toMatch(/token-value/);
    } finally {
      await gw.stop();
    }
  });

  it('a session whose upstream cannot start gives its place back, tells the client nothing of the gateway\'s files, and is audited', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpw-secret-'));
    const token = path.join(dir, 'token');
    writeFileSync(token, 'upstream-token\n');
    const db = path.join(dir, 'audit.db');
    // Port 9 (discard) refuses: a session that gets as far as connecting fails with "unreachable".
    const gw = await startServe(`servers:\n  remote:\n    url: http://127.0.0.1:9/mcp\n    max_sessions: 2\n    auth: { type: bearer, token_file: ${JSON.stringify(token)} }\naudit: { db: ${JSON.stringify(db)} }\n`);
    const init = async (): Promise<{ status: number; message: string }> => {
      const { status, body } = await postInitialize(`${gw.url}/remote/mcp`);
      return { status, message: (body['error'] as { message?: string } | undefined)?.message ?? '' };
    };
    try {
      // The token file goes away while the gateway runs (a secret being rotated): each start fails.
      rmSync(token);
      for (let i = 0; i < 3; i++) {
        const r = await init();
        expect(r.status).toBe(502);
        expect(r.message).toBe('Upstream server "remote" could not be started; the gateway\'s log and audit trail say why');
      }
      // Back again: the failed starts held no session slot (they did: "Too many sessions for remote (limit 2)").
      writeFileSync(token, 'upstream-token\n');
      const r = await init();
      // The client learns that the upstream is unreachable, not where the gateway connects (it read
      // "Upstream unreachable: connect ECONNREFUSED 127.0.0.1:9"); the log and the trail say it.
      expect(r.message).toBe("Upstream unreachable; the gateway's log and audit trail say why");
      // The log is written asynchronously (pino, sync: false) and reaches this process on another pipe than the
      // answer: it may come after it.
      for (let i = 0; i < 50 && !gw.stderr().includes('connect ECONNREFUSED 127.0.0.1:9'); i++) await new Promise((res) => setTimeout(res, 100));
      expect(gw.stderr()).toContain(`could not start the upstream`);
      expect(gw.stderr()).toContain('connect ECONNREFUSED 127.0.0.1:9');
    } finally {
      await gw.stop();
    }
    const [unreachable] = auditEvents(db, { event: 'exchange' });
    expect(unreachable).toMatchObject({ method: 'initialize', status: 'failed', reason: 'Upstream unreachable: connect ECONNREFUSED 127.0.0.1:9' });
    const failed = auditEvents(db, { event: 'upstream_spawn' });
    expect(failed).toHaveLength(3);
    for (const e of failed) {
      expect(e.status).toBe('failed');
      expect(e.reason).toBe(`could not start the upstream: ENOENT: no such file or directory, open '${token}'`);
    }
  });
});

describe('a shared upstream (isolation: shared) that could not start', () => {
  it('is tried again for the next session: the command installed meanwhile starts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpw-shared-'));
    const command = path.join(dir, 'server');
    const gw = await startServe(`servers:\n  fault:\n    command: ${JSON.stringify(command)}\n    isolation: shared\naudit: { enabled: false }\n`);
    const init = async (): Promise<Record<string, unknown>> => (await postInitialize(`${gw.url}/fault/mcp`)).body;
    try {
      expect((await init())['error']).toMatchObject({ code: -32011 });
      writeFileSync(command, `#!/bin/sh\nexec ${JSON.stringify(NODE)} ${JSON.stringify(FAULT)}\n`, { mode: 0o755 });
      // Before: the failed start stayed the shared upstream's, and every session was refused until serve restarted.
      expect((await init())['result']).toMatchObject({ serverInfo: { name: 'fault-server' } });
    } finally {
      await gw.stop();
    }
  });
});

describe('wrap start-up failures', () => {
  it('a command that does not exist is a clear error, not a crash, and the audit trail records the failed start', async () => {
    const env = isolatedEnv();
    const peer = new RawStdio(NODE, wrapArgs('--', '/nonexistent/mcp-server'), env);
    expect(await peer.exited).toBe(1);
    expect(peer.stderr).toMatch(/could not start "\/nonexistent\/mcp-server": ENOENT \(command not found/);
    expect(peer.stderr).not.toMatch(/\n\s+at /);
    const [e, ...rest] = auditEvents(path.join(env['XDG_STATE_HOME']!, 'mcp-warden', 'audit.db'));
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ event: 'upstream_spawn', status: 'failed', principal_sub: expect.stringMatching(/^local:/) });
    expect(e!.reason).toMatch(/^could not start the upstream: could not start "\/nonexistent\/mcp-server": ENOENT/);
    expect(JSON.parse(e!.extra!)).toMatchObject({ config: null, config_from: 'none', transport: 'stdio' });
  });

  it('an invalid config is refused with file and line', async () => {
    const cfg = writeConfig('limits:\n  max_json_depth: lots\n');
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), isolatedEnv());
    expect(await peer.exited).toBe(2);
    expect(peer.stderr).toContain(`${cfg}:2: limits.max_json_depth: must be integer`);
  });

  it('a server name that is empty or carries control characters is refused; a host\'s name with spaces is taken', async () => {
    for (const name of ['', '   ', 'files\u001b[2J']) {
      const peer = new RawStdio(NODE, wrapArgs('--name', name, '--', NODE, FAULT), isolatedEnv());
      expect(await peer.exitedWithin(15_000)).toBe(2);
      expect(peer.stderr).toMatch(/^mcp-warden: --name: ".*" is not a server name \(1 to 128 characters, no control characters\)\n$/);
    }
    const peer = new RawStdio(NODE, wrapArgs('--name', 'My Files (work)', '--', NODE, FAULT), isolatedEnv());
    await peer.initialize();
    expect(await peer.close()).toBe(0);
  });

  it('a --url that is not a URL is refused by name, not with a stack trace', async () => {
    const peer = new RawStdio(NODE, wrapArgs('--url', 'http://[::1'), isolatedEnv());
    expect(await peer.exitedWithin(15_000)).toBe(2);
    expect(peer.stderr).toBe('mcp-warden: --url: "http://[::1" is not a URL (http(s):// or ws(s)://)\n');
  });

  it('a log file that cannot be opened is refused with its name and why; ~/ in the config is the home directory', async () => {
    const env = isolatedEnv();
    const dir = mkdtempSync(path.join(env['HOME']!, 'logs-'));
    const cfgFile = writeConfig('{}\n');
    for (const [file, why] of [
      [dir, /cannot open the log file \(log.file\): illegal operation on a directory \(EISDIR\)/],
      [path.join(cfgFile, 'w.log'), /cannot open the log file \(log.file\): not a directory \(ENOTDIR\)/],
      // Node's recursive mkdir never returns under /proc: this start hung until the host gave up.
      ['/proc/mcp-warden-test/w.log', /cannot open the log file \(log.file\): no such file or directory \(ENOENT\)/],
    ] as const) {
      const cfg = writeConfig(`log: { file: ${JSON.stringify(file)} }\n`);
      const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), env);
      expect(await peer.exitedWithin(15_000)).toBe(2);
      expect(peer.stderr).toContain(file);
      expect(peer.stderr).toMatch(why);
      expect(peer.stderr).not.toMatch(/\n\s+at |sonic boom/);
    }
    // Written as a person writes it in YAML: the log and the audit trail land in the home directory, not in a
    // folder named "~" beside the config.
    const cfg = writeConfig('log: { file: ~/wlogs/wrap.log, level: info }\naudit: { db: ~/trail/audit.db }\n');
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), env);
    await peer.initialize();
    expect(await peer.close()).toBe(0);
    expect(readFileSync(path.join(env['HOME']!, 'wlogs', 'wrap.log'), 'utf8')).toMatch(/"msg":"wrapping"/);
    expect(statSync(path.join(env['HOME']!, 'wlogs', 'wrap.log')).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(env['HOME']!, 'trail', 'audit.db'))).toBe(true);
    expect(existsSync(path.join(path.dirname(cfg), '~'))).toBe(false);
  });
});

describe('serve', () => {
  let gw: Running;
  let url: string;
  let sid: string;
  const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

  async function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> | undefined; headers: Headers }> {
    const res = await fetch(url, { method: 'POST', headers: { ...H, ...(sid ? { 'mcp-session-id': sid } : {}), ...headers }, body });
    const t = await res.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(t) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, headers: res.headers };
  }

  const call = (id: number, name: string, args: Record<string, unknown> = {}) => post(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }));
  const alive = async (id: number) => {
    const r = await call(id, 'echo', { text: `ok ${id}` });
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.json)).toContain(`echo: ok ${id}`);
  };
  const error = (r: { json: Record<string, unknown> | undefined }) => r.json?.['error'] as { code: number; message: string } | undefined;

  async function initialize(): Promise<void> {
    sid = '';
    const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
    expect(r.status).toBe(200);
    sid = r.headers.get('mcp-session-id')!;
    expect(sid).toMatch(/^[\x21-\x7e]{32,}$/);
    expect((await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))).status).toBe(202);
  }

  beforeAll(async () => {
    gw = await startServe(`servers:\n  fault:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(FAULT)}]\n${LIMITS}`);
    url = `${gw.url}/fault/mcp`;
    await initialize();
  });

  afterAll(async () => {
    expect(await gw.stop()).toBe(0);
  });

  it('answers invalid JSON with 400 -32700', async () => {
    const r = await post('{"jsonrpc":');
    expect([r.status, error(r)?.code]).toEqual([400, -32700]);
    await alive(1);
  });

  it('refuses duplicate keys, deep nesting and bad envelopes with 400 -32600', async () => {
    for (const body of ['{"jsonrpc":"2.0","id":2,"id":3,"method":"ping"}', deepRequest(4, 1000), '{"jsonrpc":"2.0","id":5,"method":"x","params":[]}']) {
      const r = await post(body);
      expect([r.status, error(r)?.code]).toEqual([400, -32600]);
    }
    await alive(6);
  });

  it('refuses a 20 MB body with 413', async () => {
    const r = await post(bigRequest(7, MB20));
    expect([r.status, error(r)?.code]).toEqual([413, -32012]);
    await alive(8);
  });

  it('refuses a wrong content type (415) and an Accept without event streams (406)', async () => {
    expect((await post('{}', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('{}', { accept: 'application/json' })).status).toBe(406);
  });

  it('checks the session: missing 400, unknown 404; GET without one is 405', async () => {
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' });
    const saved = sid;
    sid = '';
    expect((await post(ping)).status).toBe(400);
    expect((await post(ping, { 'mcp-session-id': 'no-such-session' })).status).toBe(404);
    sid = saved;
    expect((await fetch(url, { method: 'GET', headers: { accept: 'text/event-stream' } })).status).toBe(405);
  });

  it("a server's error that reads like a scope refusal is relayed as it is: no 403, no challenge of its making, no crash", async () => {
    // The client's token never reaches the server; a 403 would have the client ask its authorization server for
    // scopes the server named, and a line break in one ended the gateway (writeHead threw).
    for (const [i, scope] of ['admin:everything', 'a\r\nset-cookie: x=1', 'x", resource_metadata="https://evil.example/m'].entries()) {
      const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 40 + i, method: 'x/scope_error', params: { scope } }));
      expect(r.status).toBe(200);
      expect(r.headers.get('www-authenticate')).toBeNull();
      expect(r.headers.get('set-cookie')).toBeNull();
      expect(error(r)?.code).toBe(-32001);
    }
    await alive(44);
  });

  it('refuses a foreign Host or Origin with 403 (DNS rebinding)', async () => {
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'ping' });
    expect((await post(ping, { origin: 'https://evil.example' })).status).toBe(403);
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve) => {
      const u = new URL(url);
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...H, host: 'evil.example', 'mcp-session-id': sid } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.end(ping);
    });
    expect(status).toBe(403);
    expect((await post(ping, { origin: new URL(url).origin })).status).toBe(200);
  });

  it('times out a request the server never answers', async () => {
    const r = await call(11, 'hang');
    expect(error(r)?.code).toBe(-32001);
    await alive(12);
  });

  it('skips garbage from the server and still answers', async () => {
    expect(JSON.stringify((await call(13, 'garbage')).json)).toContain('after garbage');
    await alive(14);
  });

  it('fails the call in flight when the server dies, ends the session, and a new one works', async () => {
    const pid = Number(((await call(15, 'pid')).json?.['result'] as { content: { text: string }[] }).content[0]!.text);
    const inflight = call(16, 'hang');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 'SIGKILL');
    const r = await inflight;
    expect(error(r)?.code).toBe(-32011);
    await new Promise((r2) => setTimeout(r2, 200));
    expect((await call(17, 'echo')).status).toBe(404);
    await initialize();
    await alive(18);
  });

  it('is still healthy', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});
