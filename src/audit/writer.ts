/**
 * Writes audit events off the hot path. Events queue up and are committed together once the input at hand has been
 * handled (group commit, on a microtask): one transaction for everything that arrived meanwhile. `enqueue` resolves once the event
 * is committed, which is what strict durability waits for before a response goes out.
 *
 * If the store cannot write, the writer turns unhealthy: with `on_failure: deny` the audit stage refuses new calls
 * until a probe write succeeds again. Checkpoints are signed every N events, every T seconds, after a quiet spell,
 * and at close; each is appended to the anchor file and sent to the off-machine sink.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { makeParent } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { ErrorCode } from '../protocol/jsonrpc.js';
import { canonicalJson, type AuditEvent, type StoredEvent } from './chain.js';
import type { SigningKey } from './keys.js';
import type { AuditStore, Checkpoint } from './store.js';

export interface AuditSink {
  events(events: StoredEvent[]): void;
  checkpoint(cp: Checkpoint, origin: string): void;
  close(): Promise<void>;
}

export interface WriterOptions {
  onFailure: 'deny' | 'allow';
  checkpointEvery: number;
  checkpointIntervalMs: number;
  idleCheckpointMs: number;
  anchorFile: string | undefined;
  sink?: AuditSink | undefined;
  log: Logger;
  /** Largest batch per transaction. */
  maxBatch?: number;
}

/** Thrown to a response hook when its event could not be committed; carries the JSON-RPC error to answer. */
export class AuditUnavailableError extends Error {
  readonly rpcCode = ErrorCode.AuditUnavailable;
  constructor(reason: string) {
    super(`mcp-warden could not record this call in its audit trail (${reason}); calls are refused until it can (audit.on_failure: deny)`);
  }
}

interface Pending {
  event: AuditEvent;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class AuditWriter {
  healthy = true;
  lastError: string | undefined;
  /** Events committed by this process (metrics, tests). */
  written = 0;
  private queue: Pending[] = [];
  private scheduled = false;
  private sinceCheckpoint = 0;
  private readonly intervalTimer: NodeJS.Timeout;
  private idleTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly aggregates = new Map<string, Aggregate>();

  constructor(readonly store: AuditStore, private readonly key: SigningKey, private readonly opts: WriterOptions) {
    this.intervalTimer = setInterval(() => this.checkpoint('interval'), opts.checkpointIntervalMs);
    this.intervalTimer.unref();
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  /** Queues an event; resolves when it is committed, rejects with AuditUnavailableError if it cannot be. */
  enqueue(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.schedule();
    });
  }

  /** Queues an event nobody waits for (notifications, lifecycle events); a failure is logged. */
  record(event: AuditEvent): void {
    this.queue.push({ event, resolve: noop, reject: noop });
    this.schedule();
  }

  /**
   * Counts repeated events with the same key (an authentication-failure flood from one source, a server's stream of
   * notifications) into one event per window: the first `burst` are written at once, the rest as one event when the
   * window closes, with their `count`, their statuses, and their redaction counts and bytes added up. Bounded: past
   * `maxKeys` keys, every new source goes into one overflow event.
   */
  aggregate(key: string, event: AuditEvent, windowMs = 10_000, maxKeys = 10_000, burst = 1): void {
    const have = this.aggregates.get(key);
    if (have) {
      if (have.written < burst) {
        have.written++;
        this.record(event);
      } else absorb(have, event);
      return;
    }
    if (this.aggregates.size >= maxKeys) {
      let overflow = this.aggregates.get(OVERFLOW);
      if (!overflow) overflow = this.startAggregate(OVERFLOW, { ...event, reason: 'too many distinct sources; aggregated', session: null }, windowMs, 0);
      absorb(overflow, event);
      return;
    }
    this.record(event);
    this.startAggregate(key, event, windowMs, 1);
  }

