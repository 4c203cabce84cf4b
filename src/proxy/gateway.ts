/**
 * `serve`: one HTTP front for every configured server.
 *
 *   /<name>/mcp      Streamable HTTP, both eras on one endpoint (and /mcp when only one server is configured)
 *   /<name>/sse      legacy HTTP+SSE stream, with /<name>/message for its POSTs
 *   /<name>/ws       WebSocket (subprotocol `mcp`), both eras, one session per connection (and /ws with one server)
 *   /healthz /readyz liveness and readiness; /metrics (Prometheus)
 *
 * Era is decided per message from the body (an `initialize` is legacy; a `_meta` envelope is modern); headers are
 * only a cross-check. Legacy sessions get a random id and are bound to the principal that opened them; modern
 * traffic is served by one session per principal. A stdio child never serves two principals unless the server
 * says `isolation: shared`.
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import type { ServerConfig, WardenConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { envelopeVersion, hasEnvelopeClaim, isModernVersion, LEGACY_VERSIONS, META, MODERN_VERSIONS } from '../protocol/eras.js';
import { parseFrame, type Frame, type Wire } from '../protocol/frame.js';
import { checkParamHeaders, checkStandardHeaders, headerDeclarations, quotedString } from '../protocol/headers.js';
import { ErrorCode, errorResponse, isObject, type JsonRpcId, type JsonRpcRequest } from '../protocol/jsonrpc.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { principalKey, type Principal, type TransportKind } from '../pipeline/types.js';
import {
  BodyError,
  checkHostAndOrigin,
  headerMap,
  HttpReply,
  isLoopbackHost,
  prefersEventStream,
  readBody,
  sendJson,
  sendStatus,
  SseStream,
  type OriginPolicy,
} from '../transports/http-server.js';
import type { Downstream, Upstream } from '../transports/types.js';
import { keepAlive } from '../transports/ws-common.js';
import { offeredProtocols, upgradeResponse, WsClose, WsDownstream } from '../transports/ws-server.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { Session, type SessionEvents } from './session.js';
import { SharedPort, SharedUpstream } from './shared.js';
import { clientAddress } from '../transports/proxies.js';

export interface AuthResult {
  principal?: Principal;
  /** The refusal was already written (401/403). */
  refused?: boolean;
}

export interface GatewayHooks {
  /** Authenticates one HTTP request for an endpoint; without it every caller is anonymous. */
  authenticate?(req: IncomingMessage, res: ServerResponse, endpoint: { server: string; path: string }): Promise<AuthResult>;
  /** Extra routes (well-known metadata, metrics) tried before the MCP routes; return true when handled. */
  route?(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> | boolean;
  /** Undefined when ready; else why not (shown on /readyz). */
  readiness?(): string | undefined;
  /** `/metrics` (Prometheus text); answered before the Host check, like /healthz, for loopback scrapers. */
  metrics?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** WWW-Authenticate for a 403 insufficient_scope. */
  scopeChallenge?(server: string, scopes: string[]): string;
}

export interface GatewayOptions {
  config: WardenConfig;
  pipeline: Pipeline;
  log: Logger;
  upstreams: Map<string, (principal?: Principal) => Upstream>;
  events?: SessionEvents;
  hooks?: GatewayHooks;
  keepAliveMs?: number;
  /** Called with the bound base URL (resource URIs default to it when no public_url is configured). */
  onListening?: (base: string) => void;
  /** The address a request came from (`listen.trusted_proxies` reads it behind a reverse proxy); else the socket's peer. */
  clientAddress?: (req: IncomingMessage) => string;
}

const ANONYMOUS: Principal = { sub: 'anonymous', kind: 'anonymous', scopes: [], claims: {} };


/** Messages for a legacy session that belong to no open request: the GET stream, or a bounded queue until one opens. */
class SessionChannel implements Downstream {
  readonly kind: TransportKind;
  stream: SseStream | undefined;
  private queue: string[] = [];
  private queued = 0;
  dropped = 0;

  constructor(kind: TransportKind, private readonly maxQueued: number) {
    this.kind = kind;
  }

  send(wire: Wire): boolean {
    // Server-sent events carry text.
    const text = String(wire);
    if (this.stream && !this.stream.closed) {
      if (this.stream.buffered > this.maxQueued) {
        this.dropped++;
        return false;
      }
      return this.stream.send(text);
    }
    if (this.kind === 'sse') return false;
    if (this.queued + text.length > this.maxQueued) {
      this.dropped++;
      return false;
    }
    this.queue.push(text);
    this.queued += text.length;
    return true;
  }

