/**
 * Issue 9 (amplification): a flood of requests with random tokens turns into a handful of counted audit events,
 * not one row per request, while the total is still exact; the gateway answers every one with 401.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as jose from 'jose';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ALLOW_ALL, NODE, ROOT, startServe, tmpDir } from '../helpers/cli.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');

describe('unauthenticated floods', () => {
  it('2,000 random tokens: every request refused, the audit trail holds a few aggregated rows with the exact count', async () => {
    const dir = tmpDir('mcpw-amp-');
    const { publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await jose.exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] }));
    const db = path.join(dir, 'audit.db');
    const gw = await startServe(`servers:\n  d: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }\nauth: { issuer: https://idp.test, jwks_file: ${JSON.stringify(path.join(dir, 'jwks.json'))}, audiences: [gw] }\npolicy: [${JSON.stringify(ALLOW_ALL)}]\npins: false\naudit: { db: ${JSON.stringify(db)} }\n`);
    const N = 2000;
    const statuses = new Map<number, number>();
    let sent = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (sent < N) {
          sent++;
          const junk = sent % 2 ? `${randomBytes(12).toString('base64url')}.${randomBytes(30).toString('base64url')}.${randomBytes(20).toString('base64url')}` : randomBytes(24).toString('hex');
          const res = await fetch(`${gw.url}/d/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${junk}` }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      }),
    );
    expect(statuses.get(401)).toBe(N);
    expect(await gw.stop()).toBe(0);
    const d = new Database(db, { readonly: true });
    try {
      const rows = d.prepare(`SELECT json_extract(extra, '$.count') AS c, json_extract(extra, '$.aggregated') AS a FROM events WHERE event = 'auth_failure'`).all() as { c: number | null; a: number | null }[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThanOrEqual(10);
      expect(rows.reduce((n, r) => n + (r.a ? r.c! : 1), 0)).toBe(N);
    } finally {
      d.close();
    }
  }, 120_000);
});
