/**
 * The HTTP upstream when its credentials cannot be had (a token endpoint down, a caller's token expired): the
 * message that needed them fails with the reason, and nothing rejects unhandled (which would end the process, and
 * with it every session of `serve`; vitest reports one as an error of the run).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpUpstream } from '../../src/transports/http-client.js';
import type { Logger } from '../../src/log/logger.js';
import type { Principal } from '../../src/pipeline/types.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

function listen(handler: http.RequestListener): Promise<string> {
  const srv = http.createServer(handler);
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`)));
}

function recorder(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => undefined;
  const log = { info: noop, debug: noop, error: noop, warn: (_o: unknown, m: string) => warnings.push(m) } as unknown as Logger;
  return { log, warnings };
}

/** Credentials that work `good` times, then fail as a token endpoint that went down. */
function flaky(good: number): () => Promise<Record<string, string>> {
  let n = 0;
  return async () => {
    if (n++ >= good) throw new Error('token endpoint unreachable');
    return { authorization: 'Bearer upstream-token' };
  };
}

describe('HTTP upstream without credentials', () => {
  it('legacy HTTP+SSE: a request whose credentials fail is answered with the reason', { timeout: 10_000 }, async () => {
    const posts: string[] = [];
    const base = await listen((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: endpoint\ndata: /message\n\n');
        return;
      }
      posts.push(req.url ?? '');
      res.writeHead(202).end();
    });
    const { log } = recorder();
    const up = new HttpUpstream({ url: `${base}/sse`, transport: 'sse', headers: {}, maxMessageBytes: 1 << 20, requestTimeoutMs: 5000, log, server: 'remote', credentials: flaky(1) });
    const failed = new Promise<string>((resolve) => (up.onrequestfailed = (_id, f) => resolve(`${f.message}: ${f.detail}`)));
    await up.start();
    up.send('{"jsonrpc":"2.0","id":7,"method":"ping"}', { kind: 'request', method: 'ping', upId: 7, era: 'legacy' });
    expect(await failed).toBe('Could not obtain upstream credentials: token endpoint unreachable');
    await new Promise((r) => setTimeout(r, 50));
    expect(posts).toEqual([]);
    await up.close();
  });

  it('Streamable HTTP: the GET stream whose credentials fail is retried later, not left to reject', async () => {
    const gets: number[] = [];
    const base = await listen((req, res) => {
      if (req.method === 'GET') {
        gets.push(1);
        res.writeHead(405).end();
        return;
      }
      if (req.method === 'DELETE') return void res.writeHead(200).end();
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const m = JSON.parse(body) as { id?: number; method: string };
        if (m.id === undefined) return void res.writeHead(202).end();
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'up-session-1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'x', version: '1' } } }));
      });
    });
    const { log, warnings } = recorder();
    // initialize and notifications/initialized get credentials; the GET stream after them does not.
    const up = new HttpUpstream({ url: `${base}/mcp`, transport: 'streamable-http', headers: {}, maxMessageBytes: 1 << 20, requestTimeoutMs: 5000, log, server: 'remote', credentials: flaky(2) });
    const answered = new Promise<string>((resolve) => (up.onmessage = (t) => resolve(t)));
    await up.start();
    up.send('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}', { kind: 'request', method: 'initialize', upId: 1, era: 'legacy' });
    expect(await answered).toContain('"protocolVersion"');
    up.send('{"jsonrpc":"2.0","method":"notifications/initialized"}', { kind: 'notification', method: 'notifications/initialized', upId: undefined, era: 'legacy' });
    for (let i = 0; i < 40 && !warnings.length; i++) await new Promise((r) => setTimeout(r, 25));
    expect(warnings).toContain('could not obtain upstream credentials for the GET stream');
    expect(gets).toEqual([]);
    await up.close();
  });
});

describe('HTTP upstream that answers 401', () => {
  it('asks for a fresh credential for the caller the request was sent for, then sends it once more', async () => {
    const auths: string[] = [];
    const base = await listen((req, res) => {
      auths.push(String(req.headers.authorization));
      req.resume();
      req.on('end', () => {
        if (req.headers.authorization === 'Bearer stale') return void res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":3,"result":{}}');
      });
    });
    const { log } = recorder();
    const alice = { sub: 'alice', kind: 'oauth', scopes: [], claims: {} } as Principal;
    let token = 'stale';
    const asked: (Principal | undefined)[] = [];
    const up = new HttpUpstream({
      url: `${base}/mcp`,
      transport: 'streamable-http',
      headers: {},
      maxMessageBytes: 1 << 20,
      requestTimeoutMs: 5000,
      log,
      server: 'remote',
      credentials: async () => ({ authorization: `Bearer ${token}` }),
      unauthorized: async (_challenge, principal) => {
        asked.push(principal);
        token = 'fresh';
        return true;
      },
    });
    const answered = new Promise<string>((resolve) => (up.onmessage = (t) => resolve(t)));
    await up.start();
    up.send('{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{}}}', { kind: 'request', method: 'tools/list', upId: 3, era: 'modern', principal: alice });
    expect(await answered).toContain('"result"');
    expect(asked).toEqual([alice]);
    expect(auths).toEqual(['Bearer stale', 'Bearer fresh']);
    await up.close();
  });
});
