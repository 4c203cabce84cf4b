/**
 * One JSON-RPC message as it crossed a transport: its original text, the parsed value, and where its top-level
 * `id` sits in that text. Frames are forwarded as their original bytes (with the id spliced) unless a stage
 * changed them, so an untouched message costs no re-serialisation and keeps every byte the peer sent.
 *
 * `parseFrame` refuses what `JSON.parse` would silently accept: duplicate keys anywhere (the last one would win,
 * so two readers could see two messages) and nesting deeper than the configured limit.
 */
import { createHash } from 'node:crypto';
import { jsonText, sha256Hex } from './canonical.js';
import { classify, ErrorCode, isValidId, printable, type JsonRpcId, type JsonRpcMessage, type MessageKind } from './jsonrpc.js';

export interface Frame {
  /** The text as received (one message; a batch is split into frames without `raw`). */
  raw: string | undefined;
  message: JsonRpcMessage;
  kind: MessageKind;
  /** Offsets of the top-level id value in `raw`. */
  idStart: number;
  idEnd: number;
  /** Set by whoever changes `message`; a dirty frame is re-serialised. */
  dirty: boolean;
  /** Size in bytes on the wire, for limits and audit. */
  bytes: number;
  /**
   * The received bytes of `raw`, when the transport had them as valid UTF-8 and the message is at least
   * KEEP_UTF8_BYTES long: the redaction prefilter scans these instead of encoding `raw` again.
   */
  utf8: Buffer | undefined;
  /**
   * `raw` writes a number with 16 digits or more, or an exponent of three digits (one a double may not reach:
   * 1e400, 1e-400): re-serialised, its numbers are written as `raw` wrote them.
   */
  longNumber?: boolean;
}

/** From this size on, a message's received bytes are kept with its frame (below it, encoding again is cheap). */
export const KEEP_UTF8_BYTES = 16 * 1024;

export interface ParseLimits {
  maxDepth: number;
}

export type ParseResult =
  | { ok: true; frames: Frame[]; batch: boolean }
  | { ok: false; code: number; message: string; id: JsonRpcId | null; request?: true };

interface ScanResult {
  keys: number;
  idStart: number;
  idEnd: number;
  tooDeep: boolean;
  /**
   * A number outside strings has 16 digits or more, or an exponent of three digits: a double may not hold it
   * exactly, or at all (see withExactNumbers).
   */
  longNumber: boolean;
}

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** Index of the quote that closes the string opened at `open`, or -1. */
function stringEnd(text: string, open: number): number {
  let j = open + 1;
  for (;;) {
    const k = text.indexOf('"', j);
    if (k < 0) return -1;
    let b = 0;
    while (text.charCodeAt(k - 1 - b) === BACKSLASH) b++;
    if ((b & 1) === 0) return k;
    j = k + 1;
  }
}

/**
 * One pass over the text outside strings: counts object keys, finds the deepest nesting, and records the span of
 * the top-level `id` value. It does not validate JSON (JSON.parse does); on malformed text its answer is ignored.
 */
function scan(text: string, maxDepth: number): ScanResult {
  let depth = 0;
  let keys = 0;
  let idStart = -1;
  let idEnd = -1;
  let digits = 0;
  // Whether the digits counted are an exponent's (after the e or E of a number, and its sign).
  let exponent = false;
  let longNumber = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits >= (exponent ? 3 : 16)) longNumber = true;
      i++;
      continue;
    }
    // An e or E after digits starts an exponent (outside strings, true and false have theirs after letters).
    if ((c === 101 || c === 69) && digits > 0 && !exponent) {
      exponent = true;
      digits = 0;
      i++;
      continue;
    }
    if ((c === 43 || c === 45) && exponent && digits === 0) {
      i++;
      continue;
    }
    // A decimal point continues a number's digits; anything else ends them.
    if (c !== 46 || exponent) {
      digits = 0;
      exponent = false;
    }
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) break;
      let p = end + 1;
      while (p < n && isWs(text.charCodeAt(p))) p++;
      if (text.charCodeAt(p) === COLON) {
        keys++;
        if (depth === 1 && end - i === 3 && text.charCodeAt(i + 1) === 105 && text.charCodeAt(i + 2) === 100) {
          let v = p + 1;
          while (v < n && isWs(text.charCodeAt(v))) v++;
          const vc = text.charCodeAt(v);
          if (vc === QUOTE) {
            const ve = stringEnd(text, v);
            if (ve > 0) {
              idStart = v;
              idEnd = ve + 1;
            }
          } else if (vc === 45 || (vc >= 48 && vc <= 57)) {
            idStart = v;
            idEnd = numberEnd(text, v);
          }
        }
        i = p + 1;
      } else {
        i = end + 1;
      }
      continue;
    }
    if (c === LBRACE || c === LBRACKET) {
      depth++;
      if (depth > maxDepth) return { keys, idStart, idEnd, tooDeep: true, longNumber };
    } else if (c === RBRACE || c === RBRACKET) {
      depth--;
    }
    i++;
  }
  return { keys, idStart, idEnd, tooDeep: false, longNumber };
}

