/**
 * The audit stage, outermost in the pipeline: it records the final answer of every exchange, including refusals
 * by any stage below it and the redaction counts of what it lets out. With strict durability the response to a
 * request leaves only after its event is committed. While the store cannot write, `on_failure: deny` refuses new
 * requests with a clear error.
 *
 * What is recorded: names, decisions, sizes, latencies, hashes, counts. Arguments only per `capture`
 * (`redacted` passes them through the redactor first, then caps their size). Never a token or a matched secret.
 */
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ErrorCode, isObject, type JsonRpcErrorResponse, type JsonRpcRequest } from '../protocol/jsonrpc.js';
import { exactNumbers, wireSha256 } from '../protocol/frame.js';
import type { EventSource, SessionEvents } from '../proxy/session.js';
import { relayedWire, type Exchange, type Stage } from '../pipeline/types.js';
import { canonicalJson, type AuditEvent } from './chain.js';
import { blankEvent, newEventId, type AuditWriter } from './writer.js';

export type Capture = 'none' | 'hash' | 'redacted';

export interface AuditStageOptions {
  capture: Capture;
  captureMaxBytes: number;
  onFailure: 'deny' | 'allow';
  /** Wait for the commit before a response leaves (strict and fsync durability). */
  waitForCommit: boolean;
  /** Makes captured arguments safe to store (the redaction engine); without one, `redacted` stores only hashes. */
  redactArgs?: (args: unknown) => unknown;
  /** Masks secrets in server-written text the event keeps (an error's message as `reason`). */
  redactText?: (text: string) => string;
  /** The key of `args_sha256` (SigningKey.argsKey): HMAC-SHA-256, so the hash does not give away masked arguments. */
  argsKey: Buffer;
}

/** `args_sha256`: HMAC-SHA-256 of the arguments' canonical JSON (numbers as the caller wrote them), hex. */
export function argsHash(argsKey: Buffer, canonical: string): string {
  return createHmac('sha256', argsKey).update(canonical).digest('hex');
}

/** Wall-clock time of a performance.now() reading. */
const ORIGIN = Date.now() - performance.now();

function argsOf(ex: Exchange): unknown {
  const params = (ex.message.message as JsonRpcRequest).params;
  if (!isObject(params)) return undefined;
  if (ex.method === 'tools/call') return params['arguments'];
  if (ex.method === 'prompts/get') return params['arguments'];
  if (ex.method === 'sampling/createMessage' || ex.method === 'elicitation/create') return params;
  return undefined;
}

/**
 * What the exchange was about. A resource URI, a task id or a name the server does not offer is the caller's text
 * and may carry a credential (`?access_token=…`, `postgres://user:password@…`): masked. The name of a tool the
 * server lists is the server's own and is kept as it is (and costs the hot path nothing).
 */
function auditTarget(ex: Exchange, opts: AuditStageOptions): string | null {
  const t = ex.notes.target;
  if (t === undefined) return null;
  if (ex.method === 'tools/call' && ex.session.tools.has(t)) return clip(t, MAX_TARGET_CHARS);
  return kept(t, MAX_TARGET_CHARS, opts.redactText);
}

/**
 * The longest method and target an event keeps. Both are the peer's text — a model can send a 16 MiB resource URI
 * or method name, a server a tool name as long — and the trail (and its off-machine copy) must not grow with them.
 */
const MAX_METHOD_CHARS = 256;
/** Notifications of one method in one session written one by one per window; the rest of the window is counted. */
export const NOTIFICATION_BURST = 100;
const NOTIFICATION_WINDOW_MS = 10_000;
const MAX_TARGET_CHARS = 2048;
const MAX_REASON_CHARS = 500;

/**
 * Text an event keeps from a peer, masked and then cut to `max`: masked before it is cut (a secret cut in half
 * would no longer match its rule), on a piece long enough that a secret crossing the first cut lies past the second.
 */
function kept(text: string, max: number, redact: ((t: string) => string) | undefined): string {
  const piece = text.length > max + 8192 ? text.slice(0, max + 8192) : text;
  return clip(redact ? redact(piece) : piece, max, text.length);
}

/** `s` cut to `max` characters, saying how long the text was (`length`: of the text `s` was made from). */
function clip(s: string, max: number, length = s.length): string {
  return s.length > max ? `${s.slice(0, max)}…[truncated ${length} chars]` : s;
}

const NO_ARGS = { args_sha256: null, args: null } as const;

