/**
 * Reading the audit store: filtered queries, exports (JSONL, CSV, OCSF API Activity) and the scorecard.
 */
import { EVENT_FIELDS, type StoredEvent } from './chain.js';
import { csvCell } from './escape.js';
import type { AuditStore } from './store.js';

export interface Filters {
  since?: string;
  until?: string;
  principal?: string;
  server?: string;
  tool?: string;
  decision?: string;
  status?: string;
  event?: string;
  limit?: number;
  /** Events up to this seq only (a report counts the events its verification read, not those written since). */
  throughSeq?: number;
}

function selection(f: Filters, what: string, order: 'asc' | 'desc' | undefined): { sql: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const add = (sql: string, key: string, value: unknown) => {
    if (value === undefined) return;
    where.push(sql);
    params[key] = value;
  };
  add('ts >= @since', 'since', f.since && normalizeTime(f.since));
  add('ts < @until', 'until', f.until && normalizeTime(f.until));
  add('principal_sub = @principal', 'principal', f.principal);
  add('server = @server', 'server', f.server);
  add('target = @tool', 'tool', f.tool);
  add('(decision = @decision OR decision = @shadowDecision)', 'decision', f.decision);
  if (f.decision) params['shadowDecision'] = `shadow:${f.decision}`;
  add('status = @status', 'status', f.status);
  add('event = @event', 'event', f.event);
  add('seq <= @throughSeq', 'throughSeq', f.throughSeq);
  const sql = `SELECT ${what} FROM events${where.length ? ` WHERE ${where.join(' AND ')}` : ''}${order ? ` ORDER BY seq ${order === 'desc' ? 'DESC' : 'ASC'}` : ''}${f.limit !== undefined ? ' LIMIT @limit' : ''}`;
  if (f.limit !== undefined) params['limit'] = f.limit;
  return { sql, params };
}

const COLUMNS = ['seq', ...EVENT_FIELDS, 'prev_hash', 'hash', 'mac'] as const;
const NUMERIC = new Set<string>(['seq', 'latency_ms', 'bytes_in', 'bytes_out']);

/**
 * A row as the schema declares it. The database is a file whoever could write it may have rebuilt (a table that is
 * not STRICT holds any type in any column, a view can leave columns out): a value of another type is shown as text
 * (a blob as x'…' hex), in a numeric column as the number its text spells or else null, and a missing column as
 * null, so reading a tampered trail shows it instead of failing. `audit verify` reads the rows as stored and names
 * such an event as changed.
 */
export function typedRow(row: Record<string, unknown>): StoredEvent {
  for (const k of COLUMNS) {
    const v = row[k];
    if (v === null || (typeof v === (NUMERIC.has(k) ? 'number' : 'string'))) continue;
    row[k] = NUMERIC.has(k) ? numberOf(v) : textOf(v);
  }
  return row as unknown as StoredEvent;
}

