/**
 * The stage contract. Every message crosses one ordered list of stages (the list lives in `assemble.ts`).
 *
 * An exchange is one request with its response, or one notification. `request(ex)` runs in list order when the
 * request (or notification) arrives; `response(ex)` runs in reverse order before the response leaves. A stage
 * may pass (return nothing), rewrite `ex.message` in place (then call `markDirty`), or answer in place of the
 * peer by returning `{ answer }`; then the response hooks of the stages before it — and only those — run on that
 * answer. Stages never import each other, the session or a transport: what they share travels here.
 */
import { wireWithId, type Frame, type Wire } from '../protocol/frame.js';
import type { JsonRpcErrorObject, JsonRpcId } from '../protocol/jsonrpc.js';
import type { Era } from '../protocol/eras.js';

export interface Principal {
  /** Stable subject: `local:<user>` over stdio, the token's `sub` over HTTP. */
  sub: string;
  kind: 'local' | 'oauth' | 'anonymous';
  clientId?: string;
  issuer?: string;
  scopes: string[];
  claims: Record<string, unknown>;
  /** The token's `jti`, or a SHA-256 prefix of it; never the token. */
  tokenRef?: string;
  /** Seconds since the epoch when the credential stops being valid. */
  expiresAt?: number;
}

/**
 * Who a principal is, as one string: its issuer and subject. Sessions, approvals, bound state and rate limits are
 * per person under this key. Encoded unambiguously (a `sub` such as `auth0|123` holds the separator a plain join
 * would use).
 */
export function principalKey(p: Principal): string {
  return JSON.stringify([p.issuer ?? '', p.sub]);
}

export type Direction = 'to-server' | 'to-client';
export type TransportKind = 'stdio' | 'http' | 'sse' | 'websocket';

/** One tool as the upstream last listed it (unfiltered), for stages that check arguments or pins. */
export interface ToolEntry {
  name: string;
  definition: Record<string, unknown>;
}

export interface SessionInfo {
  readonly id: string;
  /** The configured server name. */
  readonly server: string;
  readonly transport: TransportKind;
  /**
   * Whoever sent the session's latest request. Several clients of one person may share a session (each with its own
   * token, client id and scopes), so a stage judges an exchange by `Exchange.principal`, never by this.
   */
  principal: Principal;
  era: Era | undefined;
  protocolVersion: string | undefined;
  clientInfo: { name?: string; version?: string } | undefined;
  clientCapabilities: Record<string, unknown> | undefined;
  serverInfo: { name?: string; version?: string } | undefined;
  serverCapabilities: Record<string, unknown> | undefined;
  instructions: string | undefined;
  /** Tools from the upstream's last `tools/list` pages, by name. */
  readonly tools: Map<string, ToolEntry>;
  /** Per-session state a stage keeps, under its own name. */
  readonly state: Map<string, unknown>;
}

export type PeerAnswer = { result: Record<string, unknown> } | { error: JsonRpcErrorObject };

export interface SessionServices {
  /** Sends a request of the proxy's own to the server; the pipeline is not run on it. */
  requestUpstream(method: string, params: Record<string, unknown>, timeoutMs?: number): Promise<PeerAnswer>;
  /** Sends a request of the proxy's own to the client (an approval prompt), on the stream of `related`. */
  requestDownstream(method: string, params: Record<string, unknown>, related: Exchange | undefined, timeoutMs: number): Promise<PeerAnswer>;
  /** Sends a notification of the proxy's own to the client. */
  notifyDownstream(method: string, params: Record<string, unknown>): void;
  /**
   * The server's tools, every page: what the client's lists showed if they were complete and current, else
   * fetched by the proxy itself. Undefined if the server does not list tools.
   */
  catalog(): Promise<Map<string, ToolEntry> | undefined>;
  /** Whether `tools` holds the server's complete, current list (no list_changed since, every page seen). */
  catalogComplete(): boolean;
  /**
   * Reads every page of a list with the proxy's own requests (at most MAX_LIST_PAGES): `take` gets each page's
   * `result[key]` as the server sent it and the page's size in bytes, and returns false to stop. 'whole': the last
   * page was read; 'cut': more pages than that; 'stopped': `take` stopped it; 'failed': an error answer.
   */
  readList(method: string, key: string, take: (items: unknown, bytes: number) => boolean): Promise<'whole' | 'cut' | 'stopped' | 'failed'>;
}

