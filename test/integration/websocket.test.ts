/**
 * Issue 11: WebSocket on both sides. The SDK 1.x WebSocket client transport runs the transparency session through
 * `serve` (/<name>/ws ⇄ stdio child), and through `wrap --url ws://…` and a serve `transport: websocket` upstream
 * against a WebSocket test server; upgrades are authenticated like any request; limits and faults hold.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectClient, type Target } from '../helpers/clients.js';
import { ALLOW_ALL, CLI, EVERYTHING, freePort, isolatedEnv, NODE, ROOT, startServe, stopProcess, tmpDir, waitForStderr, wrapArgs, writeTemp, type Running } from '../helpers/cli.js';
import { everythingSession } from '../helpers/everything-session.js';
import { clientToken, startAs, type TestAs } from '../helpers/oidc.js';

const WS_UPSTREAM = path.join(ROOT, 'test/fixtures/ws-upstream.mjs');
const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'ws-test', version: '1' } } };
const MODERN_META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'ws-test', version: '1' } };

async function startWsUpstream(env: Record<string, string> = {}, ...cmd: string[]): Promise<Running> {
  const proc = spawn(NODE, [WS_UPSTREAM, '--', ...(cmd.length ? cmd : [NODE, EVERYTHING, 'stdio'])], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const { match } = await waitForStderr(proc, /listening on (ws:\/\/\S+)/);
  return { proc, url: match[1]!, stderr: () => '', stop: (sig) => stopProcess(proc, sig) };
}

async function session(target: Target): Promise<Record<string, unknown>> {
  const c = await connectClient('v1', target);
  try {
    return await everythingSession(c);
  } finally {
    await c.close();
  }
}

interface Upgrade {
  ws?: WebSocket;
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
}

/** Opens a WebSocket the way a non-browser client does (it can send headers); resolves with the socket or the refusal. */
function upgrade(url: string, headers: Record<string, string> = {}, protocols: string[] = ['mcp']): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    ws.once('error', (e) => reject(e));
  });
}

/** Sends one JSON-RPC request and waits for the message with its id. */
function rpc(ws: WebSocket, msg: { id: number } & Record<string, unknown>, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(msg).slice(0, 80)}`)), timeoutMs);
    const on = (data: Buffer) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if (m['id'] === msg.id && ('result' in m || 'error' in m)) {
        clearTimeout(t);
        ws.off('message', on);
        resolve(m);
      }
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ jsonrpc: '2.0', ...msg }));
  });
}

function closed(ws: WebSocket, timeoutMs = 15_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve({ code: -1, reason: 'already closed' });
    const t = setTimeout(() => reject(new Error('the connection was not closed')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(t);
      resolve({ code, reason: reason.toString() });
    });
  });
}

function auditEvents(db: string, where = '1=1'): { event: string; server: string | null; transport: string | null; detail: string }[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d
      .prepare(`SELECT event, server, json_extract(extra, '$.transport') AS transport, coalesce(reason, '') || ' ' || coalesce(extra, '') AS detail FROM events WHERE ${where} ORDER BY seq`)
      .all() as never;
  } finally {
    d.close();
  }
}

describe('WebSocket: the transparency session over the SDK 1.x WebSocket client transport', () => {
  let wsUp: Running;
  let gw: Running;
  let baseline: Record<string, unknown>;

  beforeAll(async () => {
    wsUp = await startWsUpstream();
    gw = await startServe(
      `servers:
  everything: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(EVERYTHING)}, stdio] }
  remote: { url: ${JSON.stringify(wsUp.url)}, transport: websocket }