/** `args_sha256` and `args` (per `capture`) of the exchange's request. */
function argsFields(ex: Exchange, opts: AuditStageOptions): { args_sha256: string | null; args: string | null } {
  const args = argsOf(ex);
  if (args === undefined || opts.capture === 'none') return NO_ARGS;
  // Numbers as the caller wrote them: the trail records the call the server got, not JavaScript's rounding of it.
  const canonical = exactNumbers(ex.message, canonicalJson(args));
  const args_sha256 = argsHash(opts.argsKey, canonical);
  if (opts.capture !== 'redacted' || !opts.redactArgs) return { args_sha256, args: null };
  // The redaction prefilter already found nothing in exactly this request text: nothing to mask again.
  const clean = ex.notes.cleanRequestText !== undefined && !ex.message.dirty && ex.message.raw === ex.notes.cleanRequestText;
  const text = clean ? canonical : exactNumbers(ex.message, canonicalJson(opts.redactArgs(args)));
  return { args_sha256, args: text.length > opts.captureMaxBytes ? `${text.slice(0, opts.captureMaxBytes)}…[truncated ${text.length} bytes]` : text };
}

/**
 * Events begun before their exchange ended: the fields its request alone decides, worked out while the server had
 * the request (`forwarded`), or by `record_forwarded` as the request left. Taken by the exchange's event.
 */
const requestPart = new WeakMap<Exchange, AuditEvent>();

/**
 * The fields of an exchange's event that nothing after its request changes: who, where, what, its size and its
 * arguments (see `argsFields`). The decision is not one of them (a response hook may refuse what the answer carries:
 * a 2026-07-28 input request), nor the target (masked or not by the tool list of the moment).
 */
function requestFields(ex: Exchange, opts: AuditStageOptions, args = argsFields(ex, opts)): AuditEvent {
  const s = ex.session;
  const start = ORIGIN + ex.startedAt;
  const ev = blankEvent(ex.kind === 'notification' ? 'notification' : ex.direction === 'to-server' ? 'exchange' : 'server_request', start);
  ev.session = s.id;
  ev.principal_sub = ex.principal.sub;
  ev.client_id = ex.principal.clientId ?? null;
  ev.issuer = ex.principal.issuer ?? null;
  ev.server = s.server;
  ev.method = clip(ex.method, MAX_METHOD_CHARS);
  ev.bytes_in = ex.bytesIn;
  ev.args_sha256 = args.args_sha256;
  ev.args = args.args;
  return ev;
}

export function exchangeEvent(ex: Exchange, opts: AuditStageOptions): AuditEvent {
  const s = ex.session;
  const ev = requestPart.get(ex) ?? requestFields(ex, opts);
  requestPart.delete(ex);
  ev.target = auditTarget(ex, opts);
  const refusedOrShadow = ex.decision && (ex.decision.effect !== 'allow' || ex.decision.mode === 'shadow');
  if (ex.decision) {
    ev.decision = ex.decision.mode === 'shadow' ? `shadow:${ex.decision.effect}` : ex.decision.effect;
    ev.rule = ex.decision.rule ?? null;
    // A refusal's reason may quote the caller's argument or URI ("got …"): masked like a server's error message.
    if (refusedOrShadow && ex.decision.reason !== undefined) ev.reason = kept(ex.decision.reason, MAX_REASON_CHARS, opts.redactText);
  }
  ev.policy_version = ex.notes.policyVersion ?? null;
  ev.status = ex.outcome ?? null;
  ev.latency_ms = ex.endedAt !== undefined ? Math.round((ex.endedAt - ex.startedAt) * 1000) / 1000 : null;
  ev.bytes_out = ex.bytesOut;
  const resp = ex.response;
  let errorCode: number | undefined;
  if (resp) {
    // What the peer waiting for it receives, byte for byte (the line without its newline), from the bytes that are sent.
    if (opts.capture !== 'none') ev.result_sha256 = wireSha256(relayedWire(ex));
    const err = (resp.message as JsonRpcErrorResponse).error;
    // The server wrote this message; an action that lets a secret through to the client (detect) does not store it.
    if (err && !ev.reason) ev.reason = kept(ex.notes.failure ?? String(err.message), MAX_REASON_CHARS, opts.redactText);
    if (!ev.reason && ex.decision?.reason) ev.reason = clip(ex.decision.reason, MAX_REASON_CHARS);
    if (err) errorCode = err.code;
  }
  if (ex.notes.redactions && Object.keys(ex.notes.redactions).length) ev.redactions = canonicalJson(ex.notes.redactions);
  const extra: Record<string, unknown> = { direction: ex.direction, transport: s.transport };
  if (errorCode !== undefined) extra['error_code'] = errorCode;
  if (s.era) extra['era'] = s.era;
  if (ex.answeredBy) extra['answered_by'] = ex.answeredBy;
  if (ex.notes.pin) extra['pin'] = ex.notes.pin;
  if (ex.notes.approval) extra['approval'] = ex.notes.approval;
  if (ex.notes.inboundRedactions && Object.keys(ex.notes.inboundRedactions).length) extra['inbound_redactions'] = ex.notes.inboundRedactions;
  if (ex.decision?.mode === 'shadow') extra['mode'] = 'shadow';
  ev.extra = canonicalJson(extra);
  return ev;
}

