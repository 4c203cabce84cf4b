import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { blankEvent, newEventId } from '../../src/audit/writer.js';
import { loadOrCreateKey } from '../../src/audit/keys.js';
import { AuditStore, WRITER_CACHE_KIB } from '../../src/audit/store.js';
import { canonicalEvent, canonicalJson, chainHash, EVENT_FIELDS, GENESIS, macFunction } from '../../src/audit/chain.js';
import { eachEvent, eventSpan, query, scorecard, type Filters } from '../../src/audit/read.js';
import { buildReportData } from '../../src/audit/report.js';
import { verifyStore, type VerifyResult } from '../../src/audit/verify.js';

/** Runs `test` with a fresh folder, removed afterwards. */
function inTempDir(prefix: string, test: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    test(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the audit MAC', () => {
  it('is exactly HMAC-SHA-256', () => {
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(32);
      const h = randomBytes(32).toString('hex');
      expect(macFunction(key)(h)).toBe(createHmac('sha256', key).update(h, 'hex').digest('hex'));
    }
  });
});

describe('the chain hash', () => {
  it('covers the position and every field', () => {
    const e = blankEvent('exchange');
    const base = chainHash(GENESIS, 1, e);
    expect(chainHash(GENESIS, 2, e)).not.toBe(base);
    expect(chainHash('1'.repeat(64), 1, e)).not.toBe(base);
    for (const k of ['server', 'target', 'status', 'reason', 'extra'] as const) expect(chainHash(GENESIS, 1, { ...e, [k]: 'x' })).not.toBe(base);
    expect(chainHash(GENESIS, 1, { ...e, latency_ms: 1.5 })).not.toBe(chainHash(GENESIS, 1, { ...e, latency_ms: 1.50001 }));
  });

  it('the canonical event is seq and every field in schema order, null for what is missing', () => {
    const e = { ...blankEvent('exchange'), server: 'files', latency_ms: 0.25, bytes_in: 0, extra: '{"a":1}', args: 'é\u2028"' };
    const reference = (seq: number, ev: Record<string, unknown>) => JSON.stringify([seq, ...EVENT_FIELDS.map((f) => ev[f] ?? null)]);
    expect(canonicalEvent(7, e)).toBe(reference(7, e));
    const sparse = { id: 'x', ts: 't', event: 'e' } as unknown as Parameters<typeof canonicalEvent>[1];
    expect(canonicalEvent(1, sparse)).toBe(reference(1, sparse as unknown as Record<string, unknown>));
    expect(JSON.parse(canonicalEvent(3, e))).toHaveLength(EVENT_FIELDS.length + 1);
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":2,"y":1}]},"b":1}');
  });
});

