/**
 * JSON-RPC 2.0 as MCP uses it: the envelope types, the error codes mcp-warden emits, and constructors.
 * Nothing here does I/O; untrusted input is `unknown` until `classify` has looked at it.
 */

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcResultResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}

export interface JsonRpcErrorResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcResultResponse | JsonRpcErrorResponse;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;
export type MessageKind = 'request' | 'notification' | 'response';

/** Error codes. The JSON-RPC ones, the MCP ones the proxy relies on, and the proxy's own (documented in docs/errors.md). */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** SDK convention for a request that timed out. */
  RequestTimeout: -32001,
  /** SPEC §4: a visible request refused by policy (not a tool call). */
  PolicyDenied: -32010,
  /** The upstream server failed: exited, crashed, answered garbage or an HTTP error. */
  UpstreamFailed: -32011,
  /** A message over `limits` (size, depth) or otherwise refused before any stage ran. */
  LimitExceeded: -32012,
  /** The audit store cannot write and `on_failure: deny` is set. */
  AuditUnavailable: -32013,
  /** A cap on sessions or in-flight requests was reached. */
  Overloaded: -32014,
  /** A response (or a tool's arguments) held a finding whose redaction action is `block`. */
  RedactionBlocked: -32015,
  /** SEP-2243: HTTP headers disagree with the body. */
  HeaderMismatch: -32020,
  /** 2026-07-28: the requested protocol version is not supported. */
  UnsupportedProtocolVersion: -32022,
} as const;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isValidId(v: unknown): v is JsonRpcId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcErrorResponse {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id, error };
}

export function resultResponse(id: JsonRpcId, result: Record<string, unknown>): JsonRpcResultResponse {
  return { jsonrpc: '2.0', id, result };
}

export type Classified =
  | { ok: true; kind: MessageKind; message: JsonRpcMessage }
  /** `request`: the refused message is a request (it has a method and an id), which its sender waits on an answer to. */
  | { ok: false; code: number; message: string; id: JsonRpcId | null; request?: true };

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

/** Every method of MCP, both eras (requests either side sends, and notifications). */
export const MCP_METHODS: readonly string[] = [
  'initialize', 'ping', 'server/discover', 'subscriptions/listen', 'logging/setLevel', 'completion/complete',
  'tools/list', 'tools/call', 'prompts/list', 'prompts/get', 'resources/list', 'resources/templates/list', 'resources/read',
  'resources/subscribe', 'resources/unsubscribe', 'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel', 'tasks/update',
  'sampling/createMessage', 'elicitation/create', 'roots/list',
  'notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/message',
  'notifications/resources/updated', 'notifications/resources/list_changed', 'notifications/tools/list_changed',
  'notifications/prompts/list_changed', 'notifications/roots/list_changed', 'notifications/elicitation/complete',
  'notifications/tasks/status',
];
const EXACT_METHODS = new Set(MCP_METHODS);

/**
 * The name a server that reads method names loosely could take `s` for: case, white space, control and format
 * characters, Unicode compatibility forms and doubled or outer slashes folded away.
 */
function foldMethod(s: string): string {
  return s
    .normalize('NFKC')
    .replace(/[\p{Cc}\p{Cf}\p{Z}\s]+/gu, '')
    .toLowerCase()
    .replace(/\/{2,}/g, '/')
    .replace(/^\/|\/$/g, '');
}
const FOLDED_METHODS = new Map(MCP_METHODS.map((m) => [foldMethod(m), m]));

/**
 * The MCP method `method` is spelled like without being it (`TOOLS/CALL`, `tools/call ` …), else undefined. Every
 * stage judges a message by its exact method, so a look-alike would pass policy, pins and approval untouched and
 * reach a server (or a host) that dispatches on a folded name as the real method: it is refused instead.
 */
export function lookAlikeOf(method: string): string | undefined {
  if (EXACT_METHODS.has(method)) return undefined;
  return FOLDED_METHODS.get(foldMethod(method));
}
const RESPONSE_KEYS = new Set(['jsonrpc', 'id', 'result', 'error']);

function refusal(code: number, message: string, id: JsonRpcId | null, request: boolean): Classified {
  return request ? { ok: false, code, message, id, request: true } : { ok: false, code, message, id };
}

/**
 * Checks the JSON-RPC envelope of one parsed message. Requests and notifications with members JSON-RPC does not
 * define are refused (an SDK peer would silently drop them, so forwarding them changes nothing but the attack
 * surface); `params` must be an object, as MCP requires.
 */

export function classify(value: unknown): Classified {
  if (!isObject(value)) return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: a JSON-RPC message must be an object', id: null };
  const rawId = Object.hasOwn(value, 'id') ? value['id'] : undefined;
  const id = isValidId(rawId) ? rawId : null;
  if (value['jsonrpc'] !== '2.0') return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: "jsonrpc" must be "2.0"', id };
  if (Object.hasOwn(value, 'method')) {
    const asked = id !== null;
    if (typeof value['method'] !== 'string' || value['method'].length === 0) {
      return refusal(ErrorCode.InvalidRequest, 'Invalid Request: "method" must be a non-empty string', id, asked);
    }
    const alike = lookAlikeOf(value['method']);
    if (alike !== undefined) {
      return refusal(ErrorCode.MethodNotFound, `Method not found: "${printable(value['method'])}" is not "${alike}"; MCP method names are exact, and mcp-warden does not pass on a look-alike`, id, asked);
    }
    for (const k of Object.keys(value)) {
      if (!REQUEST_KEYS.has(k)) return refusal(ErrorCode.InvalidRequest, `Invalid Request: unexpected member "${printable(k)}"`, id, asked);
    }
    if (Object.hasOwn(value, 'params') && !isObject(value['params'])) {
      return refusal(ErrorCode.InvalidRequest, 'Invalid Request: "params" must be an object', id, asked);
    }
    if (Object.hasOwn(value, 'id')) {
      if (!isValidId(rawId)) return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: "id" must be a string or a number', id: null };
      return { ok: true, kind: 'request', message: value as unknown as JsonRpcRequest };
    }
    return { ok: true, kind: 'notification', message: value as unknown as JsonRpcNotification };
  }
  const hasResult = Object.hasOwn(value, 'result');
  const hasError = Object.hasOwn(value, 'error');
  if (hasResult === hasError) {
    return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: a message needs "method", "result" or "error"', id };
  }
  for (const k of Object.keys(value)) {
    if (!RESPONSE_KEYS.has(k)) return { ok: false, code: ErrorCode.InvalidRequest, message: `Invalid Request: unexpected member "${printable(k)}"`, id };
  }
  if (hasResult && !isObject(value['result'])) return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: "result" must be an object', id };
  if (hasError) {
    const e = value['error'];
    if (!isObject(e) || typeof e['code'] !== 'number' || !Number.isInteger(e['code']) || typeof e['message'] !== 'string') {
      return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: "error" needs an integer "code" and a string "message"', id };
    }
  }
  if (!isValidId(rawId) && !(hasError && rawId === null)) {
    return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: a response needs a string or number "id"', id: null };
  }
  return { ok: true, kind: 'response', message: value as unknown as JsonRpcResponse };
}

/** Makes a string safe to echo in an error message: control, bidi and non-ASCII characters become escapes; long text is cut. */
export function printable(s: string, max = 80): string {
  let out = '';
  for (const ch of s.length > max ? s.slice(0, max) : s) {
    const cp = ch.codePointAt(0)!;
    out += cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp > 0x7e ? `\\u{${cp.toString(16)}}` : ch;
  }
  return s.length > max ? `${out}…` : out;
}