export function auditStage(writer: AuditWriter, opts: AuditStageOptions): Stage {
  /**
   * Requests that went to the server, whose events' request fields (the arguments' canonical JSON, keyed hash and
   * redacted copy above all) are worked out once this turn of the event loop has sent them: while the server has
   * the request, rather than after its answer arrived, when the response would wait for them.
   */
  let sent: Exchange[] = [];
  const workOut = (): void => {
    const batch = sent;
    sent = [];
    // An exchange already answered (the send failed at once) has its event: its response hook did the work.
    for (const ex of batch) if (!ex.response && !requestPart.has(ex)) requestPart.set(ex, requestFields(ex, opts));
  };
  return {
    name: 'audit',
    forwarded(ex) {
      if (requestPart.has(ex)) return;
      if (sent.push(ex) === 1) setImmediate(workOut);
    },
    request(ex) {
      if (!writer.healthy && opts.onFailure === 'deny' && ex.kind === 'request') {
        return {
          answer: {
            error: {
              code: ErrorCode.AuditUnavailable,
              message: `mcp-warden cannot write its audit trail (${writer.lastError ?? 'store unavailable'}); calls are refused until it can (audit.on_failure: deny)`,
            },
          },
          outcome: 'failed',
        };
      }
      return undefined;
    },
    response(ex) {
      const event = exchangeEvent(ex, opts);
      if (ex.kind === 'request' && opts.waitForCommit && opts.onFailure === 'deny') return writer.enqueue(event);
      if (ex.kind === 'request' && opts.waitForCommit) return writer.enqueue(event).catch(() => undefined);
      // A server can send notifications as fast as it can write (100,000 log lines made 100,000 rows, 44 MB): past
      // NOTIFICATION_BURST in a window, one session's notifications of one method become one counted event.
      if (ex.kind === 'notification') writer.aggregate(`notification\n${ex.session.id}\n${ex.direction}\n${event.method}`, event, NOTIFICATION_WINDOW_MS, 10_000, NOTIFICATION_BURST);
      else writer.record(event);
      return undefined;
    },
  };
}

/**
 * `audit.record_forwarded`: the innermost stage, so it sees a request exactly as it leaves, after every other stage
 * let it through. It records a `forwarded` event (what the exchange event will say, less the answer) and, with strict
 * durability, holds the request until that is committed: a call at the server when the proxy is killed is in the
 * trail. If the event cannot be written, `on_failure: deny` refuses the call instead of forwarding it unrecorded.
 */
export function forwardStage(writer: AuditWriter, opts: AuditStageOptions): Stage {
  return {
    name: 'audit-forward',
    request(ex) {
      if (ex.kind !== 'request' || ex.direction !== 'to-server') return undefined;
      const event = exchangeEvent(ex, opts);
      // Innermost, so this is the request as it leaves: the exchange event starts from the same arguments.
      requestPart.set(ex, requestFields(ex, opts, { args_sha256: event.args_sha256, args: event.args }));
      event.event = 'forwarded';
      // Nothing has come back yet.
      event.bytes_out = null;
      event.result_sha256 = null;
      if (!opts.waitForCommit) {
        writer.record(event);
        return undefined;
      }
      return writer.enqueue(event).then(
        () => undefined,
        () =>
          opts.onFailure === 'deny'
            ? { answer: { error: { code: ErrorCode.AuditUnavailable, message: `mcp-warden could not record this call before forwarding it (${writer.lastError ?? 'store unavailable'}); it was not sent (audit.on_failure: deny)` } }, outcome: 'failed' as const }
            : undefined,
      );
    },
  };
}

/** Lifecycle and fault events from sessions and the HTTP front (not exchanges). */
export function auditEvents(writer: AuditWriter): SessionEvents {
  return {
    event(kind: string, src: EventSource, fields: Record<string, unknown>) {
      const ev = blankEvent(kind);
      ev.server = src.server;
      ev.session = src.session ?? null;
      ev.principal_sub = src.principal?.sub ?? null;
      ev.client_id = src.principal?.clientId ?? null;
      ev.issuer = src.principal?.issuer ?? null;
      const { reason, status, method, target, ...rest } = fields;
      ev.reason = typeof reason === 'string' ? clip(reason, MAX_REASON_CHARS) : null;
      ev.status = typeof status === 'string' ? status : null;
      ev.method = typeof method === 'string' ? clip(method, MAX_METHOD_CHARS) : null;
      ev.target = typeof target === 'string' ? clip(target, MAX_TARGET_CHARS) : null;
      ev.extra = canonicalJson({ ...rest, ...(src.transport ? { transport: src.transport } : {}) });
      if (kind === 'auth_failure' || kind === 'bad_input') {
        // A flood from one source becomes counted events, not one row per request.
        const source = typeof rest['source'] === 'string' ? rest['source'] : (src.session ?? 'unknown');
        writer.aggregate(`${kind}\n${src.server}\n${source}\n${ev.reason ?? ''}`, ev);
        return;
      }
      writer.record(ev);
    },
  };
}

export { newEventId };
