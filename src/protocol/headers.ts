/**
 * The 2026-07-28 mirrored headers (SEP-2243): `Mcp-Method`, `Mcp-Name` and `Mcp-Param-{Name}` carry values from
 * the body so intermediaries can route without parsing it. A proxy that reads the body must check that they agree
 * with it (400, -32020); a value that is not plain visible ASCII travels as `=?base64?<utf-8 base64>?=`.
 */
import { ErrorCode, isObject } from './jsonrpc.js';
import { targetOf } from './mcp.js';

const SENTINEL_OPEN = '=?base64?';
const SENTINEL_CLOSE = '?=';
const CANONICAL_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NUMERIC = /^-?\d+(\.\d+)?$/;

/** Can `value` go out as an HTTP header value as it is? (Node refuses line breaks, other control characters and anything past U+00FF.) */
export function sendableHeaderValue(value: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
}

/** Is `name` an HTTP header name (an RFC 9110 token)? */
export function sendableHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/**
 * A quoted-string for a header parameter (WWW-Authenticate): quotes and backslashes escaped, line breaks made spaces,
 * and anything else a header cannot hold made `?` (writeHead throws for it, and a scope or message may hold it).
 */
export function quotedString(v: string): string {
  return `"${v.replace(/[\\"]/g, '\\$&').replace(/[\r\n]/g, ' ').replace(/[^\t\x20-\x7e]/g, '?')}"`;
}

function plainSafe(s: string): boolean {
  if (s.length === 0 || s !== s.trim()) return false;
  if (s.startsWith(SENTINEL_OPEN) && s.endsWith(SENTINEL_CLOSE)) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 9 && (c < 0x20 || c > 0x7e)) return false;
  }
  return true;
}

export function encodeHeaderValue(value: string): string {
  return plainSafe(value) ? value : `${SENTINEL_OPEN}${Buffer.from(value, 'utf8').toString('base64')}${SENTINEL_CLOSE}`;
}

/** The value a header carries, or undefined when its base64 form is malformed or not UTF-8. */
export function decodeHeaderValue(raw: string): string | undefined {
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  if (!(value.startsWith(SENTINEL_OPEN) && value.endsWith(SENTINEL_CLOSE))) return value;
  const b64 = value.slice(SENTINEL_OPEN.length, value.length - SENTINEL_CLOSE.length);
  if (!CANONICAL_B64.test(b64)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}

export interface HeaderDeclaration {
  /** Property path from the root of `arguments`. */
  path: string[];
  header: string;
  type: string;
}

/**
 * The `x-mcp-header` declarations of a tool's inputSchema. Only properties reached through plain `properties`
 * chains may declare one, with a primitive type and a case-insensitively unique RFC 9110 token; a tool that breaks
 * these rules is reported (clients must drop it), with whatever valid declarations were found.
 */
export function headerDeclarations(inputSchema: unknown): { declarations: HeaderDeclaration[]; fault: string | undefined } {
  const declarations: HeaderDeclaration[] = [];
  const seen = new Set<string>();
  let fault: string | undefined;
  const walk = (node: unknown, path: string[], reachable: boolean, depth: number) => {
    if (!isObject(node) || depth > 32) return;
    if (Object.hasOwn(node, 'x-mcp-header')) {
      const name = node['x-mcp-header'];
      const type = node['type'];
      const where = path.join('.') || '(root)';
      if (!reachable || path.length === 0) fault ??= `${where}: x-mcp-header is only allowed on properties reached through "properties"`;
      else if (typeof name !== 'string' || !TOKEN.test(name)) fault ??= `${where}: x-mcp-header must be an RFC 9110 token`;
      else if (type !== 'string' && type !== 'integer' && type !== 'boolean') fault ??= `${where}: x-mcp-header needs type string, integer or boolean`;
      else if (seen.has(name.toLowerCase())) fault ??= `${where}: x-mcp-header "${name}" is declared twice`;
      else {
        seen.add(name.toLowerCase());
        declarations.push({ path, header: name, type });
      }
    }
    const props = node['properties'];
    if (isObject(props)) for (const [k, v] of Object.entries(props)) walk(v, [...path, k], reachable, depth + 1);
    for (const k of ['items', 'additionalProperties', 'oneOf', 'anyOf', 'allOf', 'not', 'if', 'then', 'else', 'prefixItems', 'contains']) {
      const sub = node[k];
      if (Array.isArray(sub)) for (const s of sub) walk(s, [...path, `<${k}>`], false, depth + 1);
      else if (isObject(sub)) walk(sub, [...path, `<${k}>`], false, depth + 1);
    }
    for (const k of ['$defs', 'definitions', 'patternProperties', 'dependentSchemas']) {
      const sub = node[k];
      if (isObject(sub)) for (const s of Object.values(sub)) walk(s, [...path, `<${k}>`], false, depth + 1);
    }
  };
  walk(inputSchema, [], true, 0);
  return { declarations, fault };
}

function primitiveText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isFinite(v) && (!Number.isInteger(v) || Number.isSafeInteger(v))) return String(v);
  return undefined;
}

