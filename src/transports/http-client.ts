/**
 * A remote MCP server over HTTP.
 *
 * Streamable HTTP, both eras, chosen per message from its body:
 * - legacy: the session id from the server's answers, `MCP-Protocol-Version` once `initialize` settled it, the GET
 *   stream for server-initiated messages after `notifications/initialized`, resumption with `Last-Event-ID` when a
 *   response stream ends early, DELETE on close; a 404 on a known session means the session is gone.
 * - modern (2026-07-28): every POST stands alone with `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and the
 *   client's `Mcp-Param-*`; cancelling a request closes its response stream.
 * If the server answers `initialize` with 400/404/405, or `transport: sse` is configured, the legacy HTTP+SSE
 * transport is used instead: one GET event stream that names an endpoint to POST to.
 *
 * Only the configured headers and credentials are sent: the client's own token never reaches the upstream.
 */
import { ByteCollector } from './collect.js';
import { isUtf8 } from 'node:buffer';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Logger } from '../log/logger.js';
import type { Principal } from '../pipeline/types.js';
import { KEEP_UTF8_BYTES } from '../protocol/frame.js';
import { ErrorCode, errorResponse, isObject } from '../protocol/jsonrpc.js';
import { encodeHeaderValue, sendableHeaderName, sendableHeaderValue } from '../protocol/headers.js';
import { EventEmitter } from 'node:events';
import { redactUrl } from '../config/shown.js';
import { SseParser } from './sse.js';
import type { Upstream, UpstreamSendOptions } from './types.js';

export interface HttpUpstreamOptions {
  url: string;
  transport: 'streamable-http' | 'sse' | 'websocket';
  headers: Record<string, string>;
  maxMessageBytes: number;
  requestTimeoutMs: number;
  log: Logger;
  server: string;
  /**
   * Credential headers obtained per request (OAuth client credentials, token exchange); never the client's token.
   * `principal` is the caller a message is sent for (token exchange uses that caller's token as the subject).
   */
  credentials?: (principal?: Principal) => Promise<Record<string, string>> | Record<string, string>;
  /** The upstream answered 401: get a fresh credential (refresh, new login); true = send the request once more. */
  unauthorized?: (challenge: string | undefined, principal?: Principal) => Promise<boolean>;
}

interface OpenRequest {
  req: http.ClientRequest;
  /** The caller the request was sent for: a resumed stream asks with the same credentials. */
  principal: Principal | undefined;
  res: IncomingMessage | undefined;
  lastEventId: string | undefined;
  retryMs: number;
  resumes: number;
}

const MAX_ERROR_BODY = 64 * 1024;

export class HttpUpstream implements Upstream {
  kind: 'http' | 'sse';
  readonly label: string;
  onmessage?: Upstream['onmessage'];
  onbadmessage?: Upstream['onbadmessage'];
  onrequestfailed?: Upstream['onrequestfailed'];
  onclose?: Upstream['onclose'];
  ondrain?: () => void;

  private readonly url: URL;
  private readonly lib: typeof http | typeof https;
  private readonly agent: http.Agent;
  private mode: 'streamable' | 'sse';
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  private closed = false;
  /** The caller of the latest message sent: whose credentials the session's own requests (streams, close) use. */
  private latest: Principal | undefined;
  private readonly open = new Map<number, OpenRequest>();
  private getStream: http.ClientRequest | undefined;
  private getLastEventId: string | undefined;
  private getRetryMs = 1000;
  private getFailures = 0;
  private sseEndpoint: URL | undefined;
  private sseQueue: (() => void)[] = [];
  private fellBack = false;
  /**
   * Legacy Streamable HTTP: the session id comes with the answer to `initialize`. What the host sends before that
   * answer (a host that writes initialize, initialized and a call at once, as it may over stdio) waits for it here;
   * sent at once, it would reach the server without the session and be refused.
   */
  private initializing: number | undefined;
  private heldForInit: (() => void)[] = [];

  constructor(private readonly opts: HttpUpstreamOptions) {
    this.url = new URL(opts.url);
    this.label = redactUrl(opts.url);
    this.lib = this.url.protocol === 'https:' ? https : http;
    this.agent = new this.lib.Agent({ keepAlive: true, maxSockets: 64 });
    this.mode = opts.transport === 'sse' ? 'sse' : 'streamable';
    this.kind = this.mode === 'sse' ? 'sse' : 'http';
  }