  attach(stream: SseStream): void {
    this.stream = stream;
    const q = this.queue;
    this.queue = [];
    this.queued = 0;
    for (const t of q) stream.send(t);
  }
}

/** Modern era: the server must not send anything outside a request; what it does send is logged and dropped. */
class NoChannel implements Downstream {
  readonly kind = 'http' as const;
  constructor(private readonly log: Logger, private readonly server: string) {}
  send(): boolean {
    this.log.debug({ server: this.server }, 'server message outside any request dropped (2026-07-28 has no such channel)');
    return true;
  }
}

interface LegacyEntry {
  session: Session;
  channel: SessionChannel;
  principal: string;
}

interface Endpoint {
  server: ServerConfig;
  makeUpstream: (principal?: Principal) => Upstream;
  /** isolation: shared (command servers): one child for every session. */
  shared: SharedUpstream | undefined;
  legacy: Map<string, LegacyEntry>;
  modern: Map<string, Session>;
  /** One session per WebSocket connection. */
  ws: Map<string, Session>;
  /** Sessions being created, so the cap counts them too. */
  starting: number;
  /** The same per principal (max_sessions_per_principal). */
  startingBy: Map<string, number>;
}

export class Gateway {
  private readonly server: http.Server;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly origin: OriginPolicy;
  private readonly reaper: NodeJS.Timeout;
  private draining = false;
  private readonly sockets = new Set<Socket>();
  private readonly keepAliveMs: number;
  private readonly wss: WebSocketServer;