describe('event ids and times', () => {
  it('ids have the UUID version 7 layout, carry their millisecond, sort in order and do not repeat', () => {
    const ms = Date.UTC(2026, 11, 1, 1, 2, 3, 456);
    const ids = Array.from({ length: 5000 }, (_, i) => newEventId(ms + Math.floor(i / 1000)));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(ids[0]!.replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
    expect(parseInt(ids[4999]!.replace(/-/g, '').slice(0, 12), 16)).toBe(ms + 4);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("an event's time is its millisecond in RFC 3339, also for fractional and shared milliseconds", () => {
    const ms = Date.UTC(2026, 11, 1, 1, 2, 3, 456);
    expect(blankEvent('x', ms + 0.9).ts).toBe('2026-12-01T01:02:03.456Z');
    expect(blankEvent('x', ms).ts).toBe('2026-12-01T01:02:03.456Z');
    expect(blankEvent('x', new Date(ms + 1)).ts).toBe('2026-12-01T01:02:03.457Z');
    expect(blankEvent('x', ms).ts).toBe('2026-12-01T01:02:03.456Z');
  });
});

describe('the audit store connection', () => {
  it('an appending connection keeps a small page cache; a reading one keeps the driver default', () => {
    inTempDir('mcpw-cache-', (dir) => {
      const file = path.join(dir, 'audit.db');
      const writer = new AuditStore(file);
      const key = loadOrCreateKey(path.join(dir, 'key.pem'));
      writer.append([blankEvent('exchange')], key);
      // Negative: KiB. better-sqlite3's default is -16000 (16 MB), which a busy proxy filled with pages it never reads.
      expect(writer.db.pragma('cache_size', { simple: true })).toBe(-WRITER_CACHE_KIB);
      expect(WRITER_CACHE_KIB).toBeLessThanOrEqual(4096);
      const reader = new AuditStore(file, { readonly: true });
      expect(reader.db.pragma('cache_size', { simple: true })).toBe(-16000);
      reader.close();
      writer.close();
    });
  });
});

describe('reading a trail for the report and the scorecard', () => {
  it('the span and the narrow passes give what reading every column of every row gives, with filters and a limit', () => {
    inTempDir('mcpw-read-', (dir) => {
      const store = new AuditStore(path.join(dir, 'audit.db'));
      const key = loadOrCreateKey(path.join(dir, 'key'));
      const t0 = Date.parse('2026-11-01T00:00:00Z');
      store.append(
        Array.from({ length: 400 }, (_, i) => ({
          ...blankEvent(i % 7 === 0 ? 'session_start' : 'exchange', t0 + i * 60_000),
          server: `s${i % 3}`,
          method: 'tools/call',
          target: `t${i % 5}`,
          principal_sub: `u${i % 4}`,
          status: i % 11 === 0 ? 'denied' : i % 13 === 0 ? 'error' : 'ok',
          decision: i % 11 === 0 ? 'deny' : 'allow',
          rule: i % 11 === 0 ? 'r1' : null,
          latency_ms: (i * 37) % 101,
          bytes_out: i * 3,
          redactions: i % 9 === 0 ? '{"email":2}' : null,
        })),
        key,
      );
      for (const f of [{}, { since: '2026-11-01T02:00:00Z', until: '2026-11-01T05:00:00Z' }, { decision: 'deny' }, { server: 's1', limit: 40 }, { principal: 'nobody' }] as Filters[]) {
        const all = query(store, f);
        const span = eventSpan(store, f);
        expect(span.count).toBe(all.length);
        expect(span.from).toBe(all[0]?.ts);
        expect(span.to).toBe(all.at(-1)?.ts);
        // The report's pass and the scorecard read a few columns; their rows agree with the full ones on those.
        const cols = ['ts', 'event', 'principal_sub', 'redactions', 'server', 'target', 'status', 'latency_ms', 'bytes_out'] as const;
        const narrow = [...eachEvent(store, f, 'asc', cols)];
        expect(narrow.map((e) => cols.map((c) => e[c]))).toEqual(all.map((e) => cols.map((c) => e[c])));
        expect(narrow.every((e) => e.hash === null && e.args === null)).toBe(true);
        const exchanges = query(store, { ...f, event: 'exchange' });
        const rows = scorecard(store, f);
        const sum = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((n, r) => n + pick(r), 0);
        expect(sum((r) => r.calls)).toBe(exchanges.length);
        expect(sum((r) => r.errors)).toBe(exchanges.filter((e) => e.status === 'error').length);
        expect(sum((r) => r.denials)).toBe(exchanges.filter((e) => e.status === 'denied').length);
        expect(Math.round(sum((r) => r.meanBytes * r.calls))).toBe(exchanges.reduce((n, e) => n + (e.bytes_out ?? 0), 0));
        expect(new Set(rows.map((r) => `${r.server}/${r.tool}`))).toEqual(new Set(exchanges.map((e) => `${e.server}/${e.target}`)));
        for (const r of rows) {
          const lat = exchanges.filter((e) => e.server === r.server && e.target === r.tool).map((e) => e.latency_ms!);
          expect(r.p95).toBe([...lat].sort((a, b) => a - b)[Math.min(lat.length - 1, Math.floor(0.95 * lat.length))]);
        }
        // The report's own pass: its charts count what the rows hold.
        const d = buildReportData(store, { ok: true } as VerifyResult, f) as Record<string, { labels: string[]; values: number[]; datasets?: { data: number[] }[] }> & { events: number; from?: string; to?: string; incidents: string[][] };
        const total = (c: { values: number[] }) => c.values.reduce((n, v) => n + v, 0);
        expect([d.events, d.from, d.to]).toEqual([all.length, all[0]?.ts, all.at(-1)?.ts]);
        expect(total(d['principals']!)).toBe(all.length);
        expect(total(d['redactions']!)).toBe(2 * all.filter((e) => e.redactions).length);
        // (A limit applies to the events before the report picks the exchanges among them.)
        const shown = all.filter((e) => e.event === 'exchange');
        expect(total(d['tools']!)).toBe(shown.length);
        expect(total(d['denials']!)).toBe(shown.filter((e) => e.status === 'denied').length);
        expect(d['callsOverTime']!.datasets!.flatMap((x) => x.data).reduce((n, v) => n + v, 0)).toBe(shown.length);
        expect(d.incidents.length).toBe(Math.min(50, shown.filter((e) => e.status !== 'ok').length));
      }
      store.close();
    });
  });
});

describe('verify of a trail a proxy is writing to', () => {
  it('a checkpoint appended to the anchor file while the chain is walked is not taken for a truncated log', () => {
    inTempDir('mcpw-live-', (dir) => {
      const db = path.join(dir, 'audit.db');
      const anchor = path.join(dir, 'anchor');
      const key = loadOrCreateKey(path.join(dir, 'key'));
      const writer = new AuditStore(db);
      const batch = () => Array.from({ length: 10 }, () => ({ ...blankEvent('exchange'), server: 'live', status: 'ok' }));
      const anchorNow = () => {
        const cp = writer.checkpoint(key)!;
        appendFileSync(anchor, `${JSON.stringify({ origin: writer.origin, ...cp })}\n`);
      };
      writer.append(batch(), key);
      anchorNow();
      const reader = new AuditStore(db, { readonly: true });
      // The proxy writes more events, a checkpoint and its anchor line while verify is walking the chain (the walk
      // reads one snapshot of the database, so it does not see them).
      const walk = reader.iterate.bind(reader);
      let wrote = false;
      reader.iterate = function* (from?: number) {
        for (const e of walk(from)) {
          yield e;
          if (!wrote) {
            wrote = true;
            writer.append(batch(), key);
            anchorNow();
          }
        }
      };
      const v = verifyStore(reader, { key, anchorFile: anchor });
      expect(wrote).toBe(true);
      expect(v.problems).toEqual([]);
      expect([v.ok, v.events, v.anchored]).toEqual([true, 10, 1]);
      reader.close();
      // Read again, the trail is whole with both checkpoints.
      const again = new AuditStore(db, { readonly: true });
      expect(verifyStore(again, { key, anchorFile: anchor })).toMatchObject({ ok: true, events: 20, anchored: 2 });
      again.close();
      writer.close();
    });
  });

  it('a report counts the events its verification read, not those the proxy wrote while it was built', () => {
    inTempDir('mcpw-live-report-', (dir) => {
      const db = path.join(dir, 'audit.db');
      const key = loadOrCreateKey(path.join(dir, 'key'));
      const writer = new AuditStore(db);
      const batch = (status: string) => Array.from({ length: 10 }, () => ({ ...blankEvent('exchange'), server: 'live', method: 'tools/call', target: 'echo', status, decision: status === 'denied' ? 'deny' : 'allow' }));
      writer.append(batch('ok'), key);
      writer.append(batch('denied'), key);
      const reader = new AuditStore(db, { readonly: true });
      const v = verifyStore(reader, { key });
      expect([v.ok, v.events, v.head, v.read]).toEqual([true, 20, 20, 20]);
      // Written after the verification, before the report reads the trail.
      writer.append(batch('denied'), key);
      const d = buildReportData(reader, v) as Record<string, { values: number[] }> & { events: number; verify: { summary: string } };
      const total = (c: { values: number[] }) => c.values.reduce((n, x) => n + x, 0);
      expect(d.events).toBe(20);
      expect(total(d['tools']!)).toBe(20);
      expect(total(d['denials']!)).toBe(10);
      expect(d.verify.summary).toContain('chain intact from #1 to #20');
      expect(d['scorecard']).toEqual([['live', 'echo', 20, '0.0', '0.0', 10, expect.any(String), expect.any(String), expect.any(Number), expect.any(Number)]]);
      // Filters still apply within what the verification read.
      expect((buildReportData(reader, v, { decision: 'deny' }) as { events: number }).events).toBe(10);
      // Verified again, the new events count.
      expect((buildReportData(reader, verifyStore(reader, { key })) as { events: number }).events).toBe(30);
      reader.close();
      writer.close();
    });
  });
});