policy: [${JSON.stringify(ALLOW_ALL)}]
pins: false
`,
    );
    baseline = await session({ kind: 'stdio', command: NODE, args: [EVERYTHING, 'stdio'] });
    expect(baseline['server']).toBe('mcp-servers/everything');
    expect(baseline['serverRequests']).toEqual(['elicitation/create', 'roots/list', 'sampling/createMessage']);
  });

  afterAll(async () => {
    await gw?.stop();
    await wsUp?.stop();
  });

  it('directly against the WebSocket test server (the fixture is itself transparent)', async () => {
    expect(await session({ kind: 'ws', url: wsUp.url })).toEqual(baseline);
  });

  it('through serve: WebSocket client ⇄ /everything/ws ⇄ stdio child', async () => {
    expect(await session({ kind: 'ws', url: `${gw.url.replace(/^http/, 'ws')}/everything/ws` })).toEqual(baseline);
  });

  it('through wrap --url ws://… (stdio host ⇄ WebSocket upstream)', async () => {
    expect(await session({ kind: 'stdio', command: NODE, args: wrapArgs('--policy', ALLOW_ALL, '--url', wsUp.url), env: isolatedEnv() })).toEqual(baseline);
  });

  it('through serve to a transport: websocket upstream (Streamable HTTP client ⇄ WebSocket server)', async () => {
    expect(await session({ kind: 'http', url: `${gw.url}/remote/mcp` })).toEqual(baseline);
  });

  it('refuses a client that does not offer the mcp subprotocol, and a plain GET on /ws', async () => {
    const u = await upgrade(`${gw.url.replace(/^http/, 'ws')}/everything/ws`, {}, ['graphql-ws']);
    expect(u.status).toBe(400);
    expect(u.body).toContain('subprotocol');
    const plain = await fetch(`${gw.url}/everything/ws`);
    expect(plain.status).toBe(404);
  });
});

describe('WebSocket: both eras on one connection to serve', () => {
  let gw: Running;
  beforeAll(async () => {
    gw = await startServe(`servers:\n  dual: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }\npolicy: [${JSON.stringify(ALLOW_ALL)}]\npins: false\n`);
  });
  afterAll(async () => gw?.stop());

  it('a 2026-07-28 request with its _meta envelope is answered without a handshake; /ws works with one server', async () => {
    const { ws } = await upgrade(`${gw.url.replace(/^http/, 'ws')}/ws`);
    expect(ws!.protocol).toBe('mcp');
    const list = await rpc(ws!, { id: 7, method: 'tools/list', params: { _meta: MODERN_META } });
    expect((list['result'] as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain('test_simple_text');
    const call = await rpc(ws!, { id: 8, method: 'tools/call', params: { name: 'test_simple_text', arguments: {}, _meta: MODERN_META } });
    expect(JSON.stringify(call['result'])).toContain('text');
    ws!.close();
  });

  it('a legacy initialize handshake works on its own connection', async () => {
    const { ws } = await upgrade(`${gw.url.replace(/^http/, 'ws')}/dual/ws`);
    const init = await rpc(ws!, INIT);
    expect((init['result'] as { protocolVersion: string }).protocolVersion).toBe('2025-11-25');
    ws!.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const list = await rpc(ws!, { id: 2, method: 'tools/list', params: {} });
    expect((list['result'] as { tools: unknown[] }).tools.length).toBeGreaterThan(0);
    // Malformed JSON in a text frame gets a JSON-RPC parse error; the connection stays usable.
    const parseError = new Promise<Record<string, unknown>>((r) => ws!.once('message', (d: Buffer) => r(JSON.parse(d.toString()) as Record<string, unknown>)));
    ws!.send('{"jsonrpc":"2.0","id":3,');
    expect(((await parseError)['error'] as { code: number }).code).toBe(-32700);
    const again = await rpc(ws!, { id: 4, method: 'ping', params: {} });
    expect(again['result']).toEqual({});
    ws!.close();
  });
});

describe('WebSocket: upgrades are authenticated like any request (oidc-provider on loopback)', () => {
  let as: TestAs;
  let gw: ChildProcess;
  let base: string;
  let wsBase: string;
  let auditDb: string;
  let keyedUp: Running;
  let recordFile: string;
  const files = () => `${base}/files/ws`;

  beforeAll(async () => {
    as = await startAs();
    const dir = tmpDir('mcpw-wsauth-');
    recordFile = path.join(dir, 'upgrades.jsonl');
    writeFileSync(recordFile, '');
    writeFileSync(path.join(dir, 'api-key.txt'), 'ws-upstream-key-0123\n');
    keyedUp = await startWsUpstream({ WS_RECORD_HEADERS: recordFile, WS_REQUIRE_HEADER: 'x-api-key:ws-upstream-key-0123' });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    wsBase = `ws://127.0.0.1:${port}`;
    auditDb = path.join(dir, 'audit.db');
    const cfg = writeTemp(
      'gateway.yaml',
      `servers:
  files: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
  notes: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
  keyed: { url: ${JSON.stringify(keyedUp.url)}, auth: { type: header, name: X-Api-Key, value_file: api-key.txt } }
listen: { port: ${port}, public_url: ${base} }
auth: { issuer: ${as.issuer}, scopes_supported: [files:read] }
policy: [${JSON.stringify(ALLOW_ALL)}]
audit: { db: ${JSON.stringify(auditDb)} }
pins: false
`,
      dir,
    );
    gw = spawn(NODE, [CLI, 'serve', '--config', cfg], { env: isolatedEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    await waitForStderr(gw, /mcp-warden serving on/);
  });

  afterAll(async () => {
    if (gw) await stopProcess(gw);
    await keyedUp?.stop();
    await as?.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const cases: { name: string; make: () => Promise<{ headers?: Record<string, string>; query?: string }>; status: number; error?: string | null }[] = [
    { name: 'no token', make: async () => ({}), status: 401, error: null },
    { name: 'malformed token', make: async () => ({ headers: { authorization: 'Bearer not a token' } }), status: 401, error: 'invalid_token' },
    {
      name: 'alg: none',
      make: async () => ({
        headers: bearer(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: as.issuer, aud: files(), sub: 'mallory', exp: now() + 300 })).toString('base64url')}.`),
      }),
      status: 401,
      error: 'invalid_token',
    },
    {
      name: 'bad signature (the issuer kid, another key)',
      make: async () => {
        const { generateKeyPairSync } = await import('node:crypto');
        const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return { headers: bearer(await as.mint({ aud: files(), sub: 'mallory' }, { key: other.privateKey as never })) };
      },
      status: 401,
      error: 'invalid_token',
    },
    { name: 'wrong audience', make: async () => ({ headers: bearer(await as.mint({ aud: 'https://other.example/mcp', sub: 'alice' })) }), status: 401, error: 'invalid_token' },
    { name: 'a token for another server of the gateway', make: async () => ({ headers: bearer(await as.mint({ aud: `${base}/notes/ws`, sub: 'alice' })) }), status: 401, error: 'invalid_token' },
    { name: 'expired', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'alice', iat: now() - 7200, exp: now() - 3600 })) }), status: 401, error: 'invalid_token' },
    { name: 'a token in the query string', make: async () => ({ query: `?access_token=${await clientToken(as, files())}` }), status: 400, error: 'invalid_request' },
  ];

  it.each(cases)('$name → $status before any frame is relayed', async (c) => {
    const m = await c.make();
    const u = await upgrade(`${wsBase}/files/ws${m.query ?? ''}`, m.headers ?? {});
    expect(u.ws).toBeUndefined();
    expect(u.status).toBe(c.status);
    const h = String(u.headers?.['www-authenticate'] ?? '');
    expect(h.startsWith('Bearer ')).toBe(true);
    expect(h).toContain(`resource_metadata="${base}/.well-known/oauth-protected-resource/files/ws"`);
    if (c.error) expect(h).toContain(`error="${c.error}"`);
    else expect(h).not.toContain('error=');
  });

  it('a valid token from a bad Origin → 403', async () => {
    const u = await upgrade(`${wsBase}/files/ws`, { ...bearer(await as.mint({ aud: files(), sub: 'alice' })), origin: 'https://evil.example' });
    expect(u.status).toBe(403);
  });

  it('no refused upgrade started a session or reached the server', () => {
    expect(auditEvents(auditDb, `event = 'session_start'`)).toEqual([]);
  });

  it('the metadata for the /ws endpoint names it as the resource', async () => {
    const doc = (await (await fetch(`${base}/.well-known/oauth-protected-resource/files/ws`)).json()) as { resource: string; authorization_servers: string[] };
    expect(doc.resource).toBe(files());
    expect(doc.authorization_servers).toEqual([as.issuer]);
  });

  it('a valid token (from the AS, for the /mcp resource of the same server) works, and the principal is audited', async () => {
    const token = await clientToken(as, `${base}/files/mcp`);
    const { ws } = await upgrade(`${wsBase}/files/ws`, bearer(token));
    expect(ws).toBeDefined();
    const init = await rpc(ws!, INIT);
    expect(init['result']).toBeDefined();
    ws!.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const call = await rpc(ws!, { id: 2, method: 'tools/call', params: { name: 'test_simple_text', arguments: {} } });
    expect(call['result']).toBeDefined();
    ws!.close();
    await closed(ws!);
    const starts = auditEvents(auditDb, `event = 'session_start'`);
    expect(starts.length).toBe(1);
    expect(starts[0]!.transport).toBe('websocket');
    expect(readFileSync(auditDb).includes(Buffer.from(token.split('.')[2]!))).toBe(false);
  });

  it('a WebSocket upstream gets the configured credential on its upgrade, never the caller token', async () => {
    const token = await as.mint({ aud: `${base}/keyed/ws`, sub: 'alice', scope: 'files:read' });
    const { ws } = await upgrade(`${wsBase}/keyed/ws`, bearer(token));
    const init = await rpc(ws!, INIT);
    expect(init['result']).toBeDefined();
    ws!.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const echo = await rpc(ws!, { id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'through two sockets' } } });
    expect(JSON.stringify(echo['result'])).toContain('through two sockets');
    ws!.close();
    const seen = readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { authorization: string | null; api_key: string | null; protocol: string | null });
    expect(seen.length).toBeGreaterThan(0);
    for (const h of seen) {
      expect(h.api_key).toBe('ws-upstream-key-0123');
      expect(h.authorization).toBeNull();
      expect(h.protocol).toBe('mcp');
    }
    expect(readFileSync(recordFile, 'utf8')).not.toContain(token.slice(-20));
  });

  it('a token that expires ends the connection with close code 4401', async () => {
    const { ws } = await upgrade(`${wsBase}/files/ws`, bearer(await as.mint({ aud: files(), sub: 'alice', exp: now() + 3 })));
    expect(ws).toBeDefined();
    await rpc(ws!, { id: 1, method: 'tools/list', params: { _meta: MODERN_META } });
    const c = await closed(ws!, 10_000);
    expect(c.code).toBe(4401);
    expect(c.reason).toContain('expired');
  });
});

describe('WebSocket limits and faults', () => {
  let gw: Running;
  let wsUp: Running;
  let auditDb: string;

  beforeAll(async () => {
    wsUp = await startWsUpstream();
    const dir = tmpDir('mcpw-wslim-');
    auditDb = path.join(dir, 'audit.db');
    gw = await startServe(
      `servers:
  everything: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(EVERYTHING)}, stdio] }
  dual: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
  remote: { url: ${JSON.stringify(wsUp.url)} }
