/**
 * Deterministic JSON and hashing shared by audit, policy and pinning.
 */
import { createHash, randomBytes, hash as oneShotHash } from 'node:crypto';

/**
 * A number JSON.parse read as ±Infinity (its text, 1e400, is beyond a double's range) written as a number a parser
 * reads back the same, instead of JSON.stringify's null: the text that stood for it (exactNumbers) can then be put
 * back in its place, and a hash or an approval question never shows null where the peer gets a number.
 */
function infinite(v: number): string {
  return v > 0 ? '1e999' : '-1e999';
}

function isInfinite(v: unknown): v is number {
  return v === Infinity || v === -Infinity;
}

/** Deterministic JSON: object keys sorted at every level, undefined members dropped; ±Infinity as ±1e999. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return isInfinite(v) ? infinite(v) : (JSON.stringify(v) ?? 'null');
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function sha256Hex(data: string | Buffer): string {
  return typeof data === 'string' || data.length < 1 << 20 ? oneShotHash('sha256', data) : createHash('sha256').update(data).digest('hex');
}

/** Stands for an infinite number while JSON.stringify runs: a string no peer can write (it holds a random part). */
const INFINITE_MARK = `\u0000mcp-warden:${randomBytes(12).toString('hex')}:`;
const INFINITE_TEXT = new RegExp(`"${JSON.stringify(INFINITE_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(-?1e999)"`, 'g');

function markInfinite(_key: string, v: unknown): unknown {
  return isInfinite(v) ? `${INFINITE_MARK}${infinite(v)}` : v;
}

/** JSON.stringify (same key order and layout), with ±Infinity written as ±1e999 instead of null. */
export function jsonText(v: unknown, indent?: number): string {
  const text = JSON.stringify(v, markInfinite, indent) ?? 'null';
  return text.includes(INFINITE_MARK.slice(1)) ? text.replace(INFINITE_TEXT, '$1') : text;
}
