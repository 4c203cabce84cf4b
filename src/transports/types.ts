/**
 * What a session needs from transports. Transports move JSON-RPC text and know nothing of policy.
 */
import type { Wire } from '../protocol/frame.js';
import type { Era } from '../protocol/eras.js';
import type { MessageKind } from '../protocol/jsonrpc.js';
import type { Principal, TransportKind } from '../pipeline/types.js';

export interface UpstreamSendOptions {
  kind: MessageKind;
  method: string | undefined;
  era: Era;
  /** The proxy's id for a request (or the id a response answers). */
  upId: number | undefined;
  /** Headers the client sent that must travel on (modern `Mcp-Param-*`). */
  headers?: Record<string, string> | undefined;
  /** Modern era: the version the body's envelope claims, and the name `Mcp-Name` mirrors. */
  protocolVersion?: string | undefined;
  mcpName?: string | undefined;
  /** The caller the message is sent for (a URL upstream's token exchange uses that caller's token). */
  principal?: Principal | undefined;
}

export interface UpstreamCloseInfo {
  reason: string;
  /** True when the server went away unexpectedly (crash, exit, lost session), false on our own close. */
  unexpected: boolean;
  exitCode?: number | null;
  signal?: string | null;
}

export interface UpstreamFailure {
  code: number;
  /** What went wrong, in words that name nothing of the gateway's (every client may read it). */
  message: string;
  /**
   * Why, in the gateway's own terms: an address it connects to, a token endpoint's refusal, an egress rule. The
   * local user of `wrap` gets it after the message; a `serve` client does not (the log and the audit trail do).
   */
  detail?: string;
  status?: number;
}

/** Why a message from the server was refused before parsing. */
export type BadMessageReason = 'oversize' | 'invalid-utf8' | 'binary';

export interface Upstream {
  readonly kind: 'stdio' | 'http' | 'sse' | 'websocket';
  /** Label for logs and audit (command or URL without credentials). */
  readonly label: string;
  start(): Promise<void>;
  /** Returns false when the transport wants the sender to slow down (stdio backpressure). */
  send(text: string, opts: UpstreamSendOptions): boolean;
  close(): Promise<void>;
  /**
   * The proxy itself was told to stop (a signal from its host): a close under way, or one to come, skips the wait for
   * the server to exit on its own and signals it at once (stdio: SIGTERM to its tree, then SIGKILL after half the
   * grace, within the host's own wait before it SIGKILLs the proxy).
   */
  hurry?(): void;
  /** Legacy era: the version the server chose in its `initialize` result (sent as MCP-Protocol-Version). */
  setProtocolVersion?(version: string): void;
  pause?(): void;
  resume?(): void;
  /** The session has the answer to request `upId` (or gave up on it). */
  requestDone?(upId: number): void;
  ondrain?: () => void;
  /** A message from the server; `related` is the proxy request id whose HTTP response stream carried it. */
  /** `utf8`: the bytes `text` was decoded from, when they were valid UTF-8 and the transport kept them. */
  onmessage?: (text: string, bytes: number, related: number | undefined, utf8?: Buffer) => void;
  /** A line or event the server sent that is over the size limit or not UTF-8. */
  onbadmessage?: (reason: BadMessageReason, prefix: string, bytes: number) => void;
  /** The exchange of one request failed below JSON-RPC (HTTP status, network). */
  onrequestfailed?: (upId: number, failure: UpstreamFailure) => void;
  onclose?: (info: UpstreamCloseInfo) => void;
  /** Process id of a stdio child (for tests and logs). */
  readonly pid?: number | undefined;
}

/** The stream on which a client waits for the answer to one of its requests (an HTTP POST response). */
export interface Reply {
  readonly open: boolean;
  /**
   * Writes one message; `final` marks the response that ends the exchange; `own` marks an answer mcp-warden made
   * (a stage refused or answered), not one the server wrote.
   */
  // Property syntax: checked strictly, so an implementation that only takes strings does not compile.
  send: (text: Wire, final: boolean, own?: boolean) => void;
  /** Set by the session: called if the client goes away before the final message. */
  onabort: (() => void) | undefined;
}

/** The client side of a session: where messages go that belong to no open reply. */
export interface Downstream {
  readonly kind: TransportKind;
  send: (text: Wire) => boolean;
  ondrain?: () => void;
}