  async start(): Promise<void> {
    if (this.mode === 'sse') await this.openSseStream();
  }

  /**
   * The version the server's `initialize` answered, sent back as MCP-Protocol-Version. The server's text: one that
   * cannot be a header value (a line break, a character past U+00FF) made every later request throw, and the
   * proxy with it; such a version is not sent.
   */
  setProtocolVersion(version: string): void {
    if (/^[\x21-\x7e]{1,64}$/.test(version)) this.protocolVersion = version;
    else {
      this.protocolVersion = undefined;
      this.opts.log.warn({ server: this.opts.server }, 'the upstream answered initialize with a protocol version that cannot be sent back as a header; MCP-Protocol-Version is left out');
    }
  }

  /**
   * `lib.request` that never throws. Node throws at once for a header it will not send; on these paths (after an
   * await, in a timer) that was an unhandled exception that ended the proxy. The request fails instead, through
   * its 'error' event, like one that could not reach the server.
   */
  private request(url: URL, options: http.RequestOptions): http.ClientRequest {
    try {
      return this.lib.request(url, options);
    } catch (e) {
      const unsent = new Unsent();
      setImmediate(() => unsent.emit('error', e));
      return unsent as unknown as http.ClientRequest;
    }
  }

  /** Configured headers and credentials for the caller a message is for (else the latest caller: streams, close). */
  private async baseHeaders(principal: Principal | undefined = this.latest): Promise<Record<string, string>> {
    const h: Record<string, string> = { ...this.opts.headers };
    if (!this.opts.credentials) return h;
    const credentials = await this.opts.credentials(principal);
    // A token endpoint's answer or a token file is text from outside (the configured headers were checked at load):
    // a line break in it is refused here, with the header's name only, rather than thrown by http.request later.
    for (const [name, value] of Object.entries(credentials)) {
      if (!sendableHeaderName(name) || !sendableHeaderValue(value)) throw new Error(`the upstream header ${JSON.stringify(name.slice(0, 64))} cannot be sent over HTTP (a line break or a character a header cannot hold)`);
    }
    return Object.assign(h, credentials);
  }

  send(text: string, o: UpstreamSendOptions): boolean {
    if (this.closed) return true;
    if (o.principal) this.latest = o.principal;
    if (this.mode === 'sse') {
      if (!this.sseEndpoint) this.sseQueue.push(() => void this.postSse(text, o));
      else void this.postSse(text, o);
      return true;
    }
    if (o.era !== 'modern' && this.mode === 'streamable') {
      if (this.initializing !== undefined) {
        this.heldForInit.push(() => this.send(text, o));
        return true;
      }
      if (o.method === 'initialize' && o.kind === 'request' && o.upId !== undefined && !this.sessionId) this.initializing = o.upId;
    }
    if (o.era === 'modern' && o.method === 'notifications/cancelled') {
      // 2026-07-28 over HTTP: cancelling is closing the request's response stream.
      const id = cancelledRequestId(text);
      const open = id === undefined ? undefined : this.open.get(id);
      if (open) {
        this.open.delete(id!);
        open.req.destroy();
      }
      return true;
    }
    void this.post(text, o);
    return true;
  }

  /** Sends, in order, what waited for the answer to `initialize`. */
  private releaseHeld(): void {
    this.initializing = undefined;
    const held = this.heldForInit;
    this.heldForInit = [];
    for (const run of held) run();
  }

  /** The session got its answer (or gave up): drop any stream still open for it. */
  requestDone(upId: number): void {
    if (upId === this.initializing) this.releaseHeld();
    const open = this.open.get(upId);
    if (!open) return;
    this.open.delete(upId);
    if (open.res && !open.res.readableEnded) open.req.destroy();
  }

  /**
   * Headers for a message, or undefined when its credentials could not be obtained (a token endpoint down, a
   * caller's token expired): the request fails with the reason, and nothing is left to reject unhandled.
   */
  private async credentialsFor(o: UpstreamSendOptions): Promise<Record<string, string> | undefined> {
    try {
      return await this.baseHeaders(o.principal);
    } catch (e) {
      if (o.kind === 'request' && o.upId !== undefined) this.onrequestfailed?.(o.upId, { code: ErrorCode.UpstreamFailed, message: 'Could not obtain upstream credentials', detail: (e as Error).message });
      else this.opts.log.warn({ server: this.opts.server, err: (e as Error).message }, 'could not obtain upstream credentials; a message was not sent');
      return undefined;
    }
  }