/** Keys as a case-insensitive reader takes them: Go's encoding/json also folds ſ to s and the Kelvin sign to k. */
function foldKey(k: string): string {
  const l = k.toLowerCase();
  return l.indexOf('\u017f') >= 0 ? l.replace(/\u017f/g, 's') : l;
}

/** False when two keys cannot fold alike: their first characters are ASCII and differ other than in case. */
function mayFoldAlike(a: string, b: string): boolean {
  const x = a.charCodeAt(0);
  const y = b.charCodeAt(0);
  return x >= 128 || y >= 128 || (x | 32) === (y | 32);
}

/** Two keys of one object that fold alike (the first such pair), else undefined. Only keys of equal length can. */
function findCaseTwins(keys: string[]): [string, string] | undefined {
  if (keys.length <= 8) {
    for (let i = 0; i < keys.length; i++) {
      for (let j = i + 1; j < keys.length; j++) {
        if (keys[i]!.length === keys[j]!.length && mayFoldAlike(keys[i]!, keys[j]!) && foldKey(keys[i]!) === foldKey(keys[j]!)) return [keys[i]!, keys[j]!];
      }
    }
    return undefined;
  }
  const seen = new Map<string, string>();
  for (const k of keys) {
    const f = foldKey(k);
    const other = seen.get(f);
    if (other !== undefined) return [other, k];
    seen.set(f, k);
  }
  return undefined;
}

/** The keys of every object in `v`, counted; `found.twins` gets the first pair of keys of one object that fold alike. */
function countKeys(v: unknown, found: { twins?: [string, string] }): number {
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) if (typeof x === 'object' && x !== null) n += countKeys(x, found);
    return n;
  }
  let first: string | undefined;
  let keys: string[] | undefined;
  for (const k in v) {
    n++;
    // Keys are gathered only from the second one on: most objects of a message have one or two.
    if (first === undefined) first = k;
    else (keys ??= [first]).push(k);
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' && x !== null) n += countKeys(x, found);
  }
  if (keys !== undefined && found.twins === undefined) found.twins = findCaseTwins(keys);
  return n;
}

/** Deeper than any file a person gives the CLI (a manifest, a host config): such a file is refused, not parsed. */
export const MAX_FILE_DEPTH = 256;

/** Whether the text nests arrays and objects deeper than `maxDepth` (strings skipped; the text need not be valid). */
export function nestedDeeper(text: string, maxDepth: number): boolean {
  return scan(text, maxDepth).tooDeep;
}

/**
 * Best-effort id of a message that will be refused (too large, malformed), so the refusal can name the request
 * the peer is waiting on. Reads only a prefix; never trusted for anything but addressing an error.
 */
export function peekId(prefix: string): JsonRpcId | null {
  const s = scan(prefix, 1_000_000);
  if (s.idStart < 0) return null;
  try {
    const v: unknown = JSON.parse(prefix.slice(s.idStart, s.idEnd));
    return isValidId(v) ? v : null;
  } catch {
    return null;
  }
}

/** `utf8`: the bytes `text` was decoded from, if the caller has them and they were valid UTF-8. */
export function parseFrame(text: string, limits: ParseLimits, bytes = text.length, utf8?: Buffer): ParseResult {
  const s = scan(text, limits.maxDepth);
  if (s.tooDeep) {
    return { ok: false, code: ErrorCode.InvalidRequest, message: `Invalid Request: JSON nested deeper than ${limits.maxDepth} levels`, id: peekId(text.slice(0, 4096)) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: ErrorCode.ParseError, message: 'Parse error: invalid JSON', id: null };
  }
  const found: { twins?: [string, string] } = {};
  const counted = countKeys(value, found);
  if (counted !== s.keys || found.twins !== undefined) {
    const id = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)['id'] : null;
    // Keys that differ only in case: a reader that matches keys case-insensitively (Go's encoding/json, which
    // MCP servers and clients in Go have used) takes the last of them, while every stage here judged the exact one
    // (`name` beside `Name`, `path` beside `PATH`): a message that means one thing here and another there.
    const twins = found.twins;
    const message = counted !== s.keys || !twins ? 'Invalid Request: duplicate keys in a JSON object' : `Invalid Request: keys that differ only in case in one JSON object ("${printable(twins[0], 40)}" and "${printable(twins[1], 40)}")`;
    return { ok: false, code: ErrorCode.InvalidRequest, message, id: isValidId(id) ? id : null };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { ok: false, code: ErrorCode.InvalidRequest, message: 'Invalid Request: empty batch', id: null };
    const frames: Frame[] = [];
    for (const el of value) {
      const c = classify(el);
      if (!c.ok) return c;
      frames.push({ raw: undefined, message: c.message, kind: c.kind, idStart: -1, idEnd: -1, dirty: true, bytes: Math.ceil(bytes / value.length), utf8: undefined });
    }
    return { ok: true, frames, batch: true };
  }
  const c = classify(value);
  if (!c.ok) return c;
  return { ok: true, batch: false, frames: [{ raw: text, message: c.message, kind: c.kind, idStart: s.idStart, idEnd: s.idEnd, dirty: false, bytes, utf8: utf8 && utf8.length >= KEEP_UTF8_BYTES ? utf8 : undefined, ...(s.longNumber ? { longNumber: true } : {}) }] };
}

