/**
 * Pieces of the HTTP front that know HTTP and nothing of MCP sessions: replies that start as JSON and become an
 * SSE stream only if something must be sent before the answer, standalone SSE streams, bounded body reading, and
 * DNS-rebinding protection (Host and Origin).
 */
import { ByteCollector } from './collect.js';
import type { Wire } from '../protocol/frame.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { sseEvent } from './sse.js';
import type { Reply } from './types.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendStatus(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, headers);
  res.end();
}

/**
 * The answer stream of one POSTed request. If the answer is the first thing to send it goes out as one JSON body
 * (cheapest for both sides); if a notification or a server request comes first, the reply becomes an SSE stream.
 * A request still unanswered after `keepAliveMs` also becomes a stream, with comment keep-alives.
 */
export class HttpReply implements Reply {
  onabort: (() => void) | undefined;
  private mode: 'pending' | 'json' | 'sse' | 'done' = 'pending';
  private keepAlive: NodeJS.Timeout | undefined;
  private readonly firstTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
    keepAliveMs: number,
    /** Called once the exchange is over. */
    private readonly onDone?: () => void,
    /** HTTP status (and extra headers) of a final answer sent as JSON (default 200). */
    private readonly statusOf?: (text: string, own: boolean) => number | { status: number; headers: Record<string, string> },
    /** The client ranks text/event-stream above application/json: always answer with a stream. */
    private readonly preferStream = false,
  ) {
    res.on('close', () => {
      const wasOpen = this.mode !== 'done';
      this.stop();
      this.mode = 'done';
      if (wasOpen) this.onabort?.();
    });
    if (keepAliveMs > 0) {
      this.firstTimer = setTimeout(() => {
        if (this.mode !== 'pending') return;
        this.startStream();
        this.keepAlive = setInterval(() => {
          if (this.mode === 'sse') this.res.write(': keep-alive\n\n');
        }, keepAliveMs);
        this.keepAlive.unref();
      }, keepAliveMs);
      this.firstTimer.unref();
    }
  }

  get open(): boolean {
    return this.mode !== 'done' && !this.res.destroyed;
  }

  private stop(): void {
    if (this.firstTimer) clearTimeout(this.firstTimer);
    if (this.keepAlive) clearInterval(this.keepAlive);
  }

  private startStream(): void {
    this.res.writeHead(200, { ...SSE_HEADERS, ...this.headers });
    this.res.flushHeaders();
    this.mode = 'sse';
  }

  send(wire: Wire, final: boolean, own = false): void {
    if (!this.open) return;
    if (this.mode === 'pending' && final && !this.preferStream) {
      this.stop();
      this.mode = 'done';
      // A large message's bytes (received, or encoded once for the audit hash) are sent as they are, not encoded
      // again; only an error answer can map to another status, so only then is its text looked at.
      const body = typeof wire === 'string' ? Buffer.from(wire, 'utf8') : wire.parts.length === 1 ? wire.parts[0]! : Buffer.concat(wire.parts, wire.byteLength);
      const meta = this.statusOf && (typeof wire === 'string' || wire.isError) ? this.statusOf(String(wire), own) : 200;
      const status = typeof meta === 'number' ? meta : meta.status;
      const extra = typeof meta === 'number' ? {} : meta.headers;
      this.res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...this.headers, ...extra });
      this.res.end(body);
      this.onDone?.();
      return;
    }
    if (this.mode === 'pending') this.startStream();
    this.res.write(sseEvent(String(wire)));
    if (final) {
      this.stop();
      this.mode = 'done';
      this.res.end();
      this.onDone?.();
    }
  }
}

/**
 * Whether the client ranks text/event-stream above application/json in its Accept header (by q, then order).
 * SDK clients send `application/json, text/event-stream` and get a single JSON body, the cheaper answer.
 */
export function prefersEventStream(accept: string | undefined): boolean {
  if (!accept) return false;
  let json: [number, number] | undefined;
  let sse: [number, number] | undefined;
  accept.split(',').forEach((part, i) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qp ? Number(qp.slice(2)) : 1;
    const rank: [number, number] = [Number.isFinite(q) ? q : 0, -i];
    if (type === 'application/json') json ??= rank;
    else if (type === 'text/event-stream') sse ??= rank;
  });
  if (!sse) return false;
  if (!json) return true;
  return sse[0] > json[0] || (sse[0] === json[0] && sse[1] > json[1]);
}

/** A long-lived SSE stream (legacy GET stream, legacy HTTP+SSE transport): bounded queue, keep-alives. */
export class SseStream {
  private readonly timer: NodeJS.Timeout;
  closed = false;
  onclose: (() => void) | undefined;

  constructor(private readonly res: ServerResponse, headers: Record<string, string>, keepAliveMs: number) {
    res.writeHead(200, { ...SSE_HEADERS, ...headers });
    res.flushHeaders();
    this.timer = setInterval(() => this.res.write(': keep-alive\n\n'), keepAliveMs);
    this.timer.unref();
    res.on('close', () => {
      this.closed = true;
      clearInterval(this.timer);
      this.onclose?.();
    });
  }

  /** Writes one event; false when the client is not keeping up (the caller may drop or close). */
  send(data: string, event?: string): boolean {
    if (this.closed) return false;
    return this.res.write(sseEvent(data, event ? { event } : {}));
  }

  get buffered(): number {
    return this.res.writableLength;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.res.end();
  }
}

export class BodyError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Reads a request body up to `max` bytes (413 past it). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      reject(new BodyError(413, `Request body of ${declared} bytes exceeds the limit of ${max} bytes`));
      req.resume();
      return;
    }
    // Collected in slabs: a client trickling a byte per packet must not cost an object per byte.
    const body = new ByteCollector();
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      if (body.size + c.length > max) {
        failed = true;
        body.clear();
        reject(new BodyError(413, `Request body exceeds the limit of ${max} bytes`));
        return;
      }
      body.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(body.take());
    });
    req.on('error', (e) => {
      if (!failed) {
        failed = true;
        reject(new BodyError(400, `Could not read the request body: ${e.message}`));
      }
    });
  });
}

// ───────────── DNS-rebinding protection ─────────────

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h === 'localhost.') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1';
}

/** Host header without its port, lower-cased; IPv6 keeps its brackets. */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : h;
  }
  const colon = h.lastIndexOf(':');
  return colon > 0 ? h.slice(0, colon) : h;
}

export interface OriginPolicy {
  /** Accept loopback Host and Origin values (the gateway listens on loopback). */
  loopback: boolean;
  /** Host names (no port) accepted besides loopback. */
  hosts: Set<string>;
  /** Exact origins accepted besides loopback ones. */
  origins: Set<string>;
  /** No host list could be built (non-loopback bind with no public_url or allowed_hosts): accept any Host. */
  anyHost: boolean;
}

export function checkHostAndOrigin(req: IncomingMessage, policy: OriginPolicy): string | undefined {
  const host = req.headers.host;
  if (!host) return 'missing Host header';
  const name = hostName(host);
  const hostOk = policy.anyHost || policy.hosts.has(name) || (policy.loopback && isLoopbackHost(name));
  if (!hostOk) return `Host ${JSON.stringify(host.slice(0, 100))} is not allowed`;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  if (origin === 'null') return 'Origin null is not allowed';
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'malformed Origin';
  }
  if (policy.origins.has(url.origin)) return undefined;
  if (policy.loopback && (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname)) return undefined;
  return `Origin ${JSON.stringify(origin.slice(0, 100))} is not allowed`;
}

/** Lower-cased request headers as plain strings (repeated headers joined, as HTTP allows). */
export function headerMap(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