  private async post(text: string, o: UpstreamSendOptions, retried = false): Promise<void> {
    const headers = await this.credentialsFor(o);
    if (!headers) return;
    headers['content-type'] = 'application/json';
    headers['accept'] = 'application/json, text/event-stream';
    if (o.era === 'modern') {
      if (o.protocolVersion) headers['mcp-protocol-version'] = o.protocolVersion;
      if (o.method && o.kind !== 'response') {
        if (!sendableHeaderValue(o.method)) {
          // The 2026-07-28 protocol carries the method in a header, and the caller's method name cannot be one.
          const message = 'Invalid Request: this method name cannot be carried in the Mcp-Method header (a line break or a character past U+00FF)';
          if (o.kind === 'request' && o.upId !== undefined) this.onrequestfailed?.(o.upId, { code: ErrorCode.InvalidRequest, message });
          else this.opts.log.warn({ server: this.opts.server }, 'a notification whose method cannot be sent as Mcp-Method was not sent upstream');
          return;
        }
        headers['mcp-method'] = o.method;
      }
      if (o.mcpName !== undefined) headers['mcp-name'] = encodeHeaderValue(o.mcpName);
      if (o.headers) for (const [k, v] of Object.entries(o.headers)) if (k.startsWith('mcp-param-')) headers[k] = v;
    } else {
      if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
      if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    }
    const body = Buffer.from(text, 'utf8');
    headers['content-length'] = String(body.length);
    const req = this.request(this.url, { method: 'POST', headers, agent: this.agent });
    const isRequest = o.kind === 'request' && o.upId !== undefined;
    const entry: OpenRequest = { req, principal: o.principal, res: undefined, lastEventId: undefined, retryMs: 1000, resumes: 0 };
    if (isRequest) this.open.set(o.upId!, entry);
    req.on('response', (res) => {
      entry.res = res;
      if (res.statusCode === 401 && !retried && this.opts.unauthorized) {
        res.resume();
        const challenge = res.headers['www-authenticate'];
        this.opts.unauthorized(typeof challenge === 'string' ? challenge : undefined, o.principal).then(
          (again) => {
            if (again && !this.closed) return this.post(text, o, true);
            if (isRequest && this.open.get(o.upId!) === entry) {
              this.open.delete(o.upId!);
              this.onrequestfailed?.(o.upId!, { code: ErrorCode.UpstreamFailed, message: 'Upstream answered HTTP 401 (the proxy has no valid credential for it)', status: 401 });
            }
            return undefined;
          },
          (err: Error) => {
            this.opts.log.warn({ server: this.opts.server, err: err.message }, 'could not obtain an upstream credential');
            if (isRequest && this.open.get(o.upId!) === entry) {
              this.open.delete(o.upId!);
              this.onrequestfailed?.(o.upId!, { code: ErrorCode.UpstreamFailed, message: 'Upstream needs a login that did not complete', detail: err.message, status: 401 });
            }
          },
        );
        return;
      }
      this.onPostResponse(res, text, o, entry);
    });
    req.on('error', (err) => {
      if (this.closed) return;
      if (isRequest && this.open.get(o.upId!) === entry) {
        this.open.delete(o.upId!);
        this.onrequestfailed?.(o.upId!, { code: ErrorCode.UpstreamFailed, message: 'Upstream unreachable', detail: err.message });
      } else if (!isRequest) this.opts.log.warn({ server: this.opts.server, err: err.message }, 'could not deliver a message upstream');
    });
    req.end(body);
  }