/** Builds a frame for a message the proxy itself creates. */
export function newFrame(message: JsonRpcMessage, kind: MessageKind): Frame {
  return { raw: undefined, message, kind, idStart: -1, idEnd: -1, dirty: true, bytes: 0, utf8: undefined };
}

/** The JSON text of an id, as it must be written back to the peer that chose it. */
export function idText(frame: Frame): string {
  if (frame.raw !== undefined && frame.idStart >= 0) return frame.raw.slice(frame.idStart, frame.idEnd);
  return JSON.stringify((frame.message as { id: JsonRpcId }).id);
}

/**
 * Serialises a frame with its id replaced by `id` (JSON text). An untouched frame keeps its original bytes around
 * the id; a changed one is re-serialised with the id first, as peers expect.
 */
export function serializeWithId(frame: Frame, id: string | undefined): string {
  if (!frame.dirty && frame.raw !== undefined) {
    if (id === undefined || frame.idStart < 0) return frame.raw;
    return frame.raw.slice(0, frame.idStart) + id + frame.raw.slice(frame.idEnd);
  }
  const m = frame.message as unknown as Record<string, unknown>;
  // Only a text with a long number or a long exponent can hold one JSON.parse made infinite (jsonText).
  const text = frame.longNumber ? jsonText : JSON.stringify;
  let out: string;
  if (id === undefined || !Object.hasOwn(m, 'id')) out = text(m);
  else {
    out = `{"jsonrpc":"2.0","id":${id}`;
    for (const k of Object.keys(m)) {
      if (k === 'jsonrpc' || k === 'id') continue;
      const v = m[k];
      if (v === undefined) continue;
      out += `,${JSON.stringify(k)}:${text(v)}`;
    }
    out += '}';
  }
  return exactNumbers(frame, out);
}

/** JSON text made from a frame's message (or a part of it) with its numbers as the frame's own text wrote them. */
export function exactNumbers(frame: Frame, json: string): string {
  return frame.longNumber && frame.raw !== undefined ? withExactNumbers(json, frame.raw) : json;
}

/**
 * The numbers of a frame's text that a double may not hold, as written and in order ('' when there are none): what
 * tells apart two messages JSON.parse reads alike (12345678901234567891 and …892).
 */
export function inexactLiterals(frame: Frame): string {
  if (!frame.longNumber || frame.raw === undefined) return '';
  const raw = frame.raw;
  return numberLiterals(raw)
    .map(([a, b]) => raw.slice(a, b))
    .filter((lit) => inexact(lit))
    .join(' ');
}

/** End of the number literal that starts at `start` (digits, '.', 'e', 'E', '+', '-'). */
function numberEnd(text: string, start: number): number {
  let i = start + 1;
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (!((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45)) break;
  }
  return i;
}

/** The number literals of JSON text, outside strings, in order ([start, end) pairs). */
function numberLiterals(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) break;
      i = end + 1;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      const end = numberEnd(text, i);
      out.push([i, end]);
      i = end;
    } else i++;
  }
  return out;
}

/**
 * Whether a number literal may not survive a parse: more significant digits than a double keeps, or a magnitude a
 * double cannot hold (1e400 reads as Infinity, 1e-400 as 0).
 */
function inexact(literal: string, v = Number(literal)): boolean {
  const mantissa = literal.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  if (mantissa.length > 15) return true;
  return !Number.isFinite(v) || (v === 0 && mantissa.length > 0);
}

/**
 * A message the proxy changed is written anew from what JSON.parse made of it, and JavaScript holds every number as
 * a double: 12345678901234567891 would reach the peer as 12345678901234567000, an id or an amount silently changed
 * because a stage masked an e-mail address beside it; 1e400 would reach it as null (what JSON.stringify makes of
 * Infinity). Each number of the new text that the original text wrote with more digits than a double keeps, or
 * beyond a double's range, is written as the original wrote it — when the original wrote that value one way only
 * (two literals that read as the same double leave it as JavaScript prints it, also when one of them is written as
 * JavaScript prints it: 12345678901234567891 beside 12345678901234567000). The new text must write an infinite
 * number as a number (jsonText), not as null.
 */
