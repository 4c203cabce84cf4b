/**
 * Deterministic JSON and hashing shared by audit, policy and pinning.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';

/** Deterministic JSON: object keys sorted at every level, undefined members dropped. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

export function sha256Hex(data: string | Buffer): string {
  return typeof data === 'string' || data.length < 1 << 20 ? oneShotHash('sha256', data) : createHash('sha256').update(data).digest('hex');
}
