/**
 * A session pairs one client connection with one upstream connection and owns everything in flight between them.
 *
 * - Ids: every request gets a fresh id on the other side (proxy-chosen integers), in both directions, so a host
 *   that reuses ids, concurrent clients behind one upstream, and the proxy's own requests never collide. Fields
 *   that refer to ids follow: `notifications/cancelled.requestId`, the 2026 `subscriptionId`, and (for shared
 *   upstreams) `progressToken`.
 * - Routing: a message from the server that belongs to a client request (its response, its progress, anything the
 *   HTTP upstream sent on that request's stream) goes to that request's reply stream; the rest go to the session's
 *   default channel.
 * - Faults: a request times out with an error; if the upstream goes away every request in flight gets an error.
 * - The pipeline runs on every exchange; this class is the only one that knows about eras.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import { eraOfMessage, envelopeVersion, isModernVersion, META, type Era } from '../protocol/eras.js';
import { idText, newFrame, parseFrame, peekId, serializeWithId, wireLength, type Frame, type Wire } from '../protocol/frame.js';
import {
  ErrorCode,
  errorResponse,
  isObject,
  type JsonRpcErrorResponse,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../protocol/jsonrpc.js';
import { targetOf } from '../protocol/mcp.js';
import type { Pipeline, RequestStep } from '../pipeline/pipeline.js';
import {
  MAX_LIST_PAGES,
  relayedWire,
  type Exchange,
  type ExchangeNotes,
  type Outcome,
  type PeerAnswer,
  type Principal,
  type Session as SessionApi,
  type ToolEntry,
  type TransportKind,
} from '../pipeline/types.js';
import type { BadMessageReason, Downstream, Reply, Upstream, UpstreamCloseInfo, UpstreamFailure } from '../transports/types.js';

export interface SessionLimits {
  maxMessageBytes: number;
  maxJsonDepth: number;
  requestTimeoutMs: number;
  /** Requests from the client that may be in flight at once. */
  maxInflight: number;
}

/** Who an event is about, when it is not an exchange. */
export interface EventSource {
  server: string;
  session?: string;
  principal?: Principal;
  transport?: TransportKind;
}

export interface SessionEvents {
  /** Something the audit trail must hear about that is not an exchange (bad input, upstream exit, session start). */
  event(kind: string, source: EventSource, fields: Record<string, unknown>): void;
}

export interface SessionOptions {
  server: string;
  transport: TransportKind;
  principal: Principal;
  pipeline: Pipeline;
  upstream: Upstream;
  downstream: Downstream;
  limits: SessionLimits;
  log: Logger;
  events?: SessionEvents;
  /** More fields for the session's `session_start` event (wrap: the config file and where it was found). */
  startFields?: Record<string, unknown>;
  /**
   * What to do when the upstream goes away: `replay` restarts it through `restartUpstream` and replays the
   * legacy handshake (stdio front, where the host cannot be told to re-initialize); `end` ends the session.
   */
  onUpstreamLoss: 'replay' | 'end';
  restartUpstream?: () => Upstream;
  maxRestarts?: number;
  /** The window `maxRestarts` counts restarts in (ms); default 600 s. */
  restartWindowMs?: number;
  /** Several sessions share this upstream: rewrite progress tokens too. */
  sharedUpstream?: boolean;
  /** Where request ids come from (a shared upstream hands out ids unique across its sessions). */
  allocateUpId?: () => number;
  id?: string;
}

interface Outgoing {
  upId: number;
  /** JSON text of the client's id, written back verbatim. */
  downIdText: string;
  downId: JsonRpcId;
  method: string;
  ex: Exchange | undefined;
  reply: Reply | undefined;
  timer: NodeJS.Timeout | undefined;
  progressToken: string | number | undefined;
  /** A request of the proxy's own: resolved here, never sent to the client. */
  internal: ((answer: PeerAnswer, bytes?: number) => void) | undefined;
  cancelled: boolean;
  /** Modern era: a `subscriptions/listen` stream, kept open. */
  listen: boolean;
}

interface Incoming {
  downId: number;
  /** JSON text of the server's id, written back verbatim. */
  upIdText: string;
  method: string;
  ex: Exchange | undefined;
  timer: NodeJS.Timeout | undefined;
  internal: ((answer: PeerAnswer, bytes?: number) => void) | undefined;
  /** For a question of the proxy's own (an `ask`): the client request it is asked for. */
  askedFor?: Exchange;
}

export type SessionState = 'open' | 'restarting' | 'closed';

export class Session implements SessionApi {
  readonly id: string;
  readonly server: string;
  readonly transport: TransportKind;
  /** The caller, as of its latest authenticated request (scopes can grow by step-up; the subject cannot change). */
  principal: Principal;
  era: Era | undefined;
  protocolVersion: string | undefined;
  clientInfo: { name?: string; version?: string } | undefined;
  clientCapabilities: Record<string, unknown> | undefined;
  serverInfo: { name?: string; version?: string } | undefined;
  serverCapabilities: Record<string, unknown> | undefined;
  instructions: string | undefined;
  readonly tools = new Map<string, ToolEntry>();
  readonly state = new Map<string, unknown>();

  state_: SessionState = 'open';
  private closing: Promise<void> | undefined;
  /** `performance.now()` of the last message either way: idle reaping counts on a clock that only moves forward. */
  lastActivity = performance.now();
  /** Called once when the session ends, for whoever owns it. */
  onended: ((reason: string) => void) | undefined;