function numberOf(v: unknown): number | null {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

function textOf(v: unknown): string | null {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return `x'${v.toString('hex')}'`;
  return String(v);
}

function* typedRows(rows: IterableIterator<unknown>): IterableIterator<StoredEvent> {
  for (const r of rows) yield typedRow(r as Record<string, unknown>);
}

/** The events matching `f`, all in memory: for small results (`tail`, `--limit`). */
export function query(store: AuditStore, f: Filters, order: 'asc' | 'desc' = 'asc'): StoredEvent[] {
  const { sql, params } = selection(f, '*', order);
  return (store.db.prepare(sql).all(params) as Record<string, unknown>[]).map(typedRow);
}

export type Column = (typeof COLUMNS)[number];

/**
 * The events matching `f`, one at a time: what reads a whole trail (export, stats, report) holds one row, not
 * millions. The connection runs nothing else until the iteration ends. With `columns`, only those are read (the rest
 * are null): a pass that needs a few reads a row in a third of the time it takes to read all of them.
 */
export function eachEvent(store: AuditStore, f: Filters, order: 'asc' | 'desc' = 'asc', columns?: readonly Column[]): IterableIterator<StoredEvent> {
  const { sql, params } = selection(f, columns ? ['seq', ...columns].join(', ') : '*', order);
  return typedRows(store.db.prepare(sql).iterate(params) as IterableIterator<unknown>);
}

/** How many events match `f`, and the time of the first and the last of them (in `seq` order), without reading them into JavaScript. */
export function eventSpan(store: AuditStore, f: Filters): { count: number; from: string | null | undefined; to: string | null | undefined } {
  const { sql, params } = selection(f, 'seq, ts', 'asc');
  const count = store.db.prepare(`SELECT COUNT(*) FROM (${sql})`).pluck().get(params) as number;
  if (count === 0) return { count, from: undefined, to: undefined };
  const time = (order: string) => (store.db.prepare(`SELECT * FROM (${sql}) ${order} LIMIT 1`).get(params) as Record<string, unknown> | undefined)?.['ts'];
  return { count, from: textOf(time('')) ?? null, to: textOf(time('ORDER BY seq DESC')) ?? null };
}

/** How many events match `f`. */
export function countEvents(store: AuditStore, f: Filters): number {
  const { sql, params } = selection({ ...f, limit: undefined }, 'COUNT(*)', undefined);
  const n = store.db.prepare(sql).pluck().get(params) as number;
  return f.limit !== undefined ? Math.min(n, f.limit) : n;
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/i;

/**
 * A time as the audit commands accept it: relative to now (`30s`, `15m`, `24h`, `7d`), a date (`2026-11-30`), or a
 * date and time (`2026-11-30T14:05:00Z`, `2026-11-30 14:05:00.123` as `audit tail` prints it). A time without a
 * zone is UTC, the audit trail's own zone, whatever the machine's is. Anything else is refused (`new Date` alone
 * would read `90` as the year 1990 and a zone-less time in local time).
 */
export function normalizeTime(t: string): string {
  const rel = /^(\d+)([smhd])$/.exec(t);
  if (rel) {
    const n = Number(rel[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    const at = new Date(Date.now() - n);
    // Past what a date can hold (about 270,000 years back), toISOString would throw a bare "Invalid time value".
    if (Number.isNaN(at.getTime())) throw new Error(`not a time: ${JSON.stringify(t)} (further back than a date can go)`);
    return at.toISOString();
  }
  const m = TIME.exec(t.trim());
  if (!m) throw new Error(`not a time: ${JSON.stringify(t)} (use 24h, 7d, 2026-11-30 or 2026-11-30T14:05:00Z)`);
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac.slice(0, 4)}${zone.toUpperCase()}`);
  // Date rolls 2026-02-30 over to March; a day or hour that does not exist is a typo, not a time.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)));
  if (Number.isNaN(date.getTime()) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h) || check.getUTCMinutes() !== Number(mi) || check.getUTCSeconds() !== Number(sec)) {
    throw new Error(`not a time: ${JSON.stringify(t)} (no such date or time of day)`);
  }
  return date.toISOString();
}

const JSON_COLUMNS = ['redactions', 'extra'] as const;

/** The SPEC §7 export shape: principal as an object, JSON columns decoded. */
export function exportRecord(e: StoredEvent): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    seq: e.seq,
    id: e.id,
    ts: e.ts,
    event: e.event,
    session: e.session,
    principal: { sub: e.principal_sub, client_id: e.client_id, issuer: e.issuer },
    server: e.server,
    method: e.method,
    target: e.target,
    decision: e.decision,
    rule: e.rule,
    reason: e.reason,
    status: e.status,
    latency_ms: e.latency_ms,
    bytes_in: e.bytes_in,
    bytes_out: e.bytes_out,
    args: e.args === null ? null : safeParse(e.args),
    args_sha256: e.args_sha256,
    result_sha256: e.result_sha256,
    policy_version: e.policy_version,
    prev_hash: e.prev_hash,
    hash: e.hash,
  };
  for (const c of JSON_COLUMNS) rec[c] = e[c] === null ? null : safeParse(e[c]);
  return rec;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

export const CSV_COLUMNS = ['seq', 'id', 'ts', 'event', 'session', 'principal_sub', 'client_id', 'issuer', 'server', 'method', 'target', 'decision', 'rule', 'reason', 'status', 'latency_ms', 'bytes_in', 'bytes_out', 'args', 'args_sha256', 'result_sha256', 'redactions', 'policy_version', 'extra', 'prev_hash', 'hash'] as const;

export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

export function csvRow(e: StoredEvent): string {
  return CSV_COLUMNS.map((c) => csvCell(e[c as keyof StoredEvent])).join(',');
}

/**
 * OCSF 1.x API Activity (class 6003). docs/audit.md documents the mapping: the caller is `actor.user`, the MCP
 * method is `api.operation`, the server is `api.service.name`, the tool/resource/prompt is `resources[0]`, the
 * decision and rule go to `status_detail` and `unmapped`, and the chain fields stay in `unmapped` so an exported
 * record can still be checked against the database.
 */
export function ocsfRecord(e: StoredEvent): Record<string, unknown> {
  const failed = e.status !== 'ok' && e.status !== null;
  const time = Date.parse(e.ts);
  const activity = e.method?.endsWith('/list') || e.method === 'resources/read' || e.method === 'prompts/get' ? 2 : 99;
  return {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id: activity,
    activity_name: activity === 2 ? 'Read' : 'Other',
    type_uid: 6003 * 100 + activity,
    time,
    severity_id: e.status === 'denied' ? 3 : failed ? 2 : 1,
    status_id: e.status === null ? 0 : failed ? 2 : 1,
    status: e.status ?? 'Unknown',
    status_detail: [e.decision, e.rule, e.reason].filter(Boolean).join(': ') || undefined,
    duration: e.latency_ms ?? undefined,
    actor: { user: { uid: e.principal_sub ?? undefined }, app_name: e.client_id ?? undefined, session: e.session ? { uid: e.session } : undefined, idp: e.issuer ? { name: e.issuer } : undefined },
    api: { operation: e.method ?? e.event, service: { name: e.server ?? undefined }, request: { uid: e.id }, response: e.result_sha256 ? { containers: undefined } : undefined },
    resources: e.target ? [{ name: e.target, type: e.method?.split('/')[0] ?? 'mcp' }] : undefined,
    src_endpoint: {},
    metadata: { product: { name: 'mcp-warden', vendor_name: 'mcp-warden' }, version: '1.3.0', uid: e.id, log_name: 'audit', sequence: e.seq },
    unmapped: {
      event: e.event,
      decision: e.decision,
      rule: e.rule,
      bytes_in: e.bytes_in,
      bytes_out: e.bytes_out,
      args_sha256: e.args_sha256,
      result_sha256: e.result_sha256,
      redactions: e.redactions ? safeParse(e.redactions) : undefined,
      policy_version: e.policy_version,
      prev_hash: e.prev_hash,
      hash: e.hash,
    },
  };
}

export interface ScoreRow {
  server: string;
  tool: string;
  calls: number;
  errors: number;
  timeouts: number;
  denials: number;
  errorRate: number;
  timeoutRate: number;
  p50: number;
  p95: number;
  meanBytes: number;
  meanTokens: number;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The per-server, per-tool scorecard of SPEC §7; tokens are estimated as bytes / 4. */
export function scorecard(store: AuditStore, f: Filters = {}): ScoreRow[] {
  const groups = new Map<string, { server: string; tool: string; lat: number[]; bytes: number; calls: number; errors: number; timeouts: number; denials: number }>();
  for (const e of eachEvent(store, { ...f, event: 'exchange' }, 'asc', ['server', 'target', 'method', 'latency_ms', 'bytes_out', 'status'])) {
    const tool = e.target ?? e.method ?? '?';
    const key = `${e.server}\n${tool}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { server: e.server ?? '?', tool, lat: [], bytes: 0, calls: 0, errors: 0, timeouts: 0, denials: 0 }));
    g.calls++;
    if (e.latency_ms !== null) g.lat.push(e.latency_ms);
    g.bytes += e.bytes_out ?? 0;
    if (e.status === 'error' || e.status === 'failed') g.errors++;
    if (e.status === 'timeout') g.timeouts++;
    if (e.status === 'denied') g.denials++;
  }
  return [...groups.values()]
    .map((g) => {
      g.lat.sort((a, b) => a - b);
      const meanBytes = g.calls ? g.bytes / g.calls : 0;
      return {
        server: g.server,
        tool: g.tool,
        calls: g.calls,
        errors: g.errors,
        timeouts: g.timeouts,
        denials: g.denials,
        errorRate: g.calls ? g.errors / g.calls : 0,
        timeoutRate: g.calls ? g.timeouts / g.calls : 0,
        p50: pct(g.lat, 50),
        p95: pct(g.lat, 95),
        meanBytes,
        meanTokens: meanBytes / 4,
      };
    })
    .sort((a, b) => b.calls - a.calls);
}