  private onPostResponse(res: IncomingMessage, text: string, o: UpstreamSendOptions, entry: OpenRequest): void {
    const sid = res.headers['mcp-session-id'];
    if (typeof sid === 'string' && o.era !== 'modern' && /^[\x21-\x7e]{1,256}$/.test(sid)) this.sessionId = sid;
    const status = res.statusCode ?? 0;
    const upId = o.kind === 'request' ? o.upId : undefined;
    // The session id is known (or the server gave none); unless the server is about to be retried over the legacy
    // SSE transport, what waited can go. (Otherwise it goes when `initialize` is answered: requestDone.)
    if (upId !== undefined && upId === this.initializing && !this.fallsBack(status, o)) this.releaseHeld();
    if (status === 202 || status === 204) {
      res.resume();
      if (upId !== undefined) this.open.delete(upId);
      if (o.method === 'notifications/initialized' && o.era !== 'modern') this.openGetStream();
      return;
    }
    if (status >= 200 && status < 300) {
      const type = String(res.headers['content-type'] ?? '');
      if (type.includes('text/event-stream')) {
        this.readEventStream(res, upId, entry);
        return;
      }
      this.readBody(res, this.opts.maxMessageBytes, (body, bytes, utf8) => {
        if (upId !== undefined) this.open.delete(upId);
        if (body === undefined) {
          if (upId !== undefined) this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: `Upstream response exceeds ${this.opts.maxMessageBytes} bytes` });
          return;
        }
        if (body.trim() === '') {
          if (upId !== undefined) this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: `Upstream answered HTTP ${status} without a body` });
          return;
        }
        this.onmessage?.(body, bytes, upId, utf8);
      });
      return;
    }
    // Not 2xx.
    if (this.fallsBack(status, o)) {
      res.resume();
      if (upId !== undefined) this.open.delete(upId);
      this.fellBack = true;
      this.opts.log.info({ server: this.opts.server, status }, 'upstream does not speak Streamable HTTP; trying the legacy HTTP+SSE transport');
      this.mode = 'sse';
      this.kind = 'sse';
      this.openSseStream().then(
        () => this.send(text, o),
        (err: Error) => {
          if (upId !== undefined) this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: `Upstream answered HTTP ${status} and the legacy SSE transport failed too`, detail: err.message });
        },
      );
      return;
    }
    this.readBody(res, MAX_ERROR_BODY, (body) => {
      if (upId !== undefined) this.open.delete(upId);
      if (status === 404 && this.sessionId && o.era !== 'modern') {
        this.sessionId = undefined;
        if (upId !== undefined) this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: 'The upstream session expired (HTTP 404)', status });
        this.onclose?.({ reason: 'lost its session (HTTP 404)', unexpected: true });
        return;
      }
      // A JSON-RPC error body is the server's answer (2026 ladder errors come as 400 with a body).
      const rpc = body ? asJsonRpcError(body, upId) : undefined;
      if (rpc && upId !== undefined) {
        this.onmessage?.(rpc, Buffer.byteLength(rpc), upId);
        return;
      }
      const why = status === 401 || status === 403 ? ` (the upstream refused the proxy's credentials)` : '';
      if (upId !== undefined) this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: `Upstream answered HTTP ${status}${why}`, status });
      else this.opts.log.warn({ server: this.opts.server, status, method: o.method }, 'upstream refused a message');
    });
  }

  /** A legacy `initialize` refused this way means the server speaks the older HTTP+SSE transport: try that. */
  private fallsBack(status: number, o: UpstreamSendOptions): boolean {
    return o.method === 'initialize' && o.era !== 'modern' && !this.fellBack && this.opts.transport === 'streamable-http' && (status === 400 || status === 404 || status === 405);
  }

  /** `utf8`: the body's bytes when a frame would keep them (long enough) and they are valid UTF-8. */
  private readBody(res: IncomingMessage, max: number, done: (body: string | undefined, bytes: number, utf8?: Buffer) => void): void {
    // Collected in slabs: a server trickling a byte per packet must not cost an object per byte.
    const body = new ByteCollector();
    let over = false;
    res.on('data', (c: Buffer) => {
      if (over) return;
      if (body.size + c.length > max) {
        over = true;
        const size = body.size + c.length;
        body.clear();
        res.destroy();
        done(undefined, size);
        return;
      }
      body.push(c);
    });
    res.on('end', () => {
      if (over) return;
      const size = body.size;
      const buf = body.take();
      done(buf.toString('utf8'), size, size >= KEEP_UTF8_BYTES && isUtf8(buf) ? buf : undefined);
    });
    res.on('error', () => {
      if (over) return;
      const size = body.size;
      done(body.take().toString('utf8'), size);
    });
  }

  private readEventStream(res: IncomingMessage, upId: number | undefined, entry: OpenRequest): void {
    const parser = new SseParser(
      this.opts.maxMessageBytes,
      (ev) => {
        if (ev.retry !== undefined) entry.retryMs = ev.retry;
        if (ev.id !== undefined) entry.lastEventId = resumableId(ev.id);
        if (ev.event !== 'message' || ev.data === '') return;
        this.onmessage?.(ev.data, Buffer.byteLength(ev.data), upId);
      },
      (bytes) => this.onbadmessage?.('oversize', '', bytes),
    );
    res.on('data', (c: Buffer) => parser.push(c));
    const ended = () => {
      parser.end();
      if (upId === undefined || this.closed || this.open.get(upId) !== entry) return;
      // The stream ended before the answer. Legacy servers may close on purpose (SSE polling): resume.
      if (entry.lastEventId !== undefined && entry.resumes < 10) {
        entry.resumes++;
        setTimeout(() => void this.resumeStream(upId, entry), Math.min(entry.retryMs, 30_000)).unref();
        return;
      }
      this.open.delete(upId);
      this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: 'The upstream closed the response stream before answering' });
    };
    res.on('end', ended);
    res.on('error', ended);
  }

  private async resumeStream(upId: number, entry: OpenRequest): Promise<void> {
    if (this.closed || this.open.get(upId) !== entry) return;
    const headers = await this.baseHeaders(entry.principal).catch(() => undefined);
    if (!headers) return;
    headers['accept'] = 'text/event-stream';
    headers['last-event-id'] = entry.lastEventId!;
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    const req = this.request(this.url, { method: 'GET', headers, agent: this.agent });
    entry.req = req;
    req.on('response', (res) => {
      entry.res = res;
      if (res.statusCode !== 200) {
        res.resume();
        this.open.delete(upId);
        this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: `Could not resume the upstream response stream (HTTP ${res.statusCode})` });
        return;
      }
      this.readEventStream(res, upId, entry);
    });
    req.on('error', (err) => {
      if (this.open.get(upId) !== entry) return;
      this.open.delete(upId);
      this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: `Could not resume the upstream response stream: ${err.message}` });
    });
    req.end();
  }

  /** Legacy Streamable HTTP: the GET stream carries what the server sends outside any request. */
  private openGetStream(): void {
    if (this.closed || this.getStream || this.mode !== 'streamable') return;
    this.baseHeaders().then((headers) => {
      if (this.closed) return;
      headers['accept'] = 'text/event-stream';
      if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
      if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
      if (this.getLastEventId) headers['last-event-id'] = this.getLastEventId;
      const req = this.request(this.url, { method: 'GET', headers, agent: this.agent });
      this.getStream = req;
      req.on('response', (res) => {
        if (res.statusCode === 405) {
          res.resume();
          return; // the server has no GET stream; keep getStream set so we do not retry
        }
        if (res.statusCode !== 200) {
          res.resume();
          this.retryGetStream();
          return;
        }
        this.getFailures = 0;
        const parser = new SseParser(
          this.opts.maxMessageBytes,
          (ev) => {
            if (ev.retry !== undefined) this.getRetryMs = ev.retry;
            if (ev.id !== undefined) this.getLastEventId = resumableId(ev.id);
            if (ev.event === 'message' && ev.data) this.onmessage?.(ev.data, Buffer.byteLength(ev.data), undefined);
          },
          (bytes) => this.onbadmessage?.('oversize', '', bytes),
        );
        res.on('data', (c: Buffer) => parser.push(c));
        res.on('end', () => this.retryGetStream());
        res.on('error', () => this.retryGetStream());
      });
      req.on('error', () => this.retryGetStream());
      req.end();
    }, (e: Error) => {
      // No credentials for the stream right now (a token endpoint down): try again later, as after a failed stream.
      this.opts.log.warn({ server: this.opts.server, err: e.message }, 'could not obtain upstream credentials for the GET stream');
      this.retryGetStream();
    });
  }

  private retryGetStream(): void {
    this.getStream = undefined;
    if (this.closed || !this.sessionId) return;
    this.getFailures++;
    if (this.getFailures > 8) {
      this.opts.log.warn({ server: this.opts.server }, 'upstream GET stream keeps failing; giving up on it');
      return;
    }
    const delay = Math.min(this.getRetryMs * 2 ** (this.getFailures - 1), 30_000);
    setTimeout(() => this.openGetStream(), delay).unref();
  }

  // ───────────── legacy HTTP+SSE ─────────────

  private openSseStream(): Promise<void> {
    return new Promise((resolve, reject) => {
      void this.baseHeaders().then((headers) => {
        headers['accept'] = 'text/event-stream';
        const req = this.request(this.url, { method: 'GET', headers, agent: this.agent });
        const timer = setTimeout(() => {
          req.destroy();
          reject(new Error('no endpoint event from the SSE server'));
        }, Math.min(this.opts.requestTimeoutMs, 30_000));
        req.on('response', (res) => {
          if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').includes('text/event-stream')) {
            res.resume();
            clearTimeout(timer);
            reject(new Error(`the SSE endpoint answered HTTP ${res.statusCode}`));
            return;
          }
          const parser = new SseParser(
            this.opts.maxMessageBytes,
            (ev) => {
              if (ev.event === 'endpoint') {
                let endpoint: URL;
                try {
                  endpoint = new URL(ev.data, this.url);
                } catch {
                  return;
                }
                if (endpoint.origin !== this.url.origin) {
                  this.opts.log.warn({ server: this.opts.server }, 'SSE endpoint on another origin refused');
                  return;
                }
                this.sseEndpoint = endpoint;
                clearTimeout(timer);
                resolve();
                const queued = this.sseQueue;
                this.sseQueue = [];
                for (const run of queued) run();
                return;
              }
              if (ev.event === 'message' && ev.data) this.onmessage?.(ev.data, Buffer.byteLength(ev.data), undefined);
            },
            (bytes) => this.onbadmessage?.('oversize', '', bytes),
          );
          res.on('data', (c: Buffer) => parser.push(c));
          const lost = () => {
            clearTimeout(timer);
            if (!this.closed) this.onclose?.({ reason: 'closed its SSE stream', unexpected: true });
          };
          res.on('end', lost);
          res.on('error', lost);
        });
        req.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        this.getStream = req;
        req.end();
      }, reject);
    });
  }

  private async postSse(text: string, o: UpstreamSendOptions): Promise<void> {
    const headers = await this.credentialsFor(o);
    if (!headers) return;
    headers['content-type'] = 'application/json';
    const body = Buffer.from(text, 'utf8');
    headers['content-length'] = String(body.length);
    const req = this.request(this.sseEndpoint!, { method: 'POST', headers, agent: this.agent });
    const upId = o.kind === 'request' ? o.upId : undefined;
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if ((status < 200 || status >= 300) && upId !== undefined) {
        this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: `Upstream answered HTTP ${status}`, status });
      }
    });
    req.on('error', (err) => {
      if (upId !== undefined) this.onrequestfailed?.(upId, { code: ErrorCode.UpstreamFailed, message: 'Upstream unreachable', detail: err.message });
    });
    req.end(body);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.heldForInit = [];
    for (const o of this.open.values()) o.req.destroy();
    this.open.clear();
    this.getStream?.destroy();
    if (this.sessionId && this.mode === 'streamable') {
      const headers = await this.baseHeaders().catch(() => ({}) as Record<string, string>);
      headers['mcp-session-id'] = this.sessionId;
      if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
      await new Promise<void>((resolve) => {
        const req = this.request(this.url, { method: 'DELETE', headers, agent: this.agent, timeout: 1000 });
        req.on('response', (res) => {
          res.resume();
          resolve();
        });
        req.on('error', () => resolve());
        req.on('timeout', () => {
          req.destroy();
          resolve();
        });
        req.end();
      });
    }
    this.agent.destroy();
  }
}