function withExactNumbers(out: string, raw: string): string {
  // Per value: the one literal that wrote it inexactly, or null when it was written more than one way.
  const written = new Map<number, string | null>();
  // Values some literal writes exactly as JavaScript prints them.
  const plain = new Set<number>();
  for (const [a, b] of numberLiterals(raw)) {
    const lit = raw.slice(a, b);
    const v = Number(lit);
    if (!inexact(lit, v) || JSON.stringify(v) === lit) {
      plain.add(v);
      continue;
    }
    const have = written.get(v);
    written.set(v, have === undefined || have === lit ? lit : null);
  }
  for (const v of plain) if (written.has(v)) written.set(v, null);
  if (written.size === 0) return out;
  let result = '';
  let at = 0;
  for (const [a, b] of numberLiterals(out)) {
    const lit = written.get(Number(out.slice(a, b)));
    if (!lit) continue;
    result += out.slice(at, a) + lit;
    at = b;
  }
  return at === 0 ? out : result + out.slice(at);
}

export function serialize(frame: Frame): string {
  return serializeWithId(frame, undefined);
}

/** The received bytes of a frame nobody changed: exactly what `serialize(frame)` encodes to. */
function keptBytes(frame: Frame): Buffer | undefined {
  return !frame.dirty && frame.raw !== undefined ? frame.utf8 : undefined;
}

/**
 * A large message on its way out as bytes: an untouched one as the bytes it arrived in with its id replaced (no
 * UTF-8 encoding of a long string, no flattening of the spliced one), a rewritten one encoded once (the audit trail
 * hashes the same bytes the transport writes). A transport that writes bytes sends `parts`; any other reads it as
 * text, exactly `serializeWithId` of the same frame and id.
 */
export class WireBytes {
  readonly parts: readonly Buffer[];
  readonly byteLength: number;
  private constructor(parts: Buffer[], private readonly frame: Frame, private readonly id: string | undefined, private readonly text: string | undefined) {
    this.parts = parts;
    let n = 0;
    for (const p of parts) n += p.length;
    this.byteLength = n;
  }

  /** The received bytes of an untouched frame, with its id replaced by `id`. */
  static kept(frame: Frame, id: string | undefined, bytes: Buffer): WireBytes {
    if (id === undefined || frame.idStart < 0) return new WireBytes([bytes], frame, id, undefined);
    const raw = frame.raw!;
    // Where the id's text lies in the bytes: its character offsets, unless something before it or in it is not ASCII
    // (UTF-8 is as long as the text only when every character is ASCII).
    const ascii = bytes.length === raw.length;
    const start = ascii ? frame.idStart : Buffer.byteLength(raw.slice(0, frame.idStart));
    const end = ascii ? frame.idEnd : start + Buffer.byteLength(raw.slice(frame.idStart, frame.idEnd));
    return new WireBytes([bytes.subarray(0, start), Buffer.from(id), bytes.subarray(end)], frame, id, undefined);
  }

  /** The text a rewritten frame serialised to, encoded once. */
  static encoded(frame: Frame, text: string): WireBytes {
    return new WireBytes([Buffer.from(text, 'utf8')], frame, undefined, text);
  }

  /** A JSON-RPC error answer (the only kind whose HTTP status can differ from 200). */
  get isError(): boolean {
    return Object.hasOwn(this.frame.message, 'error');
  }

  toString(): string {
    return this.text ?? serializeWithId(this.frame, this.id);
  }
}

/** What a session hands a transport: text, or the bytes of a large message. */
export type Wire = string | WireBytes;

/** `serializeWithId`, as bytes when the frame kept the bytes it arrived in (a large untouched frame) or the text is large. */
export function wireWithId(frame: Frame, id: string | undefined): Wire {
  const bytes = keptBytes(frame);
  if (bytes) return WireBytes.kept(frame, id, bytes);
  const text = serializeWithId(frame, id);
  return text.length >= KEEP_UTF8_BYTES ? WireBytes.encoded(frame, text) : text;
}

/** SHA-256 (hex) of what a wire sends, without joining or encoding it again. */
export function wireSha256(w: Wire): string {
  if (typeof w === 'string') return sha256Hex(w);
  if (w.parts.length === 1) return sha256Hex(w.parts[0]!);
  const h = createHash('sha256');
  for (const p of w.parts) h.update(p);
  return h.digest('hex');
}

export function wireLength(w: Wire): number {
  return typeof w === 'string' ? Buffer.byteLength(w) : w.byteLength;
}