policy: [${JSON.stringify(ALLOW_ALL)}]
audit: { db: ${JSON.stringify(auditDb)} }
pins: false
limits: { max_message_bytes: 65536, ws_ping_interval_s: 1 }
`,
    );
  });

  afterAll(async () => {
    await gw?.stop();
    await wsUp?.stop();
  });

  const url = (name: string) => `${gw.url.replace(/^http/, 'ws')}/${name}/ws`;

  async function stillServes(): Promise<void> {
    const { ws } = await upgrade(url('dual'));
    const r = await rpc(ws!, { id: 1, method: 'tools/list', params: { _meta: MODERN_META } });
    expect(r['result']).toBeDefined();
    ws!.close();
  }

  it('an oversized frame closes that connection with 1009 and is audited; others are unaffected', async () => {
    const { ws } = await upgrade(url('dual'));
    const done = closed(ws!);
    ws!.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test_simple_text', arguments: { pad: 'x'.repeat(70_000) } } }));
    expect((await done).code).toBe(1009);
    await stillServes();
    const bad = auditEvents(auditDb, `event = 'bad_input' AND json_extract(extra, '$.transport') = 'websocket'`);
    expect(bad.some((e) => String(e.detail).includes('over the limit'))).toBe(true);
  });

  it('a binary frame closes the connection with 1003 and is audited', async () => {
    const { ws } = await upgrade(url('dual'));
    const done = closed(ws!);
    ws!.send(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })), { binary: true });
    const c = await done;
    expect(c.code).toBe(1003);
    expect(c.reason).toContain('binary');
    await stillServes();
    const bad = auditEvents(auditDb, `event = 'bad_input' AND json_extract(extra, '$.transport') = 'websocket'`);
    expect(bad.some((e) => String(e.detail).includes('binary'))).toBe(true);
  });

  it('a client that floods requests and never reads is paused, then cut off; memory stays bounded; others are served', async () => {
    const net = await import('node:net');
    const port = Number(new URL(gw.url).port);
    const rssBefore = await gatewayRss(gw);
    // A raw client: the handshake, then masked text frames as fast as the socket takes them, and no reading at all.
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`GET /everything/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mcp\r\n\r\n`);
    const handshake = await new Promise<string>((r) => sock.once('data', (d: Buffer) => r(d.toString())));
    expect(handshake).toMatch(/^HTTP\/1\.1 101/);
    sock.pause(); // never read again
    const frame = (id: number) => maskedText(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'get-tiny-image', arguments: {}, _meta: MODERN_META } }));
    let sent = 0;
    let closedByProxy = false;
    sock.on('close', () => (closedByProxy = true));
    sock.on('error', () => (closedByProxy = true));
    const deadline = Date.now() + 20_000;
    let peak = rssBefore;
    while (!closedByProxy && Date.now() < deadline) {
      for (let i = 0; i < 200 && sock.writable; i++) {
        if (!sock.write(frame(++sent))) break;
      }
      await new Promise((r) => setTimeout(r, 20));
      if (sent % 2000 < 200) peak = Math.max(peak, await gatewayRss(gw));
    }
    peak = Math.max(peak, await gatewayRss(gw));
    // Others are served while the flood is on (or just after it was cut off).
    await stillServes();
    await new Promise((r) => setTimeout(r, 4000));
    expect(closedByProxy).toBe(true);
    sock.destroy();
    const growth = peak - rssBefore;
    console.log(`flood: ${sent} frames sent, gateway RSS ${(rssBefore / 2 ** 20).toFixed(1)} → peak ${(peak / 2 ** 20).toFixed(1)} MiB`);
    expect(sent).toBeGreaterThan(1000);
    expect(growth).toBeLessThan(64 * 2 ** 20);
  });

  it('a dropped upstream socket fails every in-flight request with a JSON-RPC error, audited', async () => {
    const { ws } = await upgrade(url('remote'));
    const init = await rpc(ws!, INIT);
    expect(init['result']).toBeDefined();
    ws!.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const slow = rpc(ws!, { id: 10, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } } });
    const dropped = rpc(ws!, { id: 11, method: 'tools/call', params: { name: 'echo', arguments: { message: 'drop-the-socket' } } });
    const [a, b] = await Promise.all([slow, dropped]);
    for (const r of [a, b]) {
      expect(r['error']).toBeDefined();
      expect((r['error'] as { code: number }).code).toBe(-32011);
    }
    const c = await closed(ws!);
    expect(c.code).toBe(1011);
    const crash = auditEvents(auditDb, `event IN ('upstream_crash','upstream_exit') AND server = 'remote'`);
    expect(crash.length).toBeGreaterThan(0);
  });
});

/** One masked text frame (clients must mask), with the 16- or 64-bit length forms. */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : len < 65536 ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), Buffer.alloc(4), Buffer.from([(len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255])]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

/** Resident memory of the gateway process (Linux /proc). */
async function gatewayRss(r: Running): Promise<number> {
  const status = readFileSync(`/proc/${r.proc.pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

