/**
 * Audit events and checkpoints sent off the machine, for a SIEM and as the copy an attacker on this host cannot
 * rewrite. Syslog (RFC 5424, octet-counted framing per RFC 6587) over TCP or TLS, or JSON batches POSTed to an
 * HTTPS endpoint. Best effort and bounded: the local database stays the durable record; if the receiver is down,
 * the oldest queued lines are dropped (and counted in the log) rather than growing memory or stalling calls.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { fsReason, WardenError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { sendableHeaderName, sendableHeaderValue } from '../protocol/headers.js';
import { sinkTargetProblem } from './sink-target.js';
import type { StoredEvent } from './chain.js';
import type { Checkpoint } from './store.js';
import type { AuditSink } from './writer.js';

export interface SinkConfig {
  syslog?: string;
  https?: string;
  ca?: string;
  headers?: Record<string, string>;
  maxQueue?: number;
}

const HOST = os.hostname().replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';

function severity(e: StoredEvent): number {
  if (e.status === 'denied' || e.event === 'auth_failure' || e.event === 'pin_violation') return 4;
  if (e.status === 'failed' || e.event === 'upstream_crash') return 3;
  return 6;
}

/** One RFC 5424 message: facility 13 (log audit), the event as JSON in MSG. */
export function syslogLine(msgid: string, sev: number, ts: string, json: string): string {
  const id = msgid.replace(/[^\x21-\x7e]/g, '').slice(0, 32) || '-';
  const msg = `<${13 * 8 + sev}>1 ${ts} ${HOST} mcp-warden ${process.pid} ${id} - ${json}`;
  return `${Buffer.byteLength(msg)} ${msg}`;
}

export class SinkConfigError extends WardenError {
  override readonly code = 'AUDIT_SINK';
}

/**
 * What the sink needs from its config, read and checked once at start: a CA bundle that cannot be read, or a header
 * Node would refuse to send, used to surface only when the first line went out (a crash of the proxy, or a stack
 * trace), or on a reconnect hours later.
 */