function valueAt(root: unknown, path: string[]): unknown {
  let n = root;
  for (const k of path) {
    if (!isObject(n) || !Object.hasOwn(n, k)) return undefined;
    n = n[k];
  }
  return n;
}

export interface HeaderRejection {
  status: 400;
  code: number;
  message: string;
}

function mismatch(message: string): HeaderRejection {
  return { status: 400, code: ErrorCode.HeaderMismatch, message: `Bad Request: the request headers and body disagree: ${message}` };
}

/**
 * The standard headers of one modern request against its body: `MCP-Protocol-Version` and `Mcp-Method` present
 * and equal, `Mcp-Name` present and equal for the methods that mirror a name.
 */
export function checkStandardHeaders(headers: Record<string, string>, method: string, params: unknown, version: string, isRequest: boolean): HeaderRejection | undefined {
  const hv = headers['mcp-protocol-version'];
  const hm = headers['mcp-method'];
  if (hv !== undefined && hv !== version) return mismatch(`MCP-Protocol-Version is ${hv} but the body names ${version}`);
  if (hm !== undefined && hm !== method) return mismatch(`Mcp-Method is ${hm} but the body names ${method}`);
  if (!isRequest) return undefined;
  if (hv === undefined) return mismatch('the MCP-Protocol-Version header is missing');
  if (hm === undefined) return mismatch('the Mcp-Method header is missing');
  const name = targetOf(method, params);
  if (!MIRRORS_NAME.has(method)) return undefined;
  const hn = headers['mcp-name'];
  if (hn === undefined) return name === undefined ? undefined : mismatch('the Mcp-Name header is missing');
  const decoded = decodeHeaderValue(hn);
  if (decoded === undefined) return mismatch('the Mcp-Name header has an invalid base64 value');
  if (name !== undefined && decoded !== name) return mismatch(`Mcp-Name names "${decoded}" but the body names "${name}"`);
  return undefined;
}

const MIRRORS_NAME = new Set(['tools/call', 'prompts/get', 'resources/read', 'tasks/get', 'tasks/update', 'tasks/cancel']);

/** `Mcp-Param-*` headers of a tools/call against the tool's declarations and the body's arguments. */
export function checkParamHeaders(headers: Record<string, string>, declarations: HeaderDeclaration[], args: unknown): HeaderRejection | undefined {
  for (const d of declarations) {
    const key = `mcp-param-${d.header.toLowerCase()}`;
    const body = valueAt(args, d.path);
    if (body === undefined || body === null) continue;
    const text = primitiveText(body);
    if (text === undefined) continue;
    const raw = headers[key];
    if (raw === undefined) return mismatch(`the Mcp-Param-${d.header} header is missing`);
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) return mismatch(`the Mcp-Param-${d.header} header has an invalid base64 value`);
    const same = typeof body === 'number' ? NUMERIC.test(decoded) && Number(decoded) === body : decoded === text;
    if (!same) return mismatch(`Mcp-Param-${d.header} does not match the body`);
  }
  return undefined;
}

/** The `Mcp-Param-*` headers for arguments (after the proxy changed them, headers must follow). */
export function paramHeadersFor(declarations: HeaderDeclaration[], args: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of declarations) {
    const text = primitiveText(valueAt(args, d.path));
    if (text !== undefined) out[`mcp-param-${d.header.toLowerCase()}`] = encodeHeaderValue(text);
  }
  return out;
}