  private upstream: Upstream;
  private readonly downstream: Downstream;
  private readonly pipeline: Pipeline;
  private readonly limits: SessionLimits;
  private readonly log: Logger;
  private readonly opts: SessionOptions;
  private nextUpId = 1;
  private nextDownId = 1;
  private readonly outgoing = new Map<number, Outgoing>();
  private readonly incoming = new Map<number, Incoming>();
  /**
   * Client requests whose stages are still working (an `ask` waiting for a person, a catalogue fetch), by id
   * text: a `notifications/cancelled` for one must stop it before it is forwarded, not after.
   */
  private readonly inStages = new Map<string, Exchange>();
  private readonly cancelledInStages = new WeakSet<Exchange>();
  /** Latest request per client id text, for `notifications/cancelled` from the client. */
  private readonly byDownId = new Map<string, Outgoing>();
  private readonly byProgress = new Map<string | number, Outgoing>();
  private clientRequests = 0;
  private restarts = 0;
  /** When each restart of the last window happened (performance.now(), ms: a clock set back must not keep them). */
  private restartTimes: number[] = [];
  /** The legacy handshake, kept to replay on a restarted upstream. */
  private initializeText: string | undefined;
  private initializedText: string | undefined;
  private pendingWhileRestarting: (() => void)[] = [];
  private envelope: Record<string, unknown> | undefined;
  private toolsGeneration = 0;
  /** The tool map holds every page of a list the server has not announced as changed since. */
  private toolsComplete = false;
  /**
   * Bytes of the tool list pages read since its first page. The pages together are held to `maxMessageBytes`, as
   * one message is: a server answering 100 pages of 16 MiB each would otherwise make the proxy hold gigabytes (and
   * end it), once per session. Past that the list counts as not read whole: tools beyond it are refused.
   */
  private toolsBytes = 0;
  private catalogPending: Promise<Map<string, ToolEntry> | undefined> | undefined;

  constructor(opts: SessionOptions) {
    this.opts = opts;
    this.id = opts.id ?? randomUUID();
    this.server = opts.server;
    this.transport = opts.transport;
    this.principal = opts.principal;
    this.pipeline = opts.pipeline;
    this.upstream = opts.upstream;
    this.downstream = opts.downstream;
    this.limits = opts.limits;
    this.log = opts.log;
    this.attachUpstream(this.upstream);
    opts.events?.event('session_start', this.source(), { upstream: this.upstream.label, pid: this.upstream.pid ?? null, ...opts.startFields });
  }

  /** Requests in flight either way (an open `subscriptions/listen` stream too: it keeps an idle session alive). */
  get inflight(): number {
    return this.outgoing.size + this.incoming.size;
  }

  /** What a shutdown waits for: requests in flight either way, but not open `subscriptions/listen` streams. */
  get draining(): number {
    return this.outgoing.size + this.incoming.size - this.openListens();
  }

  /**
   * Requests from the client not answered yet: in the stages, at the upstream, on the way back or held during a
   * restart. An open `subscriptions/listen` stream is never answered, only closed: it does not count.
   */
  get unanswered(): number {
    return this.clientRequests + this.pendingWhileRestarting.length - this.openListens();
  }

  private openListens(): number {
    let n = 0;
    for (const out of this.outgoing.values()) if (out.listen) n++;
    return n;
  }

  private newUpId(): number {
    return this.opts.allocateUpId ? this.opts.allocateUpId() : this.nextUpId++;
  }

  source(): EventSource {
    return { server: this.server, session: this.id, principal: this.principal, transport: this.transport };
  }

  pauseUpstream(): void {
    this.upstream.pause?.();
  }

  resumeUpstream(): void {
    this.upstream.resume?.();
  }

  /** The proxy was told to stop: see Upstream.hurry (the current upstream; a restart replaces it). */
  hurryUpstream(): void {
    this.upstream.hurry?.();
  }

  get upstreamPid(): number | undefined {
    return this.upstream.pid;
  }

  private attachUpstream(up: Upstream): void {
    up.onmessage = (text, bytes, related, utf8) => this.fromUpstream(text, bytes, related, utf8);
    up.onbadmessage = (reason, prefix, bytes) => this.upstreamBadMessage(reason, prefix, bytes);
    up.onrequestfailed = (upId, failure) => this.upstreamRequestFailed(upId, failure);
    up.onclose = (info) => this.upstreamClosed(up, info);
    up.ondrain = () => undefined;
  }

  // ───────────────────────────── client → proxy ─────────────────────────────

  /**
   * One message from the client. `reply` is the stream the client waits on (HTTP POST); without it the default
   * downstream channel answers. `bytes` is the size on the wire; `utf8`, the bytes `text` was decoded from (valid
   * UTF-8), when the transport has them.
   */
  receiveFromClient(text: string, bytes: number, reply?: Reply, headers?: Record<string, string>, utf8?: Buffer): void {
    this.lastActivity = performance.now();
    if (this.state_ === 'closed') {
      const id = peekId(text.slice(0, 4096));
      if (id !== null) this.sendToClient(JSON.stringify(errorResponse(id, ErrorCode.UpstreamFailed, 'Session closed')), reply, true);
      return;
    }
    const parsed = parseFrame(text, { maxDepth: this.limits.maxJsonDepth }, bytes, utf8);
    if (!parsed.ok) {
      this.badClientInput(parsed.code, parsed.message, parsed.id, bytes, reply);
      return;
    }
    for (const frame of parsed.frames) this.clientFrame(frame, reply, headers);
  }

  /** Input refused before any stage ran (parse error, envelope, limits): answered and recorded. */
  badClientInput(code: number, message: string, id: JsonRpcId | null, bytes: number, reply?: Reply): void {
    this.opts.events?.event('bad_input', this.source(), { from: 'client', code, reason: message, bytes });
    this.log.warn({ session: this.id, code, bytes }, message);
    this.sendToClient(JSON.stringify(errorResponse(id, code, message)), reply, true);
  }

  /** A frame the HTTP front has already parsed and checked. */
  clientFrame(frame: Frame, reply?: Reply, headers?: Record<string, string>, principal: Principal = this.principal): void {
    this.lastActivity = performance.now();
    if (this.state_ === 'restarting') {
      // Held until the server is back, still as the caller who sent it.
      this.pendingWhileRestarting.push(() => this.clientFrame(frame, reply, headers, principal));
      return;
    }
    switch (frame.kind) {
      case 'request':
        this.clientRequest(frame, reply, headers, principal);
        return;
      case 'notification':
        this.clientNotification(frame, headers, principal);
        return;
      case 'response':
        this.clientResponse(frame);
        return;
    }
  }

  private newExchange(direction: Exchange['direction'], kind: Exchange['kind'], frame: Frame, headers?: Record<string, string>, principal: Principal = this.principal): Exchange {
    const m = frame.message as JsonRpcRequest;
    return {
      session: this,
      principal,
      direction,
      kind,
      method: m.method,
      message: frame,
      peerId: kind === 'request' ? m.id : undefined,
      response: undefined,
      outcome: undefined,
      answeredBy: undefined,
      decision: undefined,
      notes: { target: targetOf(m.method, m.params) } as ExchangeNotes,
      startedAt: performance.now(),
      endedAt: undefined,
      headers,
      bytesIn: frame.bytes,
      bytesOut: 0,
    };
  }

