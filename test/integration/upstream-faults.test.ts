/**
 * Issue 9 (faults): a remote upstream that answers 500, 404, nothing at all, or is not there; an identity provider
 * whose JWKS endpoint goes down or stalls. Every request gets an answer within its timeout, the proxy keeps
 * running, and an unusable key source means refusal (503/401), never an unchecked pass.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL, freePort, isolatedEnv, NODE, ROOT, startServe, wrapArgs, writeConfig } from '../helpers/cli.js';
import { RawStdio } from '../helpers/raw.js';
import { auditEvents } from '../helpers/audit.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');

describe('a misbehaving HTTP upstream, through wrap --url', () => {
  const seen: { version?: string | string[]; method?: string | string[] }[] = [];
  let srv: http.Server;
  let base: string;
  beforeAll(async () => {
    srv = http.createServer((req, res) => {
      if (req.url?.startsWith('/500')) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error with a stack trace');
      else if (req.url?.startsWith('/404')) res.writeHead(404).end();
      else if (req.url?.startsWith('/garbage')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":');
      else if (req.url?.startsWith('/badversion')) {
        // Answers like a server, but its initialize names a version no header can carry; records what it was sent.
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          if (req.method !== 'POST') return void res.writeHead(405).end();
          seen.push({ version: req.headers['mcp-protocol-version'], method: req.headers['mcp-method'] });
          const m = JSON.parse(body) as { id?: number; method: string };
          if (m.id === undefined) return void res.writeHead(202).end();
          const result = m.method === 'initialize' ? { protocolVersion: '2025-11-25\u4e2d\r\nx-injected: 1', capabilities: { tools: {} }, serverInfo: { name: 'odd', version: '1' } } : { tools: [] };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
        });
      }
      // /nothing: never answers
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    srv.closeAllConnections();
    srv.close();
  });

  async function initializeThrough(url: string): Promise<{ code: number | undefined; message: string; ms: number; peer: RawStdio }> {
    const cfg = writeConfig(`limits: { request_timeout_s: 2 }\npolicy: [${JSON.stringify(ALLOW_ALL)}]\npins: false\naudit: { enabled: false }\nservers:\n  remote: { url: ${JSON.stringify(url)}, auth: { type: header, name: X-Unused, value: none } }\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--name', 'remote'), isolatedEnv());
    const t = Date.now();
    const r = await peer.request(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'f', version: '1' } }, 15_000);
    return { code: r.error?.code, message: r.error?.message ?? '', ms: Date.now() - t, peer };
  }

  it.each([
    ['/500/mcp', /HTTP 500/],
    ['/404/mcp', /404|not found|session/i],
    ['/garbage/mcp', /invalid|parse|JSON/i],
  ])('%s: the request gets a JSON-RPC error naming the cause, and the proxy keeps running', async (p, why) => {
    const { code, message, peer } = await initializeThrough(`${base}${p}`);
    expect(code).toBeDefined();
    expect(message).toMatch(why);
    expect(message).not.toContain('stack trace');
    const again = await peer.request(2, 'ping', {}, 15_000);
    expect(again.error ?? again.result).toBeDefined();
    expect(await peer.close()).toBe(0);
  });

  it('an initialize answer whose version no header can carry does not end the proxy, and is not sent back', async () => {
    // Before: the next request set MCP-Protocol-Version to it, http.request threw, and wrap exited (1).
    const { code, peer } = await initializeThrough(`${base}/badversion/mcp`);
    expect(code).toBeUndefined();
    peer.send({ method: 'notifications/initialized' });
    const list = await peer.request(2, 'tools/list', {}, 15_000);
    expect(list.result).toEqual({ tools: [] });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((h) => h.version === undefined || h.version === '2025-11-25')).toBe(true);
    expect(await peer.close()).toBe(0);
  });

  it('a 2026 request whose method no header can carry is refused (-32600), and the proxy keeps running', async () => {
    // Before: Mcp-Method was set to it, http.request threw, and wrap exited (1) with the caller's request unanswered.
    const { peer } = await initializeThrough(`${base}/badversion/mcp`);
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'f', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} };
    const before = seen.length;
    const r = await peer.request(3, 'x/\u4e2d\u6587', { _meta: meta }, 15_000);
    expect(r.error?.code).toBe(-32600);
    expect(r.error?.message).toMatch(/Mcp-Method/);
    expect(seen.length).toBe(before);
    const again = await peer.request(4, 'ping', {}, 15_000);
    expect(again.error ?? again.result).toBeDefined();
    expect(await peer.close()).toBe(0);
  });

  it('an upstream that never answers: an error within the request timeout', async () => {
    const { code, ms, peer } = await initializeThrough(`${base}/nothing/mcp`);
    expect(code).toBeDefined();
    expect(ms).toBeLessThan(10_000);
    expect(await peer.close()).toBe(0);
  });

  it('an upstream that is not there: "unreachable", at once, with the reason (wrap\'s user is the local user)', async () => {
    const port = await freePort();
    const { code, message, peer } = await initializeThrough(`http://127.0.0.1:${port}/mcp`);
    expect(code).toBe(-32011);
    expect(message).toBe(`Upstream unreachable: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(await peer.close()).toBe(0);
  });

  it('an upstream that loses its session while the token file is gone: the session ends with the reason, no crash', async () => {
    // A server that gives each initialize a session and answers 404 for it once the tool "lose" was called.
    let lost = false;
    let sessions = 0;
    const up = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.method !== 'POST') return void res.writeHead(405).end();
        const m = JSON.parse(body) as { id?: number; method: string; params?: { name?: string } };
        if (m.method === 'initialize') {
          lost = false;
          sessions++;
          const result = { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'up', version: '1' } };
          return void res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': `s${sessions}` }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
        }
        if (m.id === undefined) return void res.writeHead(202).end();
        if (m.params?.name === 'lose') lost = true;
        if (lost) return void res.writeHead(404).end();
        const result = m.method === 'tools/list' ? { tools: [{ name: 'echo', inputSchema: { type: 'object' } }, { name: 'lose', inputSchema: { type: 'object' } }] } : { content: [{ type: 'text', text: 'ok' }] };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    const dir = mkdtempSync(path.join(tmpdir(), 'mcpw-lost-'));
    const token = path.join(dir, 'token');
    writeFileSync(token, 'upstream-token\n');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`servers:\n  up:\n    url: http://127.0.0.1:${(up.address() as AddressInfo).port}/mcp\n    auth: { type: bearer, token_file: ${JSON.stringify(token)} }\naudit: { db: ${JSON.stringify(db)} }\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg), isolatedEnv({ MCP_WARDEN_LOG_LEVEL: 'error' }));
    try {
      await peer.initialize();
      expect((await peer.call(2, 'echo')).result).toBeDefined();
      rmSync(token);
      // The upstream answers 404: wrap starts it again, and making the new connection reads the token file.
      expect((await peer.call(3, 'lose')).error?.message).toMatch(/HTTP 404/);
      // Before: an uncaught ENOENT from the restart ended wrap with a stack trace and no session_end.
      expect(await peer.exitedWithin(15_000)).toBe(1);
      expect(peer.stderr).toContain(`upstream restart failed`);
      expect(peer.stderr).not.toMatch(/\n\s+at /);
    } finally {
      up.close();
    }
    const [end] = auditEvents(db, { event: 'session_end' });
    expect(end?.reason).toBe(`upstream restart failed: ENOENT: no such file or directory, open '${token}'`);
  });
});

describe('an identity provider whose JWKS endpoint fails', () => {
  let jwks: http.Server;
  let mode: 'ok' | 'down' | 'stall' = 'ok';
  let key: jose.CryptoKey;
  let publicJwk: jose.JWK;

  beforeAll(async () => {
    const kp = await jose.generateKeyPair('ES256', { extractable: true });
    key = kp.privateKey;
    publicJwk = { ...(await jose.exportJWK(kp.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = http.createServer((_req, res) => {
      if (mode === 'ok') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
      else if (mode === 'down') res.writeHead(503).end();
      // stall: never answers
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(() => {
    jwks.closeAllConnections();
    jwks.close();
  });

  const token = (kid = 'k1') => {
    const now = Math.floor(Date.now() / 1000);
    return new jose.SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer('https://idp.test').setAudience('gw').setIssuedAt(now).setExpirationTime(now + 300).sign(key);
  };

  async function call(url: string, t: string): Promise<number> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${t}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'j', version: '1' } } }),
      signal: AbortSignal.timeout(20_000),
    });
    await res.text();
    return res.status;
  }

  it('down from the start: every request refused (503), never let through', async () => {
    mode = 'down';
    const uri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    const gw = await startServe(`servers:\n  d: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }\nauth: { issuer: https://idp.test, jwks_uri: ${uri}, audiences: [gw], algorithms: [ES256] }\npolicy: [${JSON.stringify(ALLOW_ALL)}]\npins: false\naudit: { enabled: false }\n`);
    try {
      for (let i = 0; i < 3; i++) expect(await call(`${gw.url}/d/mcp`, await token())).toBe(503);
      // It comes back: the next request is checked and served.
      mode = 'ok';
      await new Promise((r) => setTimeout(r, 1500));
      expect(await call(`${gw.url}/d/mcp`, await token())).toBe(200);
      // It goes down again: cached keys keep working for known kids; an unknown kid is refused.
      mode = 'down';
      expect(await call(`${gw.url}/d/mcp`, await token())).toBe(200);
      const unknown = await call(`${gw.url}/d/mcp`, await token('k2'));
      expect([401, 503]).toContain(unknown);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('stalled: requests are refused within the key-fetch timeout, not held forever', async () => {
    mode = 'stall';
    const uri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    const gw = await startServe(`servers:\n  d: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }\nauth: { issuer: https://idp.test, jwks_uri: ${uri}, audiences: [gw], algorithms: [ES256] }\npolicy: [${JSON.stringify(ALLOW_ALL)}]\npins: false\naudit: { enabled: false }\n`);
    try {
      const t = Date.now();
      const status = await call(`${gw.url}/d/mcp`, await token());
      expect(status).toBe(503);
      expect(Date.now() - t).toBeLessThan(15_000);
    } finally {
      await gw.stop();
    }
  }, 60_000);
});