function cancelledRequestId(text: string): number | undefined {
  try {
    const m = JSON.parse(text) as { params?: { requestId?: unknown } };
    return typeof m.params?.requestId === 'number' ? m.params.requestId : undefined;
  } catch {
    return undefined;
  }
}

/** A JSON-RPC error in an HTTP error body, addressed to our request (an id of null becomes ours). */
function asJsonRpcError(body: string, upId: number | undefined): string | undefined {
  try {
    const v: unknown = JSON.parse(body);
    if (!isObject(v) || !isObject(v['error'])) return undefined;
    const e = v['error'];
    if (typeof e['code'] !== 'number' || typeof e['message'] !== 'string') return undefined;
    if (upId === undefined) return undefined;
    return JSON.stringify(errorResponse(upId, e['code'], e['message'], e['data']));
  } catch {
    return undefined;
  }
}

/** What `request` returns for a request Node refused to make: it only fails. */
class Unsent extends EventEmitter {
  destroyed = false;
  end(): this {
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

/**
 * An SSE event id kept for Last-Event-ID, or undefined: the server's text goes back in a header, so one that
 * cannot be a header value (or is absurdly long) is not kept, and that stream cannot be resumed.
 */
function resumableId(id: string): string | undefined {
  return id.length <= 1024 && /^[\x20-\x7e]*$/.test(id) ? id : undefined;
}