  private startAggregate(key: string, event: AuditEvent, windowMs: number, written: number): Aggregate {
    const timer = setTimeout(() => {
      const a = this.aggregates.get(key);
      this.aggregates.delete(key);
      if (a && a.count > 0) this.record(aggregated(a, windowMs));
    }, windowMs);
    timer.unref();
    const a: Aggregate = { event, count: 0, written, timer, windowMs, statuses: {}, redactions: {}, bytesIn: 0, bytesOut: 0, overflow: key === OVERFLOW, differ: new Set() };
    this.aggregates.set(key, a);
    return a;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // A microtask: the commit runs as soon as the work at hand (the input being handled) is done, before the event
    // loop polls again. setImmediate waited for the loop's next check phase: ~15 µs more per call one at a time
    // (bench/), and under load it batched no better (calls/s the same through wrap and serve).
    queueMicrotask(() => this.flush());
  }

  /** Commits everything queued. Synchronous (better-sqlite3); runs once the input at hand has been handled. */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch ?? 2000);
      let stored: StoredEvent[];
      try {
        stored = this.store.append(
          batch.map((p) => p.event),
          this.key,
        );
      } catch (e) {
        this.fail(e as Error);
        const err = new AuditUnavailableError(this.lastError!);
        for (const p of batch) p.reject(err);
        for (const p of this.queue.splice(0)) p.reject(err);
        return;
      }
      this.written += batch.length;
      this.sinceCheckpoint += batch.length;
      for (const p of batch) p.resolve();
      this.opts.sink?.events(stored);
    }
    if (this.sinceCheckpoint >= this.opts.checkpointEvery) this.checkpoint('count');
    // One timer, pushed back after every commit (re-armed if it already fired).
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.checkpoint('idle'), this.opts.idleCheckpointMs);
      this.idleTimer.unref();
    }
  }

  private fail(e: Error): void {
    const message = e.message.replace(/\s+/g, ' ').slice(0, 200);
    if (this.healthy) this.opts.log.error({ err: message, db: this.store.file }, 'the audit store cannot write');
    this.lastError = message;
    this.healthy = false;
    if (!this.probeTimer) {
      this.probeTimer = setInterval(() => this.tryRecover(), 2_000);
      this.probeTimer.unref();
    }
  }

  private tryRecover(): void {
    try {
      this.store.probe();
    } catch {
      return;
    }
    this.healthy = true;
    this.lastError = undefined;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.opts.log.info({ db: this.store.file }, 'the audit store can write again');
    this.record({ ...blankEvent('audit_recovered'), reason: 'the audit store accepted writes again' });
  }

  /** Signs the head if it moved, appends the checkpoint to the anchor file and the sink. */
  checkpoint(why: string): Checkpoint | undefined {
    if (!this.healthy || this.closed) return undefined;
    let cp: Checkpoint | undefined;
    try {
      cp = this.store.checkpoint(this.key);
    } catch (e) {
      this.fail(e as Error);
      return undefined;
    }
    this.sinceCheckpoint = 0;
    if (!cp) return undefined;
    if (this.opts.anchorFile) {
      try {
        makeParent(this.opts.anchorFile, 0o777);
        appendFileSync(this.opts.anchorFile, `${JSON.stringify({ origin: this.store.origin, ...cp })}\n`, { mode: 0o600 });
      } catch (e) {
        this.opts.log.error({ err: (e as Error).message, anchor: this.opts.anchorFile }, 'could not append to the audit anchor file');
      }
    }
    this.opts.sink?.checkpoint(cp, this.store.origin);
    this.opts.log.debug({ seq: cp.seq, why }, 'audit checkpoint');
    return cp;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const [key, a] of this.aggregates) {
      clearTimeout(a.timer);
      if (a.count > 0) this.record(aggregated(a, a.windowMs));
      this.aggregates.delete(key);
    }
    this.flush();
    this.checkpoint('close');
    this.closed = true;
    clearInterval(this.intervalTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    await this.opts.sink?.close();
    this.store.close();
  }
}

function noop(): void {}

const OVERFLOW = '\0overflow';

/** Events counted into one (see `aggregate`): what they add up to, and the first one as the pattern. */
interface Aggregate {
  event: AuditEvent;
  count: number;
  /** Events of this window written one by one. */
  written: number;
  timer: NodeJS.Timeout;
  windowMs: number;
  statuses: Record<string, number>;
  redactions: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  /** The events of every source past `maxKeys`. */
  overflow: boolean;
  /** Fields of the pattern some counted event did not share: left empty in the event that stands for them. */
  differ: Set<(typeof SHARED)[number]>;
}