  constructor(private readonly opts: GatewayOptions) {
    const { config } = opts;
    this.keepAliveMs = opts.keepAliveMs ?? 15_000;
    for (const s of config.servers) {
      const make = opts.upstreams.get(s.name)!;
      const shared = s.isolation === 'shared' && s.command ? new SharedUpstream(make, opts.log) : undefined;
      this.endpoints.set(s.name, { server: s, makeUpstream: shared ? () => shared.port() : make, shared, legacy: new Map(), modern: new Map(), ws: new Map(), starting: 0, startingBy: new Map() });
    }
    const hosts = new Set(config.listen.allowedHosts.map((h) => h.toLowerCase()));
    const origins = new Set<string>();
    for (const o of config.listen.allowedOrigins) {
      try {
        origins.add(new URL(o).origin);
      } catch {
        /* schema-checked */
      }
    }
    if (config.listen.publicUrl) {
      const u = new URL(config.listen.publicUrl);
      hosts.add(u.hostname.toLowerCase().startsWith('[') ? u.hostname.toLowerCase() : u.hostname.toLowerCase());
      origins.add(u.origin);
    }
    const loopback = isLoopbackHost(config.listen.host);
    this.origin = { loopback, hosts, origins, anyHost: !loopback && hosts.size === 0 };
    this.server = http.createServer(
      {
        maxHeaderSize: config.limits.maxHeaderBytes,
        headersTimeout: 10_000,
        requestTimeout: 60_000,
        // Node enforces the two timeouts above only when it checks, every 30 s by default: a slow-loris client
        // would hold its socket up to 40 s. Check every second.
        connectionsCheckingInterval: 1_000,
        keepAliveTimeout: 5_000,
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.on('connection', (socket: Socket) => {
      socket.setKeepAlive(true, 30_000);
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (socket.writable) {
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      } else socket.destroy();
    });
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: config.limits.maxMessageBytes,
      handleProtocols: (offered) => (offered.has('mcp') ? 'mcp' : false),
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.upgrade(req, socket, head));
    // Often enough that a short idle_timeout_s is kept to within half of it; at most every 5 s.
    const shortestIdle = Math.min(...config.servers.map((s) => s.idleTimeoutMs || Infinity));
    this.reaper = setInterval(() => this.reap(), Math.max(250, Math.min(5_000, shortestIdle / 2)));
    this.reaper.unref();
  }

  get anyHostAccepted(): boolean {
    return this.origin.anyHost;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const addr = this.server.address() as AddressInfo;
        this.opts.onListening?.(`http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`);
        resolve(addr);
      });
    });
  }

  /** Sessions per server (for metrics and tests). */
  sessionCount(name?: string): number {
    let n = 0;
    for (const [k, ep] of this.endpoints) if (!name || k === name) n += ep.legacy.size + ep.modern.size + ep.ws.size;
    return n;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        const why = this.draining ? 'shutting down' : this.opts.hooks?.readiness?.();
        return sendJson(res, why ? 503 : 200, why ? { status: 'unavailable', reason: why } : { status: 'ready' });
      }
      if (path === '/metrics' && this.opts.hooks?.metrics) return await this.opts.hooks.metrics(req, res);
      if (this.foreignHostOrOrigin(req, res, path)) return;
      const cors = this.corsHeaders(req);
      for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
      if (req.method === 'OPTIONS') return sendStatus(res, 204, { 'access-control-max-age': '600' });
      if (this.opts.hooks?.route && (await this.opts.hooks.route(req, res, path))) return;
      const m = /^\/(?:([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/)?(mcp|sse|message)$/.exec(path);
      if (!m) return sendJson(res, 404, errorResponse(null, -32000, 'Not found'));
      const ep = this.endpointFor(m[1]);
      if (!ep) return sendJson(res, 404, errorResponse(null, -32000, m[1] ? `No server named ${JSON.stringify(m[1])}` : 'Not found: use /<server>/mcp'));
      if (this.draining) return sendJson(res, 503, errorResponse(null, ErrorCode.Overloaded, 'Shutting down'), { 'retry-after': '5' });
      const auth = this.opts.hooks?.authenticate ? await this.opts.hooks.authenticate(req, res, { server: ep.server.name, path }) : { principal: ANONYMOUS };
      if (auth.refused || !auth.principal) return;
      const principal = auth.principal;
      if (m[2] === 'mcp') {
        if (req.method === 'POST') return await this.post(ep, req, res, principal);
        if (req.method === 'GET') return this.getStream(ep, req, res, principal);
        if (req.method === 'DELETE') return await this.deleteSession(ep, req, res, principal);
        return sendJson(res, 405, errorResponse(null, -32000, 'Method not allowed'), { allow: 'GET, POST, DELETE' });
      }
      if (m[2] === 'sse' && req.method === 'GET') return await this.openSse(ep, req, res, principal);
      if (m[2] === 'message' && req.method === 'POST') return await this.postSse(ep, req, res, principal);
      return sendJson(res, 405, errorResponse(null, -32000, 'Method not allowed'));
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'request handling failed');
      if (!res.headersSent) sendJson(res, 500, errorResponse(null, ErrorCode.InternalError, 'Internal error'));
      else res.end();
    }
  }

  /** DNS-rebinding protection: refuses (403) a Host or Origin this gateway does not answer to; true when refused. */
  private foreignHostOrOrigin(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const bad = checkHostAndOrigin(req, this.origin);
    if (!bad) return false;
    this.opts.log.warn({ path, reason: bad, upgrade: req.headers.upgrade !== undefined }, 'request refused (DNS-rebinding protection)');
    sendJson(res, 403, errorResponse(null, -32000, `Forbidden: ${bad}`));
    return true;
  }

  // ───────────── WebSocket ─────────────

  /**
   * An upgrade request is checked like any other request (path, Host and Origin, draining, the bearer token) and
   * the upstream is started before the 101 goes out, so every refusal is an ordinary HTTP answer.
   */
  private async upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const res = upgradeResponse(req, socket);
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      const m = /^\/(?:([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/)?ws$/.exec(path);
      if (!m) return sendJson(res, 404, errorResponse(null, -32000, 'Not found: WebSocket connections go to /<server>/ws'));
      if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || req.method !== 'GET') {
        return sendJson(res, 400, errorResponse(null, -32000, 'Bad Request: only WebSocket upgrades are accepted here'));
      }
      if (this.foreignHostOrOrigin(req, res, path)) return;
      const ep = this.endpointFor(m[1]);
      if (!ep) return sendJson(res, 404, errorResponse(null, -32000, m[1] ? `No server named ${JSON.stringify(m[1])}` : 'Not found: use /<server>/ws'));
      if (this.draining) return sendJson(res, 503, errorResponse(null, ErrorCode.Overloaded, 'Shutting down'), { 'retry-after': '5' });
      const auth = this.opts.hooks?.authenticate ? await this.opts.hooks.authenticate(req, res, { server: ep.server.name, path }) : { principal: ANONYMOUS };
      if (auth.refused || !auth.principal) return;
      const principal = auth.principal;
      if (!offeredProtocols(req).includes('mcp')) {
        return this.badRequest(res, 400, -32000, 'Bad Request: a WebSocket client must offer the subprotocol "mcp" (Sec-WebSocket-Protocol)', null, ep.server.name);
      }
      if (typeof req.headers['sec-websocket-key'] !== 'string' || req.headers['sec-websocket-version'] !== '13') {
        return this.badRequest(res, 400, -32000, 'Bad Request: not a valid WebSocket handshake (version 13 with a key)', null, ep.server.name);
      }
      const pingMs = this.opts.config.limits.wsPingIntervalMs;
      const down = new WsDownstream(pingMs > 0 ? 2 * pingMs : 60_000);
      let session: Session;
      try {
        session = await this.newSession(ep, principal, 'websocket', down, this.sourceOf(req));
      } catch (e) {
        return this.startFailed(res, e, null, ep.server.name);
      }
      if (socket.destroyed || !socket.writable || this.draining) {
        await session.close(this.draining ? 'gateway shutting down' : 'client went away during the handshake');
        return void socket.destroy();
      }
      res.detachSocket(socket);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attachWebSocket(ep, session, ws, down, principal));
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'WebSocket upgrade failed');
      if (!res.headersSent && !socket.destroyed) sendJson(res, 500, errorResponse(null, ErrorCode.InternalError, 'Internal error'));
      else socket.destroy();
    }
  }

  private attachWebSocket(ep: Endpoint, session: Session, ws: WebSocket, down: WsDownstream, principal: Principal): void {
    const server = ep.server.name;
    down.attach(ws);
    ep.ws.set(session.id, session);
    down.onpressure = () => {
      ws.pause();
      session.pauseUpstream();
    };
    down.onrelief = () => {
      ws.resume();
      session.resumeUpstream();
    };
    const stopKeepAlive = keepAlive(ws, this.opts.config.limits.wsPingIntervalMs, () => {
      this.opts.log.warn({ server, session: session.id }, 'WebSocket client missed its pong; ending the connection');
      ws.terminate();
    });
    const cancelExpiry = atExpiry(principal, () => down.close(WsClose.TokenExpired, 'access token expired: reconnect with a fresh token'));
    const source = { server, transport: 'websocket' as const, session: session.id, principal };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.opts.events?.event('bad_input', source, { from: 'client', code: ErrorCode.InvalidRequest, reason: 'binary WebSocket frame', bytes: data.length });
        return down.close(WsClose.Unsupported, 'binary frames are not MCP messages: send one JSON-RPC message per text frame');
      }
      // ws checks that a text frame is valid UTF-8 (and closes the connection otherwise).
      session.receiveFromClient(data.toString('utf8'), data.length, undefined, undefined, data);
    });
    ws.on('error', (err: Error & { code?: string }) => {
      const reason =
        err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? `message over the limit of ${this.opts.config.limits.maxMessageBytes} bytes` : err.code === 'WS_ERR_INVALID_UTF8' ? 'text frame is not valid UTF-8' : err.message;
      this.opts.events?.event('bad_input', source, { from: 'client', code: err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? ErrorCode.LimitExceeded : ErrorCode.ParseError, reason });
      this.opts.log.warn({ server, session: session.id, reason }, 'WebSocket connection ended on bad input');
    });
    ws.on('close', () => {
      stopKeepAlive();
      cancelExpiry();
      void session.close('client closed the WebSocket');
    });
    session.onended = (reason) => {
      ep.ws.delete(session.id);
      const code = reason === 'gateway shutting down' ? WsClose.GoingAway : reason.startsWith('upstream') ? WsClose.UpstreamLost : WsClose.Normal;
      down.close(code, reason);
    };
  }

  /** The WWW-Authenticate value for a missing scope (the auth layer adds resource_metadata). */
  private challenge(ep: Endpoint): (scopes: string[]) => string {
    return (scopes) => this.opts.hooks?.scopeChallenge?.(ep.server.name, scopes) ?? `Bearer error="insufficient_scope", scope=${quotedString(scopes.join(' '))}`;
  }

  private corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    if (!origin) return {};
    return {
      'access-control-allow-origin': origin,
      vary: 'Origin',
      'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type, accept, last-event-id, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name, mcp-param-*',
      'access-control-expose-headers': 'mcp-session-id, www-authenticate',
    };
  }

  private endpointFor(name: string | undefined): Endpoint | undefined {
    if (name) return this.endpoints.get(name);
    return this.endpoints.size === 1 ? this.endpoints.values().next().value : undefined;
  }

  /**
   * Refuses a request before any session took it, and records it with the address it came from (read past
   * listen.trusted_proxies): the audit counts a flood of bad requests per source, so one client's stream of junk
   * does not hide another's, and a reviewer can tell who sent it.
   */
  private badRequest(res: ServerResponse, status: number, code: number, message: string, id: JsonRpcId | null, server: string, data?: unknown): void {
    const source = res.req ? this.sourceOf(res.req) : undefined;
    this.opts.events?.event('bad_input', { server, transport: 'http' }, { from: 'client', code, status, reason: message, ...(source ? { source } : {}) });
    sendJson(res, status, errorResponse(id, code, message, data));
  }

  private async readFrames(ep: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<{ frames: Frame[]; batch: boolean; text: string } | undefined> {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      this.badRequest(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json', null, ep.server.name);
      return undefined;
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.opts.config.limits.maxMessageBytes);
    } catch (e) {
      const be = e as BodyError;
      this.badRequest(res, be.status ?? 400, be.status === 413 ? ErrorCode.LimitExceeded : ErrorCode.ParseError, be.message, null, ep.server.name);
      return undefined;
    }
    if (!isUtf8(body)) {
      this.badRequest(res, 400, ErrorCode.ParseError, 'Parse error: the body is not valid UTF-8', null, ep.server.name);
      return undefined;
    }
    const text = body.toString('utf8');
    const parsed = parseFrame(text, { maxDepth: this.opts.config.limits.maxJsonDepth }, body.length, body);
    if (!parsed.ok) {
      this.badRequest(res, 400, parsed.code, parsed.message, parsed.id, ep.server.name);
      return undefined;
    }
    return { frames: parsed.frames, batch: parsed.batch, text };
  }

  private async post(ep: Endpoint, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const accept = String(req.headers['accept'] ?? '');
    if (!accept.includes('*/*') && !(accept.includes('application/json') && accept.includes('text/event-stream'))) {
      return this.badRequest(res, 406, -32000, 'Not Acceptable: the client must accept application/json and text/event-stream', null, ep.server.name);
    }
    const read = await this.readFrames(ep, req, res);
    if (!read) return;
    const headers = headerMap(req);
    const { frames, batch } = read;
    const first = frames[0]!;
    const firstMsg = first.message as JsonRpcRequest;
    const headerVersion = headers['mcp-protocol-version'];
    if (batch) {
      if (frames.some((f) => hasEnvelopeClaim((f.message as JsonRpcRequest).params))) {
        return this.badRequest(res, 400, ErrorCode.InvalidRequest, 'Invalid Request: batches cannot carry 2026-07-28 requests', null, ep.server.name);
      }
    } else if (first.kind !== 'response' && hasEnvelopeClaim(firstMsg.params)) {
      return this.postModern(ep, first, headers, res, principal, req);
    }
    if (!batch && first.kind === 'request' && firstMsg.method === 'initialize') {
      if (headerVersion !== undefined && isModernVersion(headerVersion)) {
        return this.badRequest(res, 400, ErrorCode.HeaderMismatch, 'Bad Request: an initialize request was sent with a 2026-07-28 MCP-Protocol-Version header', firstMsg.id, ep.server.name);
      }
      return this.initialize(ep, first, headers, res, principal, req);
    }
    if (!batch && first.kind === 'request' && headerVersion !== undefined && isModernVersion(headerVersion)) {
      return this.badRequest(res, 400, ErrorCode.InvalidParams, `Invalid params: the request has no _meta["${META.protocolVersion}"] envelope but MCP-Protocol-Version names ${headerVersion}`, firstMsg.id, ep.server.name);
    }
    // Legacy session traffic.
    const sid = headers['mcp-session-id'];
    const id = first.kind === 'request' ? firstMsg.id : null;
    if (!sid) return this.badRequest(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required', id, ep.server.name);
    const entry = ep.legacy.get(sid);
    if (!entry || entry.principal !== principalKey(principal)) {
      return sendJson(res, 404, errorResponse(id, -32001, 'Session not found'));
    }
    entry.session.principal = principal;
    if (headerVersion !== undefined && !(LEGACY_VERSIONS as readonly string[]).includes(headerVersion)) {
      return this.badRequest(res, 400, -32000, `Bad Request: unsupported protocol version ${headerVersion}`, id, ep.server.name);
    }
    const requests = frames.filter((f) => f.kind === 'request');
    for (const f of frames) if (f.kind !== 'request') entry.session.clientFrame(f, undefined, headers);
    if (requests.length === 0) return sendStatus(res, 202);
    if (requests.length === 1 && !batch) {
      const reply = new HttpReply(res, {}, this.keepAliveMs, undefined, (t, own) => answerStatus(t, false, this.challenge(ep), own), prefersEventStream(headers['accept']));
      entry.session.clientFrame(requests[0]!, reply, headers);
      return;
    }
    // A 2025-03-26 batch: answers go out as events of one stream.
    const multi = new BatchReply(res, requests.length, this.keepAliveMs);
    for (const f of requests) entry.session.clientFrame(f, multi, headers);
  }

  /** Where a request came from (past listen.trusted_proxies), for the `session_start` it opens and a refusal's `bad_input`. */
  private sourceOf(req: IncomingMessage): string {
    return this.opts.clientAddress?.(req) ?? clientAddress(req);
  }

  private async newSession(ep: Endpoint, principal: Principal, transport: TransportKind, downstream: Downstream, source: string): Promise<Session> {
    const { server } = ep;
    if (ep.legacy.size + ep.modern.size + ep.ws.size + ep.starting >= server.maxSessions) throw new CapError(`Too many sessions for ${server.name} (limit ${server.maxSessions})`);
    // One caller cannot take every session (each may be a child process) and lock the others out.
    const who = principalKey(principal);
    const perPrincipal = server.maxSessionsPerPrincipal ?? server.maxSessions;
    if (perPrincipal < server.maxSessions && (ep.startingBy.get(who) ?? 0) + this.sessionsOf(ep).filter((s) => principalKey(s.principal) === who).length >= perPrincipal) {
      throw new CapError(`Too many sessions for ${server.name} from this caller (limit ${perPrincipal}); close one (DELETE) or wait for an idle one to end`);
    }
    ep.starting++;
    ep.startingBy.set(who, (ep.startingBy.get(who) ?? 0) + 1);
    let upstream: Upstream;
    try {
      // Inside the try: making one can fail too (a URL upstream reads its token file per session), and the counts
      // above must come down again, or every failed start held a session slot for good.
      upstream = ep.makeUpstream(principal);
      await upstream.start();
    } catch (e) {
      const why = (e as Error).message;
      this.opts.log.error({ server: server.name, err: why }, 'could not start the upstream');
      this.opts.events?.event('upstream_spawn', { server: server.name, principal, transport }, { status: 'failed', reason: `could not start the upstream: ${why}` });
      throw new UpstreamStartError(why);
    } finally {
      ep.starting--;
      const n = (ep.startingBy.get(who) ?? 1) - 1;
      if (n > 0) ep.startingBy.set(who, n);
      else ep.startingBy.delete(who);
    }
    const limits = this.opts.config.limits;
    const session = new Session({
      id: randomBytes(24).toString('base64url'),
      server: server.name,
      transport,
      principal,
      pipeline: this.opts.pipeline,
      upstream,
      downstream,
      limits: { maxMessageBytes: limits.maxMessageBytes, maxJsonDepth: limits.maxJsonDepth, requestTimeoutMs: limits.requestTimeoutMs, maxInflight: server.maxInflight },
      log: this.opts.log,
      events: this.opts.events,
      onUpstreamLoss: 'end',
      sharedUpstream: ep.shared !== undefined,
      allocateUpId: ep.shared?.allocateId,
      startFields: { source },
    });
    if (upstream instanceof SharedPort) upstream.sessionId = session.id;
    return session;
  }

  private startFailed(res: ServerResponse, e: unknown, id: JsonRpcId | null, server: string): void {
    if (e instanceof CapError) {
      this.opts.events?.event('overloaded', { server, transport: 'http' }, { reason: e.message });
      return sendJson(res, 503, errorResponse(id, ErrorCode.Overloaded, e.message), { 'retry-after': '5' });
    }
    // Why is for the operator (the log and the audit trail have it): it names the gateway's own files and commands.
    return sendJson(res, 502, errorResponse(id, ErrorCode.UpstreamFailed, `Upstream server ${JSON.stringify(server)} could not be started; the gateway's log and audit trail say why`));
  }

  private async initialize(ep: Endpoint, frame: Frame, headers: Record<string, string>, res: ServerResponse, principal: Principal, req: IncomingMessage): Promise<void> {
    const id = (frame.message as JsonRpcRequest).id;
    const channel = new SessionChannel('http', 4 * 1024 * 1024);
    let session: Session;
    try {
      session = await this.newSession(ep, principal, 'http', channel, this.sourceOf(req));
    } catch (e) {
      return this.startFailed(res, e, id, ep.server.name);
    }
    const entry: LegacyEntry = { session, channel, principal: principalKey(principal) };
    ep.legacy.set(session.id, entry);
    session.onended = () => {
      ep.legacy.delete(session.id);
      channel.stream?.close();
    };
    const reply = new HttpReply(res, { 'mcp-session-id': session.id }, this.keepAliveMs, undefined, undefined, prefersEventStream(headers['accept']));
    session.clientFrame(frame, reply, headers);
  }

  private async postModern(ep: Endpoint, frame: Frame, headers: Record<string, string>, res: ServerResponse, principal: Principal, req: IncomingMessage): Promise<void> {
    const msg = frame.message as JsonRpcRequest;
    const isRequest = frame.kind === 'request';
    const id = isRequest ? msg.id : null;
    const version = envelopeVersion(msg.params);
    const meta = (msg.params as { _meta: Record<string, unknown> })._meta;
    // Ladder order (2026-07-28): header/body cross-check, envelope, supported version, header presence.
    const hv = headers['mcp-protocol-version'];
    if (hv !== undefined && version !== undefined && hv !== version) {
      return this.badRequest(res, 400, ErrorCode.HeaderMismatch, `Bad Request: the request headers and body disagree: MCP-Protocol-Version is ${hv} but the body names ${version}`, id, ep.server.name);
    }
    const hm = headers['mcp-method'];
    if (hm !== undefined && hm !== msg.method) {
      return this.badRequest(res, 400, ErrorCode.HeaderMismatch, `Bad Request: the request headers and body disagree: Mcp-Method is ${hm} but the body names ${msg.method}`, id, ep.server.name);
    }
    if (version === undefined) return this.badRequest(res, 400, ErrorCode.InvalidParams, `Invalid params: _meta["${META.protocolVersion}"] must be a string`, id, ep.server.name);
    if (isRequest && !isObject(meta[META.clientCapabilities])) {
      return this.badRequest(res, 400, ErrorCode.InvalidParams, `Invalid params: _meta["${META.clientCapabilities}"] must be an object`, id, ep.server.name);
    }
    if (!(MODERN_VERSIONS as readonly string[]).includes(version)) {
      // Only the versions this path serves; legacy ones are reached through initialize.
      return this.badRequest(res, 400, ErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${version}`, id, ep.server.name, { supported: [...MODERN_VERSIONS], requested: version });
    }
    const mismatch = checkStandardHeaders(headers, msg.method, msg.params, version, isRequest);
    if (mismatch) return this.badRequest(res, mismatch.status, mismatch.code, mismatch.message, id, ep.server.name);
    const key = principalKey(principal);
    let session = ep.modern.get(key);
    if (msg.method === 'tools/call' && session && isObject(msg.params) && typeof msg.params['name'] === 'string') {
      const tool = session.tools.get(msg.params['name']);
      if (tool) {
        const { declarations } = headerDeclarations(tool.definition['inputSchema']);
        const bad = checkParamHeaders(headers, declarations, msg.params['arguments']);
        if (bad) return this.badRequest(res, bad.status, bad.code, bad.message, id, ep.server.name);
      }
    }
    if (!session) {
      try {
        session = await this.modernSession(ep, principal, key, this.sourceOf(req));
      } catch (e) {
        return this.startFailed(res, e, id, ep.server.name);
      }
    }
    session.principal = principal;
    if (!isRequest) {
      session.clientFrame(frame, undefined, headers);
      return sendStatus(res, 202);
    }
    session.clientFrame(frame, new HttpReply(res, {}, this.keepAliveMs, undefined, (t, own) => answerStatus(t, true, this.challenge(ep), own), prefersEventStream(headers['accept'])), headers);
  }

  private readonly modernStarting = new Map<string, Promise<Session>>();

  /** One session per principal for modern traffic; concurrent first requests share one start. */
  private modernSession(ep: Endpoint, principal: Principal, key: string, source: string): Promise<Session> {
    const startKey = `${ep.server.name}\n${key}`;
    const pending = this.modernStarting.get(startKey);
    if (pending) return pending;
    const p = this.newSession(ep, principal, 'http', new NoChannel(this.opts.log, ep.server.name), source).then(
      (session) => {
        ep.modern.set(key, session);
        session.onended = () => {
          if (ep.modern.get(key) === session) ep.modern.delete(key);
        };
        return session;
      },
    );
    this.modernStarting.set(startKey, p);
    const clear = () => this.modernStarting.delete(startKey);
    p.then(clear, clear);
    return p;
  }

  private legacyEntry(ep: Endpoint, req: IncomingMessage, principal: Principal): LegacyEntry | undefined {
    const sid = req.headers['mcp-session-id'];
    if (typeof sid !== 'string') return undefined;
    const entry = ep.legacy.get(sid);
    return entry && entry.principal === principalKey(principal) ? entry : undefined;
  }

  private getStream(ep: Endpoint, req: IncomingMessage, res: ServerResponse, principal: Principal): void {
    if (req.headers['mcp-session-id'] === undefined) {
      return sendJson(res, 405, errorResponse(null, -32000, 'Method not allowed: GET needs a legacy session (Mcp-Session-Id)'), { allow: 'POST' });
    }
    const entry = this.legacyEntry(ep, req, principal);
    if (!entry) return sendJson(res, 404, errorResponse(null, -32001, 'Session not found'));
    if (!String(req.headers['accept'] ?? '').includes('text/event-stream') && !String(req.headers['accept'] ?? '').includes('*/*')) {
      return sendJson(res, 406, errorResponse(null, -32000, 'Not Acceptable: the client must accept text/event-stream'));
    }
    if (entry.channel.stream && !entry.channel.stream.closed) {
      return sendJson(res, 409, errorResponse(null, -32000, 'Conflict: only one GET stream per session'));
    }
    const stream = new SseStream(res, { 'mcp-session-id': entry.session.id }, this.keepAliveMs);
    closeAtExpiry(stream, principal);
    entry.channel.attach(stream);
  }

  private async deleteSession(ep: Endpoint, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    if (req.headers['mcp-session-id'] === undefined) return sendJson(res, 405, errorResponse(null, -32000, 'Method not allowed'), { allow: 'POST' });
    const entry = this.legacyEntry(ep, req, principal);
    if (!entry) return sendJson(res, 404, errorResponse(null, -32001, 'Session not found'));
    await entry.session.close('client ended the session');
    sendStatus(res, 200);
  }

  // ───────────── legacy HTTP+SSE transport ─────────────

  private async openSse(ep: Endpoint, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const channel = new SessionChannel('sse', 4 * 1024 * 1024);
    let session: Session;
    try {
      session = await this.newSession(ep, principal, 'sse', channel, this.sourceOf(req));
    } catch (e) {
      return this.startFailed(res, e, null, ep.server.name);
    }
    const stream = new SseStream(res, {}, this.keepAliveMs);
    channel.attach(stream);
    const entry: LegacyEntry = { session, channel, principal: principalKey(principal) };
    ep.legacy.set(session.id, entry);
    const base = (req.url ?? '').split('?')[0]!.replace(/\/sse$/, '/message');
    stream.send(`${base}?sessionId=${encodeURIComponent(session.id)}`, 'endpoint');
    stream.onclose = () => void session.close('client closed the SSE stream');
    closeAtExpiry(stream, principal);
    session.onended = () => {
      ep.legacy.delete(session.id);
      stream.close();
    };
  }

  private async postSse(ep: Endpoint, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const sid = new URL(req.url ?? '/', 'http://x').searchParams.get('sessionId');
    const entry = sid ? ep.legacy.get(sid) : undefined;
    if (!entry || entry.channel.kind !== 'sse' || entry.principal !== principalKey(principal)) {
      return sendJson(res, 404, errorResponse(null, -32001, 'Session not found'));
    }
    entry.session.principal = principal;
    const read = await this.readFrames(ep, req, res);
    if (!read) return;
    sendStatus(res, 202);
    for (const f of read.frames) entry.session.clientFrame(f, undefined, headerMap(req));
  }

  // ───────────── lifecycle ─────────────

  private sessionsOf(ep: Endpoint): Session[] {
    return [...[...ep.legacy.values()].map((e) => e.session), ...ep.modern.values(), ...ep.ws.values()];
  }

  /**
   * Ends the sessions nobody uses: no message either way for idle_timeout_s, nothing in flight, and no connection of
   * the client's open. A client that holds its GET stream, its legacy SSE stream or its WebSocket open is there
   * (waiting for the server's notifications); a dead peer's connection is closed by its keep-alive (SSE comments,
   * WebSocket pings) and the session is reaped after that. Counted on performance.now(): a clock stepped forward
   * ended every session at once.
   */
  private reap(): void {
    const now = performance.now();
    for (const ep of this.endpoints.values()) {
      const idle = ep.server.idleTimeoutMs;
      if (!idle) continue;
      // A WebSocket proves its peer alive only while pings are on (ws_ping_interval_s: 0 would hold a dead one).
      const connected = new Set<Session>(this.opts.config.limits.wsPingIntervalMs > 0 ? ep.ws.values() : []);
      for (const e of ep.legacy.values()) if (e.channel.stream && !e.channel.stream.closed) connected.add(e.session);
      for (const s of this.sessionsOf(ep)) {
        if (s.inflight === 0 && now - s.lastActivity > idle && !connected.has(s)) {
          this.opts.log.info({ server: ep.server.name, session: s.id }, 'idle session reaped');
          void s.close('idle timeout');
        }
      }
    }
  }

  /** Stops taking requests, lets in-flight ones finish (up to `drainMs`), then ends every session and child. */
  async close(drainMs = 10_000): Promise<void> {
    this.draining = true;
    clearInterval(this.reaper);
    this.server.close();
    const sessions = () => [...this.endpoints.values()].flatMap((ep) => this.sessionsOf(ep));
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && sessions().some((s) => s.draining > 0)) await new Promise((r) => setTimeout(r, 50));
    await Promise.all(sessions().map((s) => s.close('gateway shutting down')));
    for (const s of this.sockets) s.destroy();
  }
}

/**
 * 2026-07-28 over HTTP: some JSON-RPC errors travel with an HTTP status (method not found is 404; malformed
 * requests, header mismatches and version or capability problems are 400). A stdio upstream cannot set a status,
 * so the proxy sets it from the error code; everything else stays in-band on 200.
 */
const MODERN_ERROR_STATUS: Record<number, number> = {
  [ErrorCode.MethodNotFound]: 404,
  [ErrorCode.ParseError]: 400,
  [ErrorCode.InvalidRequest]: 400,
  [ErrorCode.HeaderMismatch]: 400,
  [-32021]: 400,
  [ErrorCode.UnsupportedProtocolVersion]: 400,
};

/**
 * The HTTP status of an answer sent as JSON. mcp-warden's own refusal for a missing scope (`own`: the policy stage
 * answered) becomes 403 insufficient_scope with every scope the operation needs, so the client can step up; in the
 * 2026 era, ladder errors get their status. A server's error that says the same is relayed as it is: the client's
 * token never reaches the server, and a server must not make the client ask its authorization server for scopes
 * of the server's choosing (nor write into WWW-Authenticate, where a line break ended the gateway).
 */
export function answerStatus(text: string, modern: boolean, challenge: (scopes: string[]) => string, own = false): number | { status: number; headers: Record<string, string> } {
  if (!text.includes('"error"')) return 200;
  try {
    const m = JSON.parse(text) as { error?: { code?: unknown; data?: { error?: unknown; scopes?: unknown } } };
    const data = m.error?.data;
    if (own && data?.error === 'insufficient_scope' && Array.isArray(data.scopes)) {
      return { status: 403, headers: { 'www-authenticate': challenge(data.scopes.map(String)) } };
    }
    const code = m.error?.code;
    return modern && typeof code === 'number' ? (MODERN_ERROR_STATUS[code] ?? 200) : 200;
  } catch {
    return 200;
  }
}

/**
 * A stream outlives the request that opened it; it must not outlive the token that authorised it. The client
 * reconnects with a fresh token (a legacy SSE session ends with its stream, as the transport defines).
 */
function closeAtExpiry(stream: SseStream, principal: Principal): void {
  const cancel = atExpiry(principal, () => stream.close());
  const prev = stream.onclose;
  stream.onclose = () => {
    cancel();
    prev?.();
  };
}

/** Runs `expire` when the principal's token expires (never, for a token without `exp`); returns a cancel. */
function atExpiry(principal: Principal, expire: () => void): () => void {
  if (principal.expiresAt === undefined) return () => undefined;
  const t = setTimeout(expire, Math.max(0, Math.min(principal.expiresAt * 1000 - Date.now(), 2 ** 31 - 1)));
  t.unref();
  return () => clearTimeout(t);
}

class CapError extends Error {}
class UpstreamStartError extends Error {}

/** Several requests of one batch POST answered on one SSE stream. */
class BatchReply extends HttpReply {
  private left: number;
  constructor(res: ServerResponse, count: number, keepAliveMs: number) {
    super(res, {}, keepAliveMs);
    this.left = count;
  }
  override send(text: Wire, final: boolean): void {
    if (final) this.left--;
    super.send(text, final && this.left === 0);
  }
}
