/**
 * Issue 9: resource limits on `serve`. Slow-loris clients (headers dribbled, never finished) are cut off by the
 * header timeout while other clients are served; a session cap answers 503 with Retry-After and an `overloaded`
 * audit event; oversized headers get 431 and oversized bodies 413 (also covered in faults/oauth tests).
 */
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/clients.js';
import { ALLOW_ALL, NODE, ROOT, startServe, tmpDir, type Running } from '../helpers/cli.js';
import { localIssuer, type LocalIssuer } from '../helpers/jwks.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');

describe('serve resource limits', () => {
  let gw: Running;
  let db: string;
  beforeAll(async () => {
    db = path.join(tmpDir('mcpw-limits-'), 'audit.db');
    gw = await startServe(`servers:
  dual: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio], max_sessions: 3 }
policy: [${JSON.stringify(ALLOW_ALL)}]
pins: false
audit: { db: ${JSON.stringify(db)} }
limits: { max_message_bytes: 65536 }
`);
  });
  afterAll(async () => gw?.stop());

  it('slow-loris connections are closed by the header timeout while others are served', async () => {
    const port = Number(new URL(gw.url).port);
    const sockets: net.Socket[] = [];
    const closedAt: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 150; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.resume(); // read, so the server's close is seen
      s.on('close', () => closedAt.push(Date.now() - t0));
      s.write(`POST /dual/mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
      sockets.push(s);
    }
    const drip = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(`X-Slow-${Math.random().toString(36).slice(2, 6)}: a\r\n`);
    }, 1000);
    try {
      // Meanwhile a normal client is served at once.
      const started = Date.now();
      const health = await fetch(`${gw.url}/healthz`);
      expect(health.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2000);
      const deadline = Date.now() + 20_000;
      while (closedAt.length < sockets.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    } finally {
      clearInterval(drip);
      for (const s of sockets) s.destroy();
    }
    expect(closedAt.length).toBe(150);
    // Closed by the server (headers timeout, 10 s), not by the test's clean-up.
    expect(Math.max(...closedAt)).toBeLessThan(19_000);
    expect(Math.min(...closedAt)).toBeGreaterThan(5_000);
  }, 40_000);

  it('a session cap answers 503 with Retry-After, audited as overloaded', async () => {
    const clients = await Promise.all([0, 1, 2].map(() => connectClient('v1', { kind: 'http', url: `${gw.url}/dual/mcp` })));
    try {
      const res = await fetch(`${gw.url}/dual/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'fourth', version: '1' } } }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32014);
      // The three sessions still work.
      for (const c of clients) expect((await c.callTool('echo', { message: 'ok' }))['content']).toBeDefined();
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    await new Promise((r) => setTimeout(r, 300));
    const d = new Database(db, { readonly: true });
    try {
      expect((d.prepare(`SELECT count(*) AS n FROM events WHERE event = 'overloaded'`).get() as { n: number }).n).toBeGreaterThanOrEqual(1);
    } finally {
      d.close();
    }
  });

  it('an oversized header gets 431 and an oversized body 413', async () => {
    const big = await fetch(`${gw.url}/dual/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-big': 'a'.repeat(20_000) }, body: '{}' });
    expect(big.status).toBe(431);
    const body = await fetch(`${gw.url}/dual/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(70_000) } }) });
    expect(body.status).toBe(413);
  });
});

describe('serve: sessions per caller (max_sessions_per_principal)', () => {
  let gw: Running;
  let issuer: LocalIssuer;
  beforeAll(async () => {
    const dir = tmpDir('mcpw-limits-principal-');
    issuer = await localIssuer(dir);
    gw = await startServe(`servers:
  dual: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio], max_sessions: 10, max_sessions_per_principal: 2 }
${issuer.authYaml}
policy: [${JSON.stringify(ALLOW_ALL)}]
pins: false
audit: { db: ${JSON.stringify(path.join(dir, 'audit.db'))} }
`);
  });
  afterAll(async () => gw?.stop());

  async function open(sub: string): Promise<{ status: number; sid: string | null; token: string; body: string }> {
    const token = await issuer.token({ sub, scope: 'basic' });
    const res = await fetch(`${gw.url}/dual/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: sub, version: '1' } } }),
    });
    return { status: res.status, sid: res.headers.get('mcp-session-id'), token, body: await res.text() };
  }

  it('one caller cannot take every session: past its share it gets 503, others still get theirs', async () => {
    const a1 = await open('alice');
    const a2 = await open('alice');
    expect([a1.status, a2.status]).toEqual([200, 200]);
    const a3 = await open('alice');
    expect(a3.status).toBe(503);
    expect(a3.body).toContain('Too many sessions for dual from this caller (limit 2)');
    const b1 = await open('bob');
    expect(b1.status, b1.body).toBe(200);
    // A session alice ends frees her place.
    const del = await fetch(`${gw.url}/dual/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${a1.token}`, 'mcp-session-id': a1.sid! } });
    expect(del.status).toBeLessThan(300);
    expect((await open('alice')).status).toBe(200);
  });
});
