/**
 * `serve` as an OAuth 2.1 resource server in front of stdio and HTTP servers, against a real authorization server
 * (oidc-provider on loopback): discovery, JWT validation, introspection with revocation, RFC 9728 metadata and
 * challenges, an attack table, and upstream credentials that never include the caller's token.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import * as jose from 'jose';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isolatedEnv, NODE, ROOT, startServe, stopProcess, tmpDir, waitForStderr, writeTemp, type Running } from '../helpers/cli.js';
import { clientToken, revoke, startAs, type TestAs } from '../helpers/oidc.js';
import { connectClient } from '../helpers/clients.js';
import { auditEvents } from '../helpers/audit.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'attack', version: '1' } } };
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

const seenTokens = new Set<string>();
function bearer(t: string): Record<string, string> {
  if (t.length > 16) seenTokens.add(t);
  return { authorization: `Bearer ${t}` };
}

/** Parses `Bearer a="b", c="d"` into a map. */
function challenge(h: string | null): Record<string, string> {
  expect(h, 'WWW-Authenticate present').toBeTruthy();
  expect(h!.startsWith('Bearer ')).toBe(true);
  const out: Record<string, string> = {};
  for (const m of h!.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

describe('serve as an OAuth resource server (oidc-provider on loopback)', () => {
  let as: TestAs;
  let gw: Running;
  let base: string;
  let upstream: ReturnType<typeof spawn>;
  let upstreamUrl: string;
  let recordFile: string;
  let auditDb: string;
  let jwksServer: http.Server;
  let jwksDoc: { keys: jose.JWK[] };
  let rotGw: Running;
  const rotKeys: { a?: { priv: jose.CryptoKey; jwk: jose.JWK }; b?: { priv: jose.CryptoKey; jwk: jose.JWK } } = {};

  const files = () => `${base}/files/mcp`;
  const notes = () => `${base}/notes/mcp`;

  beforeAll(async () => {
    as = await startAs({ opaque: (r) => r.includes('/notes/') });
    // An HTTP upstream that records the Authorization header of every request it receives.
    const dir = tmpDir('mcpw-oauth-');
    recordFile = path.join(dir, 'headers.jsonl');
    writeFileSync(recordFile, '');
    const uport = await freePort();
    upstream = spawn(NODE, [DUAL, 'http'], { env: { PATH: process.env['PATH'] ?? '', PORT: String(uport), DUAL_ERA_RECORD_HEADERS: recordFile }, stdio: ['ignore', 'ignore', 'pipe'] });
    await waitForStderr(upstream, /listening on/);
    upstreamUrl = `http://127.0.0.1:${uport}/mcp`;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    auditDb = path.join(dir, 'audit.db');
    const policy = writeTemp(
      'policy.yaml',
      `version: 1
default: deny
rules:
  - id: admin-tool
    effect: allow
    tools: [test_error_handling]
    principal: { scopes: [admin, files:write] }
  - id: simple
    effect: allow
    tools: [test_simple_text]
`,
      dir,
    );
    const yaml = `
servers:
  files: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
  notes: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio], required_scopes: [notes:read] }
  remote:
    url: ${upstreamUrl}
    auth: { type: client_credentials, issuer: ${as.issuer}, client_id: warden-upstream, client_secret: upstream-secret-0123456789, scope: files:read }
  exchanged:
    url: ${upstreamUrl}
    auth: { type: token_exchange, issuer: ${as.issuer}, client_id: warden-upstream, client_secret: upstream-secret-0123456789 }
  keyed:
    url: ${upstreamUrl}
    auth: { type: header, name: X-Api-Key, value_file: api-key.txt }
listen: { port: ${port}, public_url: ${base}, trusted_proxies: [127.0.0.1] }
auth:
  issuer: ${as.issuer}
  scopes_supported: [files:read, files:write, notes:read]
  introspection: { client_id: warden-rs, client_secret: rs-secret-0123456789, cache_s: 2, failure_cache_s: 1, max_per_second: 5 }
policy: [${JSON.stringify(policy)}]
audit: { db: ${JSON.stringify(auditDb)} }
pins: false
`;
    writeFileSync(path.join(dir, 'api-key.txt'), 'static-api-key-for-tests\n');
    const cfg = writeTemp('gateway.yaml', yaml, dir);
    const proc = spawn(NODE, [path.join(ROOT, 'dist/cli/index.js'), 'serve', '--config', cfg], { env: isolatedEnv({ MCP_WARDEN_LOG_LEVEL: 'debug' }), stdio: ['ignore', 'ignore', 'pipe'] });
    const { text } = await waitForStderr(proc, /mcp-warden serving on (http:\/\/\S+)/);
    gw = { proc, url: base, stderr: text, stop: (sig) => stopProcess(proc, sig) };

    // A second gateway whose keys come from a jwks_uri we can rotate.
    const mk = async () => {
      const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
      return { priv: privateKey, jwk: { ...(await jose.exportJWK(publicKey)), alg: 'ES256', use: 'sig' } };
    };
    rotKeys.a = await mk();
    rotKeys.a.jwk.kid = 'a';
    rotKeys.b = await mk();
    rotKeys.b.jwk.kid = 'b';
    jwksDoc = { keys: [rotKeys.a.jwk] };
    jwksServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwksDoc));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
    rotGw = await startServe(`
servers:
  files: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
auth: { issuer: "https://rot.example", authorization_servers: ["https://rot.example"], jwks_uri: ${jwksUri}, jwks_cache_s: 1, jwks_refresh_cooldown_s: 0.5, algorithms: [ES256] }
audit: { enabled: false }
pins: false
`);
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await rotGw?.stop();
    if (upstream) await stopProcess(upstream);
    await as?.close();
    jwksServer?.close();
  });

  it('serves RFC 9728 metadata at the path-inserted URI of every endpoint, with the public resource URI', async () => {
    for (const name of ['files', 'notes']) {
      const res = await fetch(`${base}/.well-known/oauth-protected-resource/${name}/mcp`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc).toMatchObject({ resource: `${base}/${name}/mcp`, authorization_servers: [as.issuer], bearer_methods_supported: ['header'], scopes_supported: ['files:read', 'files:write', 'notes:read'] });
    }
    // Several servers: no root document (it could only name one of them); an unknown server has none either.
    expect((await fetch(`${base}/.well-known/oauth-protected-resource`)).status).toBe(404);
    expect((await fetch(`${base}/.well-known/oauth-protected-resource/nope/mcp`)).status).toBe(404);
    // The Host header never changes the resource (it is refused before, or ignored).
    const spoof = await fetch(`${base}/.well-known/oauth-protected-resource/files/mcp`, { headers: { 'x-forwarded-host': 'evil.example' } });
    expect(((await spoof.json()) as { resource: string }).resource).toBe(`${base}/files/mcp`);
  });

  it('lays out challenges as the MCP authorization examples do', async () => {
    const none = await post(files(), INIT);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/files/mcp", scope="files:read files:write notes:read"`);
    const scoped = await post(notes(), INIT, bearer(await as.mint({ aud: notes(), sub: 'alice', scope: 'files:read' })));
    expect(scoped.status).toBe(403);
    expect(scoped.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", scope="notes:read", resource_metadata="${base}/.well-known/oauth-protected-resource/notes/mcp", error_description="This server needs the scopes: notes:read"`,
    );
    const bad = await post(files(), INIT, bearer(await as.mint({ aud: files(), sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 })));
    expect(bad.headers.get('www-authenticate')).toBe(
      `Bearer error="invalid_token", scope="files:read files:write notes:read", resource_metadata="${base}/.well-known/oauth-protected-resource/files/mcp", error_description="The access token expired"`,
    );
    expect(JSON.parse(bad.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Unauthorized: The access token expired' } });
  });

  it('audits a refusal forwarded by a trusted reverse proxy with the client it names, not what the client claims (auth failures, session starts, bad requests)', async () => {
    // The proxy on 127.0.0.1 appended the address it saw (203.0.113.9); the client had sent its own claim before it.
    expect((await post(files(), INIT, { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' })).status).toBe(401);
    const sources = async (): Promise<string[]> => {
      const db = new Database(auditDb, { readonly: true });
      try {
        return (db.prepare("SELECT json_extract(extra, '$.source') AS s FROM events WHERE event = 'auth_failure'").all() as { s: string | null }[]).map((r) => r.s ?? '');
      } finally {
        db.close();
      }
    };
    let seen: string[] = [];
    for (let i = 0; i < 50 && !seen.includes('203.0.113.9'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await sources();
    }
    expect(seen).toContain('203.0.113.9');
    expect(seen).not.toContain('198.51.100.1');
    expect(new Set(seen)).toEqual(new Set(['127.0.0.1', '203.0.113.9']));
    expect(gw.stderr()).toMatch(/"source":"203\.0\.113\.9"[^\n]*request refused by auth|request refused by auth[^\n]*"source":"203\.0\.113\.9"/);
    // A session's start names where it was opened from, the same way: through the proxy, and directly.
    const token = bearer(await as.mint({ aud: files(), sub: 'dave', scope: 'files:read' }));
    const proxied = await post(files(), INIT, { ...token, 'x-forwarded-for': '198.51.100.1, 203.0.113.10' });
    const direct = await post(files(), INIT, token);
    expect([proxied.status, direct.status]).toEqual([200, 200]);
    const startSource = (sid: string | null): string | undefined => {
      const start = auditEvents(auditDb, { event: 'session_start' }).find((e) => e.session === sid);
      return start && (JSON.parse(start.extra ?? '{}') as { source?: string }).source;
    };
    for (let i = 0; i < 50 && startSource(direct.headers.get('mcp-session-id')) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
    expect(startSource(proxied.headers.get('mcp-session-id'))).toBe('203.0.113.10');
    expect(startSource(direct.headers.get('mcp-session-id'))).toBe('127.0.0.1');
    // A request refused before any session took it (not JSON) is recorded with where it came from as well.
    const notJson = { ...token, 'content-type': 'text/plain' };
    expect((await post(files(), INIT, { ...notJson, 'x-forwarded-for': '198.51.100.1, 203.0.113.11' })).status).toBe(415);
    expect((await post(files(), INIT, notJson)).status).toBe(415);
    const refusedFrom = (): (string | undefined)[] =>
      auditEvents(auditDb, { event: 'bad_input', server: 'files' })
        .filter((e) => e.reason?.startsWith('Unsupported Media Type'))
        .map((e) => (JSON.parse(e.extra ?? '{}') as { source?: string }).source);
    for (let i = 0; i < 50 && refusedFrom().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(new Set(refusedFrom())).toEqual(new Set(['203.0.113.11', '127.0.0.1']));
  });

  it('serves the root document too when a single server is configured', async () => {
    const res = await fetch(`${rotGw.url}/.well-known/oauth-protected-resource`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc['resource']).toBe(`${rotGw.url}/mcp`);
    expect(doc['authorization_servers']).toEqual(['https://rot.example']);
    const named = (await (await fetch(`${rotGw.url}/.well-known/oauth-protected-resource/files/mcp`)).json()) as Record<string, unknown>;
    expect(named['resource']).toBe(`${rotGw.url}/files/mcp`);
  });

  it('discovers the issuer and accepts its JWT access tokens; the principal reaches policy and audit, never the token', async () => {
    const token = await clientToken(as, files(), 'files:read');
    expect(jose.decodeProtectedHeader(token).typ).toBe('at+jwt');
    const client = await connectClient('v1', { kind: 'http', url: files(), headers: bearer(token) });
    try {
      const r = await client.callTool('test_simple_text', {});
      expect(JSON.stringify(r)).toContain('simple text response');
    } finally {
      await client.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    const db = new Database(auditDb, { readonly: true });
    try {
      const rows = db.prepare("SELECT principal_sub, client_id, issuer FROM events WHERE event = 'exchange' AND method = 'tools/call' AND server = 'files'").all() as { principal_sub: string; client_id: string; issuer: string }[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows[0]).toMatchObject({ client_id: 'robot', issuer: as.issuer });
      const all = JSON.stringify(db.prepare('SELECT * FROM events').all());
      expect(all).not.toContain(token);
      expect(all).not.toContain(token.split('.')[2]!);
    } finally {
      db.close();
    }
  });

  it('introspects opaque tokens (cached no longer than cache_s): a revoked token fails within it', async () => {
    const token = await clientToken(as, notes(), 'notes:read');
    expect(token.split('.').length).toBe(1);
    const before = as.introspections();
    const init = await post(notes(), INIT, bearer(token));
    expect(init.status).toBe(200);
    const again = await post(notes(), INIT, bearer(token));
    expect(again.status).toBe(200);
    expect(as.introspections() - before).toBe(1); // the second request was answered from the cache
    await revoke(as, token);
    const t0 = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - t0 < 6000) {
      status = (await post(notes(), INIT, bearer(token))).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(401);
    expect(Date.now() - t0).toBeLessThan(2000 + 1500); // cache_s = 2
  });

  describe('attack table: each refused with the right status and challenge', () => {
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cases: { name: string; make: () => Promise<{ url?: string; headers?: Record<string, string>; method?: string; query?: string }>; status: number; error?: string | null; scope?: string }[] = [
      { name: 'no token', make: async () => ({}), status: 401, error: null },
      { name: 'a Basic credential instead of a bearer token', make: async () => ({ headers: { authorization: 'Basic YWxpY2U6cGFzcw==' } }), status: 401, error: null },
      { name: 'malformed token', make: async () => ({ headers: { authorization: 'Bearer not a token' } }), status: 401, error: 'invalid_token' },
      { name: 'garbage three-part token', make: async () => ({ headers: bearer('eyJhbGciOiJSUzI1NiJ9.e30.AAAA') }), status: 401, error: 'invalid_token' },
      {
        name: 'alg: none',
        make: async () => ({ headers: bearer(`${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: as.issuer, aud: files(), sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 300, scope: 'files:read admin' })).toString('base64url')}.`) }),
        status: 401,
        error: 'invalid_token',
      },
      {
        name: 'HS256 signed with the RSA public key',
        make: async () => {
          const pub = await jose.importJWK(as.publicJwk, 'RS256');
          const pem = await jose.exportSPKI(pub as jose.CryptoKey);
          return { headers: bearer(await as.mint({ aud: files(), sub: 'mallory' }, { alg: 'HS256', key: new TextEncoder().encode(pem) })) };
        },
        status: 401,
        error: 'invalid_token',
      },
      { name: 'HS256 with a guessed secret', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'mallory' }, { alg: 'HS256', key: new TextEncoder().encode('secret') })) }), status: 401, error: 'invalid_token' },
      { name: 'unknown kid (a key the issuer never published)', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'mallory' }, { kid: 'attacker', key: otherKey.privateKey as unknown as jose.CryptoKey })) }), status: 401, error: 'invalid_token' },
      {
        name: 'the issuer kid, signed with another key',
        make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'mallory' }, { key: otherKey.privateKey as unknown as jose.CryptoKey })) }),
        status: 401,
        error: 'invalid_token',
      },
      {
        name: 'a key embedded in the header (jwk)',
        make: async () => {
          const jwk = await jose.exportJWK(otherKey.publicKey as unknown as jose.CryptoKey);
          const now = Math.floor(Date.now() / 1000);
          const t = await new jose.SignJWT({ iss: as.issuer, aud: files(), sub: 'mallory', exp: now + 300 }).setProtectedHeader({ alg: 'RS256', jwk }).sign(otherKey.privateKey as unknown as jose.CryptoKey);
          return { headers: bearer(t) };
        },
        status: 401,
        error: 'invalid_token',
      },
      { name: 'expired', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'alice', iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 })) }), status: 401, error: 'invalid_token' },
      { name: 'not yet valid (nbf)', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'alice', nbf: Math.floor(Date.now() / 1000) + 3600 })) }), status: 401, error: 'invalid_token' },
      { name: 'issued in the future (iat)', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'alice', iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 7200 })) }), status: 401, error: 'invalid_token' },
      { name: 'no exp', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'alice', exp: undefined })) }), status: 401, error: 'invalid_token' },
      { name: 'wrong issuer', make: async () => ({ headers: bearer(await as.mint({ aud: files(), sub: 'alice', iss: 'https://evil.example' })) }), status: 401, error: 'invalid_token' },
      { name: 'wrong audience', make: async () => ({ headers: bearer(await as.mint({ aud: 'https://other.example/mcp', sub: 'alice' })) }), status: 401, error: 'invalid_token' },
      { name: "the upstream's own URL as audience", make: async () => ({ url: `${base}/remote/mcp`, headers: bearer(await as.mint({ aud: upstreamUrl, sub: 'alice' })) }), status: 401, error: 'invalid_token' },
      { name: 'a token for another server of the same gateway', make: async () => ({ headers: bearer(await clientToken(as, `${base}/keyed/mcp`)) }), status: 401, error: 'invalid_token' },
      { name: 'an ID-token-like audience (the client id)', make: async () => ({ headers: bearer(await as.mint({ aud: 'robot', sub: 'alice' })) }), status: 401, error: 'invalid_token' },
      { name: 'a missing scope the server requires', make: async () => ({ url: notes(), headers: bearer(await as.mint({ aud: notes(), sub: 'alice', scope: 'files:read' })) }), status: 403, error: 'insufficient_scope', scope: 'notes:read' },
      { name: 'a token in the query string', make: async () => ({ query: `?access_token=${await clientToken(as, files())}` }), status: 400, error: 'invalid_request' },
      { name: 'a token in the query string and the header', make: async () => ({ query: `?access_token=x`, headers: bearer(await clientToken(as, files())) }), status: 400, error: 'invalid_request' },
      {
        name: 'a tampered payload',
        make: async () => {
          const t = await clientToken(as, files(), 'files:read');
          const [h, p, s] = t.split('.');
          const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
          claims['scope'] = 'files:read files:write admin';
          return { headers: bearer(`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`) };
        },
        status: 401,
        error: 'invalid_token',
      },
      { name: 'an unknown opaque token', make: async () => ({ url: notes(), headers: bearer('opaque-' + 'x'.repeat(40)) }), status: 401, error: 'invalid_token' },
      { name: 'a token longer than max_token_bytes', make: async () => ({ headers: bearer('a'.repeat(9000)) }), status: 401, error: 'invalid_token' },
      { name: 'a GET without a token', make: async () => ({ method: 'GET' }), status: 401, error: null },
      { name: 'a DELETE without a token', make: async () => ({ method: 'DELETE' }), status: 401, error: null },
    ];

    it.each(cases.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
      const m = await c.make();
      const url = (m.url ?? files()) + (m.query ?? '');
      const method = m.method ?? 'POST';
      const res = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'x', ...(m.headers ?? {}) },
        body: method === 'POST' ? JSON.stringify(INIT) : undefined,
      });
      const text = await res.text();
      expect(res.status, text).toBe(c.status);
      const ch = challenge(res.headers.get('www-authenticate'));
      const path = new URL(url).pathname;
      expect(ch['resource_metadata']).toBe(`${base}/.well-known/oauth-protected-resource${path}`);
      if (c.error === null) expect(ch['error']).toBeUndefined();
      else expect(ch['error']).toBe(c.error);
      if (c.scope) expect(ch['scope']).toBe(c.scope);
      else if (c.status === 401) expect(ch['scope']).toBe('files:read files:write notes:read');
      // Nothing of the token is echoed back.
      const sent = m.headers?.authorization?.slice(7);
      if (sent && sent.length > 20) {
        expect(text).not.toContain(sent.slice(-20));
        expect(res.headers.get('www-authenticate')).not.toContain(sent.slice(-20));
      }
    });

    it("another principal's session id is not found; the owner's still works", async () => {
      const alice = await as.mint({ aud: files(), sub: 'alice', scope: 'files:read' });
      const bob = await as.mint({ aud: files(), sub: 'bob', scope: 'files:read' });
      const init = await post(files(), INIT, bearer(alice));
      expect(init.status).toBe(200);
      const sid = init.headers.get('mcp-session-id')!;
      expect(sid.length).toBeGreaterThanOrEqual(32);
      const stolen = await post(files(), LIST, { ...bearer(bob), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      expect(stolen.status).toBe(404);
      const del = await fetch(files(), { method: 'DELETE', headers: { ...bearer(bob), 'mcp-session-id': sid } });
      expect(del.status).toBe(404);
      const own = await post(files(), LIST, { ...bearer(alice), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      expect(own.status).toBe(200);
      expect(own.body).toContain('test_simple_text');
      // The session does not authenticate: the owner's session id without a token is refused.
      const bare = await post(files(), LIST, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      expect(bare.status).toBe(401);
    });

    it('an oversized Authorization header is refused by the HTTP layer (431)', async () => {
      const res = await fetch(files(), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${'a'.repeat(20_000)}` }, body: '{}' }).catch((e: Error) => e);
      if (res instanceof Error) expect(res.message).toMatch(/fetch failed|socket/);
      else expect(res.status).toBe(431);
    });

    it('a scope a policy rule needs for one tool gets 403 insufficient_scope naming every scope it needs', async () => {
      const token = await as.mint({ aud: files(), sub: 'carol', scope: 'files:read files:write' });
      const init = await post(files(), INIT, bearer(token));
      const sid = init.headers.get('mcp-session-id')!;
      await post(files(), { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...bearer(token), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      const call = await post(files(), { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'test_error_handling', arguments: {} } }, { ...bearer(token), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      expect(call.status).toBe(403);
      const ch = challenge(call.headers.get('www-authenticate'));
      expect(ch['error']).toBe('insufficient_scope');
      expect(ch['scope']!.split(' ').sort()).toEqual(['admin', 'files:write']);
      expect(ch['resource_metadata']).toBe(`${base}/.well-known/oauth-protected-resource/files/mcp`);
      // With the scope, the same call goes through.
      const admin = await as.mint({ aud: files(), sub: 'carol', scope: 'files:read files:write admin' });
      const ok = await post(files(), { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'test_error_handling', arguments: {} } }, { ...bearer(admin), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
      expect(ok.status).toBe(200);
    });

    it('a flood of random opaque tokens makes a bounded number of introspection calls', async () => {
      const before = as.introspections();
      const t0 = Date.now();
      const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => post(notes(), INIT, bearer(`flood-${i}-${Math.random().toString(36).slice(2)}`)).then((r) => r.status)));
      const seconds = (Date.now() - t0) / 1000;
      const calls = as.introspections() - before;
      expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(100);
      // max_per_second 5 with a burst of 5.
      expect(calls).toBeLessThanOrEqual(5 + Math.ceil(seconds * 5) + 1);
      // The failures are audited as counted events, not one row each.
      await new Promise((r) => setTimeout(r, 1500));
      const db = new Database(auditDb, { readonly: true });
      try {
        const rows = db.prepare("SELECT count(*) AS n FROM events WHERE event = 'auth_failure'").get() as { n: number };
        expect(rows.n).toBeLessThan(60);
      } finally {
        db.close();
      }
    });

    it('a key rotated out of the JWKS stops working once the keys are fetched again; the new key works', async () => {
      const url = `${rotGw.url}/mcp`;
      const tokenWith = (k: { priv: jose.CryptoKey; jwk: jose.JWK }, sub: string) =>
        new jose.SignJWT({ scope: 'x' }).setProtectedHeader({ alg: 'ES256', kid: k.jwk.kid! }).setIssuer('https://rot.example').setAudience(url).setSubject(sub).setIssuedAt().setExpirationTime('5m').sign(k.priv);
      const a = await tokenWith(rotKeys.a!, 'alice');
      expect((await post(url, INIT, bearer(a))).status).toBe(200);
      jwksDoc = { keys: [rotKeys.b!.jwk] };
      await new Promise((r) => setTimeout(r, 1300));
      const b = await tokenWith(rotKeys.b!, 'bob');
      expect((await post(url, INIT, bearer(b))).status).toBe(200);
      const res = await post(url, INIT, bearer(a));
      expect(res.status).toBe(401);
      expect(challenge(res.headers.get('www-authenticate'))['error']).toBe('invalid_token');
    });
  });

  it('a GET stream opened with a token ends when that token expires', async () => {
    // exp is in whole seconds: 3 s ahead leaves the stream at least 2 s, however slow the setup below.
    const exp = Math.floor(Date.now() / 1000) + 3;
    const short = await as.mint({ aud: files(), sub: 'frank', scope: 'files:read', exp });
    const init = await post(files(), INIT, bearer(short));
    const sid = init.headers.get('mcp-session-id')!;
    await post(files(), { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...bearer(short), 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
    const res = await fetch(files(), { headers: { ...bearer(short), accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } });
    expect(res.status).toBe(200);
    await res.text(); // resolves when the proxy ends the stream
    // Ended at the token's expiry, not before and not long after.
    const ended = Date.now();
    expect(ended).toBeGreaterThan(exp * 1000 - 200);
    expect(ended).toBeLessThan(exp * 1000 + 2000);
  });

  it('no token and no secret reaches the operational log', () => {
    const log = gw.stderr();
    expect(log.length).toBeGreaterThan(0);
    for (const t of seenTokens) expect(log).not.toContain(t.length > 40 ? t.slice(-40) : t);
    expect(log).not.toContain('upstream-secret-0123456789');
    expect(log).not.toContain('rs-secret-0123456789');
    expect(log).not.toContain('static-api-key-for-tests');
  });

  describe('upstream credentials: the caller token never reaches the upstream', () => {
    function recorded(): { method: string; authorization: string | null; api_key: string | null }[] {
      return readFileSync(recordFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { method: string; authorization: string | null; api_key: string | null });
    }

    it('client credentials: the upstream sees the proxy\'s own token, for its own audience', async () => {
      writeFileSync(recordFile, '');
      const caller = await clientToken(as, `${base}/remote/mcp`, 'files:read');
      const client = await connectClient('v1', { kind: 'http', url: `${base}/remote/mcp`, headers: bearer(caller) });
      try {
        expect(JSON.stringify(await client.callTool('test_simple_text', {}))).toContain('simple text response');
      } finally {
        await client.close();
      }
      const seen = recorded();
      expect(seen.length).toBeGreaterThan(1);
      for (const r of seen) {
        expect(r.authorization).not.toBeNull();
        expect(r.authorization).not.toContain(caller);
        const claims = jose.decodeJwt(r.authorization!.slice(7));
        expect(claims.aud).toBe(upstreamUrl);
        expect(claims['client_id']).toBe('warden-upstream');
      }
      expect(new Set(seen.map((r) => r.authorization)).size).toBe(1); // one token, reused
      expect(as.grants['client_credentials']).toBeGreaterThanOrEqual(1);
    });

    it('token exchange: the upstream sees a token exchanged for the caller, with the upstream as audience', async () => {
      writeFileSync(recordFile, '');
      const caller = await as.mint({ aud: `${base}/exchanged/mcp`, sub: 'dave', scope: 'files:read' });
      const before = as.grants['token-exchange'] ?? 0;
      const client = await connectClient('v1', { kind: 'http', url: `${base}/exchanged/mcp`, headers: bearer(caller) });
      try {
        expect(JSON.stringify(await client.callTool('test_simple_text', {}))).toContain('simple text response');
      } finally {
        await client.close();
      }
      const seen = recorded();
      expect(seen.length).toBeGreaterThan(1);
      for (const r of seen) {
        expect(r.authorization).not.toContain(caller);
        const claims = jose.decodeJwt(r.authorization!.slice(7));
        expect(claims).toMatchObject({ sub: 'dave', aud: upstreamUrl, iss: as.issuer, act: { sub: 'warden-upstream' } });
      }
      expect((as.grants['token-exchange'] ?? 0) - before).toBe(1);
    });

    it("token exchange: a call is exchanged with its own caller's token, not the latest token of the same person", async () => {
      // One person, two client apps: a narrow token on a WebSocket (authenticated once, at the upgrade) and a broad
      // token that calls over HTTP after it. The narrow client's call then goes out exchanged from the narrow token.
      const narrowToken = await as.mint({ aud: `${base}/exchanged/ws`, sub: 'gina', scope: 'files:read', client_id: 'app-narrow' });
      const broadToken = await as.mint({ aud: `${base}/exchanged/mcp`, sub: 'gina', scope: 'files:read files:write', client_id: 'app-broad' });
      const ws = new WebSocket(`${base.replace('http', 'ws')}/exchanged/ws`, ['mcp'], { headers: bearer(narrowToken), perMessageDeflate: false });
      const answers = new Map<number, (m: Record<string, unknown>) => void>();
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        if (typeof m['id'] === 'number') answers.get(m['id'])?.(m);
      });
      const ask = (id: number, method: string, params: Record<string, unknown>) =>
        new Promise<Record<string, unknown>>((resolve) => {
          answers.set(id, resolve);
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
        });
      try {
        await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        await ask(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'narrow', version: '1' } });
        ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
        const broad = await connectClient('v1', { kind: 'http', url: `${base}/exchanged/mcp`, headers: bearer(broadToken) });
        try {
          await broad.callTool('test_simple_text', {});
        } finally {
          await broad.close();
        }
        writeFileSync(recordFile, '');
        const r = await ask(2, 'tools/call', { name: 'test_simple_text', arguments: {} });
        expect(JSON.stringify(r['result'])).toContain('simple text response');
      } finally {
        ws.close();
      }
      // The session ends with the socket: wait for its DELETE upstream, so it is not left for the next test to see.
      for (let i = 0; i < 100 && !recorded().some((r) => r.method === 'DELETE'); i++) await new Promise((r) => setTimeout(r, 50));
      const calls = recorded().filter((r) => r.method === 'POST');
      expect(calls.length).toBeGreaterThan(0);
      for (const r of calls) expect(jose.decodeJwt(r.authorization!.slice(7))).toMatchObject({ sub: 'gina', scope: 'files:read' });
    });

    it('a static header from a file: the upstream sees the key and no Authorization at all', async () => {
      writeFileSync(recordFile, '');
      const caller = await as.mint({ aud: `${base}/keyed/mcp`, sub: 'erin', scope: 'files:read' });
      const client = await connectClient('v1', { kind: 'http', url: `${base}/keyed/mcp`, headers: bearer(caller) });
      try {
        await client.callTool('test_simple_text', {});
      } finally {
        await client.close();
      }
      const seen = recorded();
      expect(seen.length).toBeGreaterThan(1);
      for (const r of seen) {
        expect(r.authorization).toBeNull();
        expect(r.api_key).toBe('static-api-key-for-tests');
      }
    });
  });
});