/** Fields the counted events may share with the pattern (the key they were counted under holds the rest). */
const SHARED = ['target', 'decision', 'rule', 'reason', 'client_id', 'issuer', 'policy_version'] as const;

function absorb(a: Aggregate, e: AuditEvent): void {
  a.count++;
  for (const f of SHARED) if (e[f] !== a.event[f]) a.differ.add(f);
  if (e.status) a.statuses[e.status] = (a.statuses[e.status] ?? 0) + 1;
  if (e.redactions) {
    for (const [rule, n] of Object.entries(JSON.parse(e.redactions) as Record<string, number>)) a.redactions[rule] = (a.redactions[rule] ?? 0) + n;
  }
  a.bytesIn += e.bytes_in ?? 0;
  a.bytesOut += e.bytes_out ?? 0;
}

/** The one event that stands for the counted ones: their sums; nothing that belonged to one of them alone. */
function aggregated(a: Aggregate, windowMs: number): AuditEvent {
  const e = a.event;
  const extra: Record<string, unknown> = { ...(e.extra ? (JSON.parse(e.extra) as object) : {}), count: a.count, window_ms: windowMs, aggregated: true };
  if (Object.keys(a.statuses).length) extra['statuses'] = a.statuses;
  const redactions = Object.keys(a.redactions).length ? canonicalJson(a.redactions) : null;
  const unshared: Partial<AuditEvent> = {};
  // The overflow event's reason is its own ("too many distinct sources"), not any source's.
  for (const f of a.differ) if (!(f === 'reason' && a.overflow)) unshared[f] = null;
  return {
    ...e,
    ...unshared,
    id: newEventId(),
    ts: new Date().toISOString(),
    latency_ms: null,
    bytes_in: e.bytes_in === null ? null : a.bytesIn,
    bytes_out: e.bytes_out === null ? null : a.bytesOut,
    args: null,
    args_sha256: null,
    result_sha256: null,
    redactions,
    extra: canonicalJson(extra),
  };
}

let lastMs = 0;
let counter = 0;
let hexPool = '';
let hexAt = 0;
/** A time-ordered id (UUID version 7 layout): sortable, unique across processes. */
export function newEventId(now = Date.now()): string {
  if (now === lastMs) counter++;
  else {
    lastMs = now;
    counter = 0;
  }
  // 8 random bytes as hex, cut from a pool filled 4 KiB at a time.
  if (hexAt + 16 > hexPool.length) {
    hexPool = randomBytes(4096).toString('hex');
    hexAt = 0;
  }
  const r = hexPool.slice(hexAt, hexAt + 16);
  hexAt += 16;
  const t = now.toString(16).padStart(12, '0');
  const ver = (0x7000 | (counter & 0x0fff)).toString(16);
  const variant = ((parseInt(r.slice(0, 2), 16) & 0x3f) | 0x80).toString(16);
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-${ver}-${variant}${r.slice(2, 4)}-${r.slice(4)}`;
}

let isoMs = NaN;
let isoText = '';
/** RFC 3339 UTC with milliseconds; many events share a millisecond, so the last one is reused. */
function isoTime(ms: number): string {
  const whole = Math.floor(ms);
  if (whole !== isoMs) {
    isoMs = whole;
    isoText = new Date(whole).toISOString();
  }
  return isoText;
}

export function blankEvent(event: string, now: Date | number = Date.now()): AuditEvent {
  const ms = typeof now === 'number' ? now : now.getTime();
  return {
    id: newEventId(Math.floor(ms)),
    ts: isoTime(ms),
    event,
    session: null,
    principal_sub: null,
    client_id: null,
    issuer: null,
    server: null,
    method: null,
    target: null,
    decision: null,
    rule: null,
    reason: null,
    status: null,
    latency_ms: null,
    bytes_in: null,
    bytes_out: null,
    args: null,
    args_sha256: null,
    result_sha256: null,
    redactions: null,
    policy_version: null,
    extra: null,
  };
}