  private noteEra(req: JsonRpcRequest): void {
    const params = req.params;
    if (req.method === 'initialize') {
      this.era = 'legacy';
      if (isObject(params)) {
        if (typeof params['protocolVersion'] === 'string') this.protocolVersion = params['protocolVersion'];
        if (isObject(params['clientInfo'])) this.clientInfo = params['clientInfo'] as { name?: string };
        if (isObject(params['capabilities'])) this.clientCapabilities = params['capabilities'];
      }
      return;
    }
    const v = envelopeVersion(params);
    if (v !== undefined && isModernVersion(v)) {
      this.era = 'modern';
      this.protocolVersion = v;
      const meta = (params as { _meta: Record<string, unknown> })._meta;
      const caps = meta[META.clientCapabilities];
      if (isObject(caps)) this.clientCapabilities = caps;
      const info = meta[META.clientInfo];
      if (isObject(info)) this.clientInfo = info as { name?: string };
      this.envelope = { [META.protocolVersion]: v, [META.clientCapabilities]: isObject(caps) ? caps : {} };
    }
  }

  private clientRequest(frame: Frame, reply: Reply | undefined, headers: Record<string, string> | undefined, principal: Principal): void {
    const req = frame.message as JsonRpcRequest;
    if (this.clientRequests >= this.limits.maxInflight) {
      this.sendToClient(JSON.stringify(errorResponse(req.id, ErrorCode.Overloaded, `Too many requests in flight (limit ${this.limits.maxInflight})`)), reply, true);
      this.opts.events?.event('overloaded', this.source(), { method: req.method, limit: this.limits.maxInflight });
      return;
    }
    this.noteEra(req);
    if (req.method === 'initialize') this.initializeText = frame.raw ?? JSON.stringify(req);
    const ex = this.newExchange('to-server', 'request', frame, headers, principal);
    this.clientRequests++;
    if (reply) this.pendingReplies.set(ex, reply);
    const step = this.pipeline.request(ex);
    if (step instanceof Promise) {
      // Only a stage that waits can be overtaken by a cancellation: the synchronous path keeps no entry.
      const key = JSON.stringify(req.id);
      this.inStages.set(key, ex);
      // Over HTTP a client cancels by closing the request's stream (2026-07-28), or simply goes away.
      if (reply) reply.onabort = () => this.cancelInStages(ex);
      const settle = () => {
        if (this.inStages.get(key) === ex) this.inStages.delete(key);
      };
      step.then(
        (s) => (settle(), this.afterClientRequestStages(ex, frame, s, reply)),
        (err: unknown) => (settle(), this.stageFailed(ex, frame, err, reply)),
      );
    } else this.afterClientRequestStages(ex, frame, step, reply);
  }