/** Pages of a list the proxy reads with its own requests (the tool catalogue, the prompt list). */
export const MAX_LIST_PAGES = 100;

export type Session = SessionInfo & SessionServices;

export type Outcome = 'ok' | 'error' | 'denied' | 'timeout' | 'cancelled' | 'failed' | 'dropped';

export interface Decision {
  effect: 'allow' | 'deny' | 'ask';
  rule?: string;
  reason?: string;
  /** `shadow`: decided and recorded, not enforced. */
  mode?: 'enforce' | 'shadow';
}

/** Fields stages add for the audit record. Counts and ids only — never a token or a matched value. */
export interface ExchangeNotes {
  target?: string;
  redactions?: Record<string, number>;
  inboundRedactions?: Record<string, number>;
  /**
   * The first violation, the first names that met one (at most PIN_NOTE_NAMES, under their kind: tools, prompts, views,
   * viewListings) and how many more did.
   */
  pin?: { violation: string; tools?: string[]; prompts?: string[]; views?: string[]; viewListings?: string[]; more?: number };
  policyVersion?: string;
  approval?: 'requested' | 'approved' | 'declined' | 'timeout' | 'unavailable' | 'cancelled';
  /**
   * The request text the redaction prefilter found nothing in (set only then): while the message is still exactly
   * this text, its arguments hold nothing any rule matches, and the audit capture need not redact them again.
   */
  cleanRequestText?: string;
  /** Why the upstream could not answer, in full, when the client was told less (the audit event's reason). */
  failure?: string;
  [key: string]: unknown;
}

export interface Exchange {
  readonly session: Session;
  /**
   * The caller this exchange is for: the token that sent a client's message; for a server's message, the caller
   * of the request it belongs to (else the session's latest). Fixed when the exchange starts.
   */
  readonly principal: Principal;
  readonly direction: Direction;
  readonly kind: 'request' | 'notification';
  readonly method: string;
  /** The request or notification; stages may change `message.message` and must then call `markDirty`. */
  readonly message: Frame;
  /** The id the sending peer chose (requests only). */
  readonly peerId: JsonRpcId | undefined;
  /** The response, when response hooks run. */
  response: Frame | undefined;
  outcome: Outcome | undefined;
  /** The stage that answered in place of the peer, if any. */
  answeredBy: string | undefined;
  decision: Decision | undefined;
  readonly notes: ExchangeNotes;
  /** `performance.now()` at arrival. */
  readonly startedAt: number;
  endedAt: number | undefined;
  /**
   * Request headers of an HTTP exchange, lower-cased (modern era: the mirrored `Mcp-*` headers). A stage that
   * changes mirrored arguments replaces this object with headers that match (the upstream gets these).
   */
  headers: Readonly<Record<string, string>> | undefined;
  /** Bytes of the request and of the response on the wire. */
  bytesIn: number;
  bytesOut: number;
  /** The id (JSON text) the response is relayed with, set before response hooks run: see `relayedWire`. */
  relayIdText?: string;
  /** `relayedWire`'s result, for the response it was made from. */
  relayed?: { frame: Frame; dirty: boolean; wire: Wire };
}

export type StageResult = void | undefined | { answer: PeerAnswer; outcome?: Outcome } | { drop: true };

export interface Stage {
  readonly name: string;
  request?(ex: Exchange): StageResult | Promise<StageResult>;
  response?(ex: Exchange): void | Promise<void>;
  /**
   * Called once a client's request has gone to the server, as it went (nothing changes it after this): work the
   * response hook will need from the request alone can be done while the server has it.
   */
  forwarded?(ex: Exchange): void;
  /** Called once when a session ends (state cleanup). */
  sessionEnded?(session: SessionInfo): void;
  close?(): void | Promise<void>;
}

export function markDirty(frame: Frame): void {
  frame.dirty = true;
}

/**
 * The response exactly as it is relayed to the peer waiting for it (with that peer's id), made once: the audit
 * stage hashes it and the session sends it. The audit stage's response hook runs after every stage that may change
 * a response (only the metrics stage is outside it, and it reads), so what it hashes is what goes out.
 */
export function relayedWire(ex: Exchange): Wire {
  const frame = ex.response!;
  const have = ex.relayed;
  if (have && have.frame === frame && have.dirty === frame.dirty) return have.wire;
  const wire = wireWithId(frame, ex.relayIdText);
  ex.relayed = { frame, dirty: frame.dirty, wire };
  return wire;
}