function settle(cfg: SinkConfig): { ca: Buffer | undefined; headers: Record<string, string> } {
  let ca: Buffer | undefined;
  if (cfg.ca !== undefined) {
    try {
      ca = readFileSync(cfg.ca);
    } catch (e) {
      throw new SinkConfigError(`${cfg.ca}: cannot read the audit sink's CA bundle (audit.sink.ca): ${fsReason(e)}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new SinkConfigError(`${cfg.ca}: the audit sink's CA bundle (audit.sink.ca) holds no PEM certificate`);
  }
  const headers = cfg.headers ?? {};
  for (const [name, value] of Object.entries(headers)) {
    // The value is not repeated: a header here is usually a credential.
    if (!sendableHeaderName(name) || !sendableHeaderValue(value)) throw new SinkConfigError(`audit.sink.headers: ${JSON.stringify(name.slice(0, 64))} cannot be sent as an HTTP header (a line break or another character a header cannot hold)`);
  }
  return { ca, headers };
}

/** How long shutdown waits for the receiver to take what is queued (the last events and the final checkpoint). */
export const SINK_CLOSE_MS = 3_000;

class Queue {
  items: string[] = [];
  dropped = 0;
  constructor(private readonly max: number) {}
  push(s: string): void {
    if (this.items.length >= this.max) {
      this.items.shift();
      this.dropped++;
    }
    this.items.push(s);
  }
}

export class SyslogSink implements AuditSink {
  private socket: net.Socket | undefined;
  /** The connection being made (set until it is made or fails). */
  private pending: net.Socket | undefined;
  private connecting = false;
  private readonly queue: Queue;
  private backoff = 500;
  private closed = false;
  private readonly url: URL;
  private readonly ca: Buffer | undefined;

  constructor(target: string, cfg: SinkConfig, private readonly log: Logger) {
    const problem = sinkTargetProblem('syslog', target);
    if (problem) throw new SinkConfigError(`audit.sink.syslog ${problem}`);
    this.url = new URL(target);
    this.ca = settle(cfg).ca;
    this.queue = new Queue(cfg.maxQueue ?? 10_000);
    this.connect();
  }

  private connect(): void {
    if (this.closed || this.connecting || this.socket) return;
    this.connecting = true;
    const port = Number(this.url.port || (this.url.protocol === 'tls:' ? 6514 : 514));
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const onConnect = () => {
      this.connecting = false;
      this.pending = undefined;
      this.backoff = 500;
      this.socket = sock;
      this.drain();
    };
    let sock: net.Socket;
    try {
      sock =
        this.url.protocol === 'tls:'
          ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: this.ca }, onConnect)
          : net.connect({ host, port }, onConnect);
    } catch (e) {
      // Never an exception out of a reconnect timer: logged, and tried again later.
      this.connecting = false;
      this.log.warn({ err: (e as Error).message, sink: `${this.url.protocol}//${this.url.host}` }, 'audit syslog sink error');
      if (!this.closed) setTimeout(() => this.connect(), (this.backoff = Math.min(this.backoff * 2, 30_000))).unref();
      return;
    }
    this.pending = sock;
    sock.setKeepAlive(true, 30_000);
    sock.on('error', (e) => this.log.warn({ err: e.message, sink: `${this.url.protocol}//${this.url.host}` }, 'audit syslog sink error'));
    sock.on('close', () => {
      this.socket = undefined;
      this.connecting = false;
      if (this.pending === sock) this.pending = undefined;
      if (this.closed) return;
      setTimeout(() => this.connect(), this.backoff).unref();
      this.backoff = Math.min(this.backoff * 2, 30_000);
    });
    sock.on('drain', () => this.drain());
  }

  private drain(): void {
    if (!this.socket) return;
    if (this.queue.dropped) {
      this.log.warn({ dropped: this.queue.dropped }, 'audit syslog sink dropped lines while the receiver was unreachable');
      this.queue.dropped = 0;
    }
    while (this.queue.items.length) {
      const line = this.queue.items.shift()!;
      if (!this.socket.write(line)) break;
    }
  }

  events(events: StoredEvent[]): void {
    for (const e of events) this.queue.push(syslogLine(e.event, severity(e), e.ts, JSON.stringify(e)));
    this.drain();
  }

  checkpoint(cp: Checkpoint, origin: string): void {
    this.queue.push(syslogLine('checkpoint', 6, cp.ts, JSON.stringify({ type: 'checkpoint', origin, ...cp })));
    this.drain();
  }

  /**
   * Sends what is queued and ends the connection. A connection still being made (a short session, a TLS handshake
   * to a distant receiver) is waited for, up to SINK_CLOSE_MS: closing without it lost every event of the session.
   */
  async close(): Promise<void> {
    const pending = this.socket ? undefined : this.pending;
    if (pending && !this.closed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(finish, SINK_CLOSE_MS);
        function finish(): void {
          clearTimeout(t);
          pending!.off('close', finish);
          pending!.off('connect', finish);
          pending!.off('secureConnect', finish);
          resolve();
        }
        // After the connect callback (registered first), which has made it this.socket and sent the queue.
        pending.once(pending instanceof tls.TLSSocket ? 'secureConnect' : 'connect', finish);
        pending.once('close', finish);
      });
    }
    this.drain();
    const sock = this.socket;
    this.closed = true;
    if (!sock) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        sock.destroy();
        resolve();
      }, 2000);
      sock.end(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** Lines per POST; a queue this long is sent at once instead of after the batching delay. */
const HTTPS_BATCH = 500;

export class HttpsSink implements AuditSink {
  private readonly queue: Queue;
  private inflight: Promise<void> | undefined;
  private request: http.ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly url: URL;
  private readonly ca: Buffer | undefined;
  private readonly headers: Record<string, string>;

  constructor(target: string, private readonly cfg: SinkConfig, private readonly log: Logger) {
    const problem = sinkTargetProblem('https', target);
    if (problem) throw new SinkConfigError(`audit.sink.https ${problem}`);
    this.url = new URL(target);
    ({ ca: this.ca, headers: this.headers } = settle(cfg));
    this.queue = new Queue(cfg.maxQueue ?? 10_000);
  }

  events(events: StoredEvent[]): void {
    for (const e of events) this.queue.push(JSON.stringify({ type: 'event', ...e }));
    this.schedule();
  }

  checkpoint(cp: Checkpoint, origin: string): void {
    this.queue.push(JSON.stringify({ type: 'checkpoint', origin, ...cp }));
    this.schedule();
  }

  private schedule(): void {
    if (this.inflight || this.closing) return;
    // A full batch goes now: waiting 50 ms per 500 lines capped the copy below the rate a busy proxy writes.
    if (this.queue.items.length >= HTTPS_BATCH) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.send();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, 50);
    this.timer.unref();
  }

  /** POSTs the oldest queued lines; resolves with whether the receiver took them (the send under way, if any). */
  private send(): Promise<boolean> {
    if (this.inflight) return this.inflight.then(() => false);
    if (this.queue.items.length === 0) return Promise.resolve(true);
    const batch = this.queue.items.splice(0, HTTPS_BATCH);
    const body = `${batch.join('\n')}\n`;
    const lib = this.url.protocol === 'https:' ? https : http;
    let delivered = false;
    let settled = false;
    const sending = new Promise<void>((resolve) => {
      // Once per request: an error after the response (the connection reset) must not queue the batch again.
      const done = (ok: boolean, why?: string) => {
        if (settled) return;
        settled = true;
        this.inflight = undefined;
        this.request = undefined;
        delivered = ok;
        if (!ok) {
          this.log.warn({ err: why }, this.closing ? 'audit HTTPS sink failed' : 'audit HTTPS sink failed; will retry');
          this.queue.items.unshift(...batch.slice(0, Math.max(0, (this.cfg.maxQueue ?? 10_000) - this.queue.items.length)));
          if (!this.closing) setTimeout(() => this.schedule(), 2_000).unref();
        } else if (this.queue.items.length) this.schedule();
        resolve();
      };
      let req: http.ClientRequest;
      try {
        req = lib.request(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body), ...this.headers },
          ca: this.ca,
          timeout: 10_000,
        });
      } catch (e) {
        // Checked at start; whatever still throws here is a failed send, never an unhandled rejection.
        done(false, (e as Error).message);
        return;
      }
      this.request = req;
      req.on('response', (res) => {
        res.resume();
        done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, `HTTP ${res.statusCode}`);
      });
      req.on('error', (e) => done(false, e.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(body);
    });
    // A request that failed as it was made has settled already: nothing is under way.
    if (!settled) this.inflight = sending;
    return sending.then(() => delivered);
  }

  /**
   * Delivers what is queued before the process ends: the send under way is waited for, not abandoned (shutdown used
   * to return while a POST was in flight, and the last events and the final checkpoint, the ones that show the tail
   * was not cut, never left the machine). Bounded by SINK_CLOSE_MS; what is left then is counted in the log.
   */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let over = false;
    let stop: NodeJS.Timeout | undefined;
    const timeUp = new Promise<boolean>((resolve) => {
      stop = setTimeout(() => resolve((over = true)), SINK_CLOSE_MS);
    });
    let failures = 0;
    while (!over && (this.inflight || this.queue.items.length)) {
      const ok = await Promise.race([this.inflight ? this.inflight.then(() => true) : this.send(), timeUp]);
      if (!ok && ++failures >= 3) break;
    }
    clearTimeout(stop);
    if (this.inflight) {
      // Its batch goes back to the queue as the request fails, so the count below includes it.
      this.request?.destroy(new Error('shutting down'));
      await this.inflight;
    }
    const left = this.queue.items.length;
    if (left) this.log.warn({ lines: left }, 'audit HTTPS sink: events and checkpoints not delivered at shutdown');
  }
}

export function createSink(cfg: SinkConfig | undefined, log: Logger): AuditSink | undefined {
  if (!cfg) return undefined;
  if (cfg.syslog) return new SyslogSink(cfg.syslog, cfg, log);
  if (cfg.https) return new HttpsSink(cfg.https, cfg, log);
  return undefined;
}