  /**
   * The client cancelled a request still in its stages: it will not be forwarded, and a question the proxy is
   * asking the person for it (an `ask`) is withdrawn, so an approval that comes later runs nothing.
   */
  private cancelInStages(ex: Exchange): void {
    this.cancelledInStages.add(ex);
    for (const inc of [...this.incoming.values()]) {
      if (inc.askedFor !== ex || !inc.internal) continue;
      this.incoming.delete(inc.downId);
      if (inc.timer) clearTimeout(inc.timer);
      const note = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: inc.downId, reason: 'the request it was asked for was cancelled' } };
      this.sendToClient(JSON.stringify(note), this.replyOf(ex) ?? this.guessReply(), false);
      inc.internal({ error: { code: ErrorCode.RequestTimeout, message: 'The client cancelled the request', data: { cancelled: true } } });
    }
  }

  private stageFailed(ex: Exchange, frame: Frame, err: unknown, reply: Reply | undefined): void {
    this.log.error({ session: this.id, method: ex.method, err: (err as Error)?.message }, 'a pipeline stage failed; refusing the request');
    this.afterClientRequestStages(ex, frame, { kind: 'answer', index: this.pipeline.stages.length, answer: { error: { code: ErrorCode.InternalError, message: 'Internal error in mcp-warden; the request was not forwarded' } }, outcome: 'failed' }, reply);
  }

  private afterClientRequestStages(ex: Exchange, frame: Frame, step: RequestStep, reply: Reply | undefined): void {
    this.pendingReplies.delete(ex);
    const downIdText = idText(frame);
    const req = frame.message as JsonRpcRequest;
    const cancelled = this.cancelledInStages.has(ex);
    if (cancelled && step.kind === 'pass') step = { kind: 'answer', index: this.pipeline.stages.length, answer: { error: { code: ErrorCode.RequestTimeout, message: 'Cancelled by the client before it was forwarded' } }, outcome: 'cancelled' };
    if (step.kind !== 'pass') {
      let answer: PeerAnswer = step.kind === 'answer' ? step.answer : { error: { code: ErrorCode.PolicyDenied, message: 'Request dropped' } };
      ex.outcome = cancelled ? 'cancelled' : step.kind === 'answer' ? (step.outcome ?? ('error' in answer ? 'denied' : 'ok')) : 'dropped';
      // 2026-07-28 results carry resultType; the proxy's own answers too.
      if ('result' in answer && answer.result['resultType'] === undefined && eraOfMessage(req.method, req.params) === 'modern') {
        answer = { result: { resultType: 'complete', ...answer.result } };
      }
      this.finishClientExchange(ex, answerFrame(req.id, answer), downIdText, reply, step.index);
      return;
    }
    if (this.state_ === 'closed') {
      ex.outcome = 'failed';
      this.finishClientExchange(ex, answerFrame(req.id, { error: { code: ErrorCode.UpstreamFailed, message: 'Upstream server is not available' } }), downIdText, reply);
      return;
    }
    const upId = this.newUpId();
    const out: Outgoing = {
      upId,
      downIdText,
      downId: req.id,
      method: req.method,
      ex,
      reply,
      timer: undefined,
      progressToken: undefined,
      internal: undefined,
      cancelled: false,
      listen: req.method === 'subscriptions/listen',
    };
    const params = req.params;
    const meta = isObject(params) ? params['_meta'] : undefined;
    if (isObject(meta)) {
      const token = meta['progressToken'];
      if (typeof token === 'string' || typeof token === 'number') {
        out.progressToken = token;
        if (this.opts.sharedUpstream) {
          meta['progressToken'] = `${this.id}:${token}`;
          frame.dirty = true;
          this.byProgress.set(`${this.id}:${token}`, out);
        } else this.byProgress.set(token, out);
      }
    }
    this.outgoing.set(upId, out);
    this.byDownId.set(JSON.stringify(req.id), out);
    if (reply) reply.onabort = () => this.clientAborted(out);
    if (!out.listen) this.armTimer(out);
    this.sendUpstream(serializeWithId(frame, String(upId)), { kind: 'request', method: req.method, upId, headers: ex.headers, params: req.params, principal: ex.principal });
    this.pipeline.forwarded(ex);
  }

  private sendUpstream(
    text: string,
    o: { kind: 'request' | 'notification' | 'response'; method: string | undefined; upId: number | undefined; headers?: Record<string, string> | undefined; params?: unknown; principal?: Principal },
  ): void {
    const era: Era = o.method !== undefined && o.params !== undefined ? eraOfMessage(o.method, o.params) : (this.era ?? 'legacy');
    const headers = o.headers ? pickParamHeaders(o.headers) : undefined;
    const modern = era === 'modern';
    const ok = this.upstream.send(text, {
      kind: o.kind,
      method: o.method,
      upId: o.upId,
      era,
      headers,
      protocolVersion: modern ? (envelopeVersion(o.params) ?? this.protocolVersion) : undefined,
      mcpName: modern && o.method ? targetOf(o.method, o.params) : undefined,
      principal: o.principal ?? this.principal,
    });
    if (!ok) this.log.debug({ session: this.id }, 'upstream is slow to read');
  }

  private armTimer(out: Outgoing): void {
    if (out.timer) clearTimeout(out.timer);
    out.timer = setTimeout(() => this.requestTimedOut(out), this.limits.requestTimeoutMs);
    out.timer.unref?.();
  }

  private requestTimedOut(out: Outgoing): void {
    if (!this.outgoing.has(out.upId)) return;
    const secs = Math.round(this.limits.requestTimeoutMs / 1000);
    this.cancelUpstream(out, `timed out after ${secs}s`);
    this.failOutgoing(out, ErrorCode.RequestTimeout, `Request timed out after ${secs}s`, 'timeout');
  }

  private cancelUpstream(out: Outgoing, reason: string): void {
    if (out.method === 'initialize') return;
    const note: JsonRpcNotification = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: out.upId, reason } };
    if (this.era === 'modern' && this.envelope) (note.params as Record<string, unknown>)['_meta'] = { ...this.envelope };
    this.sendUpstream(JSON.stringify(note), { kind: 'notification', method: note.method, upId: out.upId, params: note.params, principal: out.ex?.principal });
  }

  /** The client went away before its answer (an HTTP response stream closed). 2026: that is cancellation. */
  private clientAborted(out: Outgoing): void {
    if (!this.outgoing.has(out.upId)) return;
    if (this.era === 'modern' || out.listen) {
      this.cancelUpstream(out, 'client closed the response stream');
      this.failOutgoing(out, ErrorCode.RequestTimeout, 'Cancelled: the client closed the response stream', 'cancelled');
    }
  }

  private clientNotification(frame: Frame, headers: Record<string, string> | undefined, principal: Principal): void {
    const note = frame.message as JsonRpcNotification;
    if (note.method === 'notifications/initialized') this.initializedText = frame.raw ?? JSON.stringify(note);
    if (note.method === 'notifications/cancelled' && isObject(note.params)) {
      const rid = note.params['requestId'];
      const out = rid === undefined ? undefined : this.byDownId.get(JSON.stringify(rid));
      if (!out || !this.outgoing.has(out.upId)) {
        const waiting = rid === undefined ? undefined : this.inStages.get(JSON.stringify(rid));
        if (waiting) this.cancelInStages(waiting);
        return;
      }
      out.cancelled = true;
      note.params['requestId'] = out.upId;
      frame.dirty = true;
    }
    const ex = this.newExchange('to-server', 'notification', frame, headers, principal);
    this.runNotification(ex, () => this.sendUpstream(serializeWithId(frame, undefined), { kind: 'notification', method: note.method, upId: undefined, headers, params: note.params ?? {}, principal }));
  }

  private runNotification(ex: Exchange, forward: () => void): void {
    const done = (step: RequestStep) => {
      if (step.kind === 'pass') {
        ex.outcome = 'ok';
        forward();
      } else ex.outcome = 'dropped';
      ex.endedAt = performance.now();
      const r = this.pipeline.response(ex, step.kind === 'pass' ? undefined : step.index);
      if (r instanceof Promise) r.catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'notification hook failed'));
    };
    const step = this.pipeline.request(ex);
    if (step instanceof Promise) step.then(done, (err: unknown) => this.log.error({ err: (err as Error)?.message }, 'notification stage failed; dropped'));
    else done(step);
  }

  /** The client answered a request the server (or the proxy) sent. */
  private clientResponse(frame: Frame): void {
    const id = (frame.message as JsonRpcResponse).id;
    const inc = typeof id === 'number' ? this.incoming.get(id) : undefined;
    if (!inc) {
      this.log.debug({ session: this.id }, 'client answered an unknown request; dropped');
      return;
    }
    this.incoming.delete(inc.downId);
    if (inc.timer) clearTimeout(inc.timer);
    const msg = frame.message as JsonRpcResponse;
    if (inc.internal) {
      inc.internal('result' in msg ? { result: msg.result } : { error: (msg as JsonRpcErrorResponse).error });
      return;
    }
    const ex = inc.ex!;
    ex.response = frame;
    ex.bytesOut = frame.bytes;
    ex.outcome = 'error' in msg ? 'error' : 'ok';
    ex.endedAt = performance.now();
    this.relayResponseUpstream(ex, inc.upIdText);
  }

  // ───────────────────────────── server → proxy ─────────────────────────────

  private fromUpstream(text: string, bytes: number, related: number | undefined, utf8?: Buffer): void {
    this.lastActivity = performance.now();
    const parsed = parseFrame(text, { maxDepth: this.limits.maxJsonDepth }, bytes, utf8);
    if (!parsed.ok) {
      if (parsed.request && parsed.id !== null) {
        // A request of the server's that is refused (a look-alike method, a member JSON-RPC lacks): its id is the
        // server's, not one of the proxy's calls; the server gets the error as its answer.
        this.upstreamInvalid(parsed.message, null, bytes);
        this.sendUpstream(JSON.stringify(errorResponse(parsed.id, parsed.code, parsed.message)), { kind: 'response', method: undefined, upId: undefined });
        return;
      }
      // Over HTTP the stream a message came on names the request it belongs to, even when its id cannot be read.
      this.upstreamInvalid(parsed.message, parsed.id ?? related ?? null, bytes);
      return;
    }
    for (const frame of parsed.frames) {
      switch (frame.kind) {
        case 'response':
          this.upstreamResponse(frame);
          break;
        case 'request':
          this.upstreamRequest(frame, related);
          break;
        case 'notification':
          this.upstreamNotification(frame, related);
          break;
      }
    }
  }

  private upstreamInvalid(reason: string, id: JsonRpcId | null, bytes: number): void {
    this.opts.events?.event('bad_input', this.source(), { from: 'server', reason, bytes });
    this.log.warn({ session: this.id, server: this.server, bytes }, `server sent a message that was refused: ${reason}`);
    const out = typeof id === 'number' ? this.outgoing.get(id) : undefined;
    if (out) this.failOutgoing(out, ErrorCode.UpstreamFailed, `The server sent an invalid response: ${reason}`, 'failed');
  }

  private upstreamBadMessage(reason: BadMessageReason, prefix: string, bytes: number): void {
    const why =
      reason === 'oversize' ? `message of ${bytes} bytes exceeds the limit of ${this.limits.maxMessageBytes}` : reason === 'binary' ? 'a binary WebSocket frame is not an MCP message' : 'message is not valid UTF-8';
    this.upstreamInvalid(why, reason === 'oversize' ? peekId(prefix) : null, bytes);
  }

  private upstreamRequestFailed(upId: number, failure: UpstreamFailure): void {
    const out = this.outgoing.get(upId);
    if (!out) return;
    if (failure.detail === undefined) {
      this.failOutgoing(out, failure.code, failure.message, 'failed');
      return;
    }
    // The detail names the gateway's side (an internal address, a token endpoint's refusal, an egress rule): the
    // local user of wrap reads it in the answer; a serve client only learns that the log and the trail say why.
    const full = `${failure.message}: ${failure.detail}`;
    this.log.warn({ session: this.id, server: this.server, method: out.method, err: failure.detail }, failure.message);
    if (out.ex) out.ex.notes.failure = full;
    const told = this.transport === 'stdio' || out.internal ? full : `${failure.message}; the gateway's log and audit trail say why`;
    this.failOutgoing(out, failure.code, told, 'failed');
  }

  private upstreamResponse(frame: Frame): void {
    const id = (frame.message as JsonRpcResponse).id;
    const out = typeof id === 'number' ? this.outgoing.get(id) : undefined;
    if (!out) {
      this.log.debug({ session: this.id }, 'server answered an unknown request; dropped');
      return;
    }
    this.settleOutgoing(out);
    const msg = frame.message as JsonRpcResponse;
    if (out.internal) {
      out.internal('result' in msg ? { result: msg.result } : { error: (msg as JsonRpcErrorResponse).error }, frame.bytes);
      return;
    }
    if ('result' in msg) this.learnFromResult(out, msg.result, frame.bytes);
    const ex = out.ex!;
    ex.response = frame;
    ex.bytesOut = frame.bytes;
    ex.outcome = out.cancelled ? 'cancelled' : 'error' in msg ? 'error' : 'ok';
    this.finishClientExchange(ex, frame, out.downIdText, out.reply);
  }

  private settleOutgoing(out: Outgoing): void {
    this.outgoing.delete(out.upId);
    this.upstream.requestDone?.(out.upId);
    if (out.timer) clearTimeout(out.timer);
    const key = JSON.stringify(out.downId);
    if (this.byDownId.get(key) === out) this.byDownId.delete(key);
    if (out.progressToken !== undefined) {
      const key = this.opts.sharedUpstream ? `${this.id}:${out.progressToken}` : out.progressToken;
      if (this.byProgress.get(key) === out) this.byProgress.delete(key);
    }
    if (out.reply) out.reply.onabort = undefined;
  }

  /** What the session must know from results: the negotiated version, capabilities, and the tool catalogue. */
  private learnFromResult(out: Outgoing, result: Record<string, unknown>, bytes: number): void {
    if (out.method === 'initialize') {
      if (typeof result['protocolVersion'] === 'string') {
        this.protocolVersion = result['protocolVersion'];
        this.upstream.setProtocolVersion?.(result['protocolVersion']);
      }
      if (isObject(result['capabilities'])) this.serverCapabilities = result['capabilities'];
      if (isObject(result['serverInfo'])) this.serverInfo = result['serverInfo'] as { name?: string };
      if (typeof result['instructions'] === 'string') this.instructions = result['instructions'];
    } else if (out.method === 'server/discover') {
      if (isObject(result['capabilities'])) this.serverCapabilities = result['capabilities'];
      if (isObject(result['serverInfo'])) this.serverInfo = result['serverInfo'] as { name?: string };
      if (typeof result['instructions'] === 'string') this.instructions = result['instructions'];
    } else if (out.method === 'tools/list' && Array.isArray(result['tools'])) {
      const req = out.ex?.message.message as JsonRpcRequest | undefined;
      const firstPage = !isObject(req?.params) || req.params['cursor'] === undefined;
      if (firstPage) {
        this.tools.clear();
        this.toolsGeneration++;
        this.toolsBytes = 0;
      }
      if (!this.takeToolPage(bytes)) {
        this.toolsComplete = false;
        return;
      }
      for (const t of result['tools']) {
        if (isObject(t) && typeof t['name'] === 'string') this.tools.set(t['name'], { name: t['name'], definition: t });
      }
      this.toolsComplete = typeof result['nextCursor'] !== 'string';
    }
  }

  /** Counts a page of the tool list against its bound (toolsBytes); false, and a warning, once it is past it. */
  private takeToolPage(bytes: number): boolean {
    const before = this.toolsBytes;
    this.toolsBytes += bytes;
    if (this.toolsBytes <= this.limits.maxMessageBytes) return true;
    if (before <= this.limits.maxMessageBytes) this.log.warn({ session: this.id, server: this.server, limit: this.limits.maxMessageBytes }, "the server's tool list is larger than limits.max_message_bytes over all its pages; the tools past it are refused");
    return false;
  }

  /** Runs response hooks (from `from` down) and sends the response to the client. */
  private finishClientExchange(ex: Exchange, response: Frame, downIdText: string, reply: Reply | undefined, from?: number): void {
    ex.response = response;
    ex.relayIdText = downIdText;
    if (ex.endedAt === undefined) ex.endedAt = performance.now();
    this.afterResponseHooks(
      ex,
      from,
      () => {
        this.clientRequests--;
        const wire = relayedWire(ex);
        // The exchange may outlive its response (a task, an approval): it does not keep a large one alive.
        ex.relayed = undefined;
        ex.bytesOut = ex.bytesOut || wireLength(wire);
        this.sendToClient(wire, reply, true, ex.answeredBy !== undefined);
      },
      (err) => {
        // A response stage refused to let the answer out (the audit store failed with on_failure: deny).
        this.clientRequests--;
        const e = err as { rpcCode?: number; message?: string };
        const message = e?.rpcCode ? String(e.message) : 'Internal error in mcp-warden; the response was withheld';
        const refusal = newFrame(errorResponse(ex.peerId ?? null, e?.rpcCode ?? ErrorCode.InternalError, message), 'response');
        this.sendToClient(serializeWithId(refusal, downIdText), reply, true);
      },
    );
  }

  /** Runs response hooks (from `from` down) on the client's answer to a server request, and sends it upstream. */
  private relayResponseUpstream(ex: Exchange, upIdText: string, from?: number): void {
    ex.relayIdText = upIdText;
    this.afterResponseHooks(ex, from, () => {
      const wire = relayedWire(ex);
      ex.relayed = undefined;
      this.sendUpstream(String(wire), { kind: 'response', method: undefined, upId: undefined, principal: ex.principal });
    });
  }

  private afterResponseHooks(ex: Exchange, from: number | undefined, send: () => void, fail?: (err: unknown) => void): void {
    let r: void | Promise<void>;
    try {
      r = this.pipeline.response(ex, from);
    } catch (err) {
      r = Promise.reject(err);
    }
    if (r instanceof Promise) {
      r.then(send, (err: unknown) => {
        this.log.error({ session: this.id, method: ex.method, err: (err as Error)?.message }, 'a response stage failed; the message is withheld');
        fail?.(err);
      });
    } else send();
  }

  private failOutgoing(out: Outgoing, code: number, message: string, outcome: Outcome): void {
    if (!this.outgoing.has(out.upId)) return;
    this.settleOutgoing(out);
    if (out.internal) {
      out.internal({ error: { code, message } });
      return;
    }
    const ex = out.ex!;
    ex.outcome = outcome;
    this.finishClientExchange(ex, newFrame(errorResponse(out.downId, code, message), 'response'), out.downIdText, out.reply);
  }

  private upstreamRequest(frame: Frame, related: number | undefined): void {
    const req = frame.message as JsonRpcRequest;
    const upIdText = idText(frame);
    const relatedOut = this.relatedOutgoing(req.params, related);
    const ex = this.newExchange('to-client', 'request', frame, undefined, relatedOut?.ex?.principal);
    const go = (step: RequestStep) => {
      if (step.kind !== 'pass') {
        const answer: PeerAnswer = step.kind === 'answer' ? step.answer : { error: { code: ErrorCode.PolicyDenied, message: 'Request refused by mcp-warden' } };
        ex.outcome = step.kind === 'answer' ? (step.outcome ?? ('error' in answer ? 'denied' : 'ok')) : 'dropped';
        ex.response = answerFrame(req.id, answer);
        ex.endedAt = performance.now();
        this.relayResponseUpstream(ex, upIdText, step.index);
        return;
      }
      const downId = this.nextDownId++;
      const inc: Incoming = { downId, upIdText, method: req.method, ex, timer: undefined, internal: undefined };
      this.incoming.set(downId, inc);
      inc.timer = setTimeout(() => this.incomingTimedOut(inc), this.limits.requestTimeoutMs);
      inc.timer.unref?.();
      this.sendToClient(serializeWithId(frame, String(downId)), relatedOut?.reply ?? this.guessReply(), false);
    };
    const step = this.pipeline.request(ex);
    if (step instanceof Promise) step.then(go, (err: unknown) => go({ kind: 'answer', index: this.pipeline.stages.length, answer: { error: { code: ErrorCode.InternalError, message: `mcp-warden could not process the request: ${(err as Error)?.message}` } }, outcome: 'failed' }));
    else go(step);
  }

  private incomingTimedOut(inc: Incoming): void {
    if (!this.incoming.delete(inc.downId)) return;
    const message = `The client did not answer within ${Math.round(this.limits.requestTimeoutMs / 1000)}s`;
    if (inc.internal) {
      inc.internal({ error: { code: ErrorCode.RequestTimeout, message } });
      return;
    }
    const ex = inc.ex!;
    ex.outcome = 'timeout';
    ex.response = newFrame(errorResponse(null, ErrorCode.RequestTimeout, message), 'response');
    ex.endedAt = performance.now();
    this.relayResponseUpstream(ex, inc.upIdText);
  }

  private upstreamNotification(frame: Frame, related: number | undefined): void {
    const note = frame.message as JsonRpcNotification;
    const params = note.params;
    if (note.method === 'notifications/tools/list_changed') this.toolsComplete = false;
    let out: Outgoing | undefined;
    if (note.method === 'notifications/progress' && isObject(params)) {
      const token = params['progressToken'];
      out = token === undefined ? undefined : this.byProgress.get(token as string | number);
      if (out) {
        if (this.opts.sharedUpstream) {
          params['progressToken'] = out.progressToken;
          frame.dirty = true;
        }
        if (!out.listen) this.armTimer(out);
      }
    } else if (note.method === 'notifications/cancelled' && isObject(params)) {
      // The server gave up on a request it sent us: point the id at the one the client knows.
      const rid = params['requestId'];
      for (const inc of this.incoming.values()) {
        if (inc.upIdText === JSON.stringify(rid)) {
          this.incoming.delete(inc.downId);
          if (inc.timer) clearTimeout(inc.timer);
          params['requestId'] = inc.downId;
          frame.dirty = true;
          break;
        }
      }
    }
    if (!out) out = this.relatedOutgoing(params, related);
    if (isObject(params) && isObject(params['_meta'])) {
      const sub = params['_meta'][META.subscriptionId];
      if (typeof sub === 'number') {
        const listen = this.outgoing.get(sub);
        if (listen) {
          (params['_meta'] as Record<string, unknown>)[META.subscriptionId] = listen.downId;
          frame.dirty = true;
          out = listen;
        }
      }
    }
    const ex = this.newExchange('to-client', 'notification', frame, undefined, out?.ex?.principal);
    const target = out;
    this.runNotification(ex, () => this.sendToClient(serializeWithId(frame, undefined), target?.reply ?? this.guessReply(), false));
  }

  /** The client request a server message belongs to: by the HTTP stream it came on, or a related task. */
  private relatedOutgoing(params: unknown, related: number | undefined): Outgoing | undefined {
    if (related !== undefined) {
      const out = this.outgoing.get(related);
      if (out) return out;
    }
    return undefined;
  }

  /**
   * A server message with no known relation (stdio upstreams do not say which request a sampling request or a
   * log line belongs to). With exactly one client request open on a reply stream, it goes there, as a direct
   * server would send it; otherwise the default channel takes it.
   */
  private guessReply(): Reply | undefined {
    let found: Reply | undefined;
    for (const out of this.outgoing.values()) {
      if (!out.reply || !out.reply.open || out.internal || out.listen) continue;
      if (found && found !== out.reply) return undefined;
      found = out.reply;
    }
    return found;
  }

  // ───────────────────────────── to the client ─────────────────────────────

  private sendToClient(text: Wire, reply: Reply | undefined, final: boolean, own = false): void {
    if (reply) {
      if (reply.open) reply.send(text, final, own);
      else if (!final) this.downstream.send(text);
      return;
    }
    this.downstream.send(text);
  }

  // ───────────────────────────── the proxy's own requests ─────────────────────────────

  requestUpstream(method: string, params: Record<string, unknown>, timeoutMs = this.limits.requestTimeoutMs): Promise<PeerAnswer> {
    return this.sizedRequestUpstream(method, params, timeoutMs).then((r) => r.answer);
  }

  /** requestUpstream, with the size in bytes of the server's answer (0 for an answer the proxy made). */
  private sizedRequestUpstream(method: string, params: Record<string, unknown>, timeoutMs = this.limits.requestTimeoutMs): Promise<{ answer: PeerAnswer; bytes: number }> {
    return new Promise((done) => {
      const resolve = (answer: PeerAnswer, bytes = 0) => done({ answer, bytes });
      if (this.state_ === 'closed') {
        resolve({ error: { code: ErrorCode.UpstreamFailed, message: 'Upstream server is not available' } });
        return;
      }
      const upId = this.newUpId();
      const p = { ...params };
      if (this.era === 'modern' && this.envelope) {
        const meta = isObject(p['_meta']) ? { ...p['_meta'] } : {};
        p['_meta'] = { ...meta, ...this.envelope };
      }
      const out: Outgoing = {
        upId,
        downIdText: '',
        downId: upId,
        method,
        ex: undefined,
        reply: undefined,
        timer: undefined,
        progressToken: undefined,
        internal: resolve,
        cancelled: false,
        listen: false,
      };
      this.outgoing.set(upId, out);
      out.timer = setTimeout(() => this.failOutgoing(out, ErrorCode.RequestTimeout, `Request timed out after ${timeoutMs}ms`, 'timeout'), timeoutMs);
      out.timer.unref?.();
      this.sendUpstream(JSON.stringify({ jsonrpc: '2.0', id: upId, method, params: p }), { kind: 'request', method, upId, params: p });
    });
  }

  requestDownstream(method: string, params: Record<string, unknown>, related: Exchange | undefined, timeoutMs: number): Promise<PeerAnswer> {
    return new Promise((resolve) => {
      const downId = this.nextDownId++;
      const inc: Incoming = { downId, upIdText: '', method, ex: undefined, timer: undefined, internal: resolve, ...(related ? { askedFor: related } : {}) };
      this.incoming.set(downId, inc);
      inc.timer = setTimeout(() => this.incomingTimedOut(inc), timeoutMs);
      inc.timer.unref?.();
      const reply = related ? this.replyOf(related) : undefined;
      this.sendToClient(JSON.stringify({ jsonrpc: '2.0', id: downId, method, params }), reply ?? this.guessReply(), false);
    });
  }

  /** Replies of client requests still in their request stages (an `ask` waits there). */
  private readonly pendingReplies = new Map<Exchange, Reply>();

  /** The reply stream of a client exchange, whether it is still in its stages or already forwarded. */
  private replyOf(ex: Exchange): Reply | undefined {
    const pending = this.pendingReplies.get(ex);
    if (pending) return pending;
    for (const out of this.outgoing.values()) if (out.ex === ex) return out.reply;
    return undefined;
  }

  catalogComplete(): boolean {
    return this.toolsComplete;
  }

  catalog(): Promise<Map<string, ToolEntry> | undefined> {
    if (this.toolsComplete) return Promise.resolve(this.tools);
    this.catalogPending ??= this.fetchCatalog().finally(() => (this.catalogPending = undefined));
    return this.catalogPending;
  }

  private async fetchCatalog(): Promise<Map<string, ToolEntry> | undefined> {
    const fresh = new Map<string, ToolEntry>();
    let malformed = false;
    this.toolsBytes = 0;
    const read = await this.readList('tools/list', 'tools', (list, bytes) => {
      // Too large to hold: not read whole, as when a page fails.
      if (!this.takeToolPage(bytes)) return false;
      if (!Array.isArray(list)) return !(malformed = true);
      for (const t of list) if (isObject(t) && typeof t['name'] === 'string') fresh.set(t['name'], { name: t['name'], definition: t });
      return true;
    });
    if (malformed) return undefined;
    if (read === 'failed' || read === 'stopped') return this.tools.size ? this.tools : undefined;
    this.tools.clear();
    for (const [k, v] of fresh) this.tools.set(k, v);
    this.toolsComplete = read === 'whole';
    this.toolsGeneration++;
    return this.tools;
  }

  async readList(method: string, key: string, take: (items: unknown, bytes: number) => boolean): Promise<'whole' | 'cut' | 'stopped' | 'failed'> {
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const { answer, bytes } = await this.sizedRequestUpstream(method, cursor === undefined ? {} : { cursor });
      if ('error' in answer) return 'failed';
      if (!take(answer.result[key], bytes)) return 'stopped';
      cursor = typeof answer.result['nextCursor'] === 'string' ? answer.result['nextCursor'] : undefined;
      if (cursor === undefined) return 'whole';
    }
    return 'cut';
  }

  notifyDownstream(method: string, params: Record<string, unknown>): void {
    this.sendToClient(JSON.stringify({ jsonrpc: '2.0', method, params }), undefined, false);
  }

  // ───────────────────────────── upstream loss and shutdown ─────────────────────────────

  private upstreamClosed(up: Upstream, info: UpstreamCloseInfo): void {
    if (up !== this.upstream || this.state_ === 'closed') return;
    this.log.warn({ session: this.id, server: this.server, reason: info.reason, unexpected: info.unexpected }, 'upstream closed');
    if (!info.unexpected) return;
    this.opts.events?.event(info.exitCode === 0 ? 'upstream_exit' : 'upstream_crash', this.source(), { reason: info.reason, exit_code: info.exitCode ?? null, signal: info.signal ?? null });
    this.failAllInflight(`The upstream server ${info.reason}`);
    // Restarts are counted over a window: a server that dies once in a while under a host that runs for days is
    // restarted each time; one that keeps dying is given up on after max_restarts.
    const now = performance.now();
    const windowMs = this.opts.restartWindowMs ?? 600_000;
    this.restartTimes = this.restartTimes.filter((t) => now - t < windowMs);
    if (this.opts.onUpstreamLoss === 'replay' && this.opts.restartUpstream && this.restartTimes.length < (this.opts.maxRestarts ?? 3)) {
      this.restarts++;
      this.restartTimes.push(now);
      void this.restart();
    } else {
      void this.close(`upstream ${info.reason}`);
    }
  }

  private failAllInflight(message: string): void {
    for (const out of [...this.outgoing.values()]) this.failOutgoing(out, ErrorCode.UpstreamFailed, message, 'failed');
    for (const inc of [...this.incoming.values()]) {
      this.incoming.delete(inc.downId);
      if (inc.timer) clearTimeout(inc.timer);
      if (inc.internal) inc.internal({ error: { code: ErrorCode.UpstreamFailed, message } });
    }
  }

  private async restart(): Promise<void> {
    this.state_ = 'restarting';
    try {
      // Inside the try: making the upstream can fail too (a URL upstream reads its token_file again), and a throw
      // here ended the whole proxy with a stack trace.
      const up = this.opts.restartUpstream!();
      this.upstream = up;
      this.attachUpstream(up);
      await up.start();
      this.opts.events?.event('upstream_spawn', this.source(), { restart: this.restarts, pid: up.pid ?? null });
      if (this.era !== 'modern' && this.initializeText) {
        // Replay the handshake the client already made; its answer is the proxy's, not the client's.
        const parsed = parseFrame(this.initializeText, { maxDepth: this.limits.maxJsonDepth });
        if (parsed.ok) {
          const init = parsed.frames[0]!.message as JsonRpcRequest;
          const answer = await this.requestUpstream('initialize', init.params ?? {});
          if ('error' in answer) throw new Error(`the restarted server refused initialize: ${answer.error.message}`);
          if (this.initializedText) this.sendUpstream(this.initializedText, { kind: 'notification', method: 'notifications/initialized', upId: undefined });
        }
      }
      // Closed meanwhile (the host went away): close() has ended the new upstream too, and the session stays closed.
      if (!this.closing) this.state_ = 'open';
      this.log.info({ session: this.id, server: this.server, restarts: this.restarts }, 'upstream restarted');
    } catch (err) {
      this.log.error({ session: this.id, err: (err as Error).message }, 'upstream restart failed');
      if (!this.closing) this.state_ = 'open';
      await this.close(`upstream restart failed: ${(err as Error).message}`);
    }
    const pending = this.pendingWhileRestarting;
    this.pendingWhileRestarting = [];
    for (const run of pending) run();
  }

  /**
   * Ends the session once; a later call waits for that end. (It returned at once: a gateway shutting down while a
   * session was still closing, its client just gone, wrote its final checkpoint and exited before that session's
   * `session_end` was recorded.)
   */
  close(reason = 'closed'): Promise<void> {
    return (this.closing ??= this.end(reason));
  }

  private async end(reason: string): Promise<void> {
    this.state_ = 'closed';
    this.failAllInflight(`Session ended: ${reason}`);
    for (const run of this.pendingWhileRestarting) run();
    this.pendingWhileRestarting = [];
    // The errors just written pass the response stages (audit first) before they reach the client; the owner
    // closes the client's channel in onended, so give them a moment to get out.
    for (let waited = 0; this.clientRequests > 0 && waited < 2000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    try {
      await this.upstream.close();
    } finally {
      this.opts.events?.event('session_end', this.source(), { reason });
      this.pipeline.sessionEnded(this);
      this.onended?.(reason);
    }
  }
}

function answerFrame(id: JsonRpcId, answer: PeerAnswer): Frame {
  const msg: JsonRpcResponse = 'error' in answer ? errorResponse(id, answer.error.code, answer.error.message, answer.error.data) : { jsonrpc: '2.0', id, result: answer.result };
  return newFrame(msg, 'response');
}

/** The `Mcp-Param-*` headers a client sent; the only ones that travel upstream (spec: intermediaries MUST forward them). */
function pickParamHeaders(h: Record<string, string>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const k of Object.keys(h)) {
    if (k.startsWith('mcp-param-')) (out ??= {})[k] = h[k]!;
  }
  return out;
}
