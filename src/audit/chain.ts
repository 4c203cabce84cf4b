/**
 * The audit chain: what an event is, how it is encoded for hashing, and how its hash and MAC are computed.
 * Pure functions; the store and the verifier share them.
 */
import { hash as oneShotHash } from 'node:crypto';

/** One audit record, as stored (before the chain fields are added). */
export interface AuditEvent {
  id: string;
  ts: string;
  event: string;
  session: string | null;
  principal_sub: string | null;
  client_id: string | null;
  issuer: string | null;
  server: string | null;
  method: string | null;
  target: string | null;
  decision: string | null;
  rule: string | null;
  reason: string | null;
  status: string | null;
  latency_ms: number | null;
  bytes_in: number | null;
  bytes_out: number | null;
  args: string | null;
  args_sha256: string | null;
  result_sha256: string | null;
  redactions: string | null;
  policy_version: string | null;
  extra: string | null;
}

export interface StoredEvent extends AuditEvent {
  seq: number;
  prev_hash: string;
  hash: string;
  mac: string;
}

export const EVENT_FIELDS = [
  'id',
  'ts',
  'event',
  'session',
  'principal_sub',
  'client_id',
  'issuer',
  'server',
  'method',
  'target',
  'decision',
  'rule',
  'reason',
  'status',
  'latency_ms',
  'bytes_in',
  'bytes_out',
  'args',
  'args_sha256',
  'result_sha256',
  'redactions',
  'policy_version',
  'extra',
] as const satisfies readonly (keyof AuditEvent)[];

export const GENESIS = '0'.repeat(64);
const DOMAIN = 'mcp-warden/audit/v1\0';

export { canonicalJson, sha256Hex } from '../protocol/canonical.js';

/** The bytes an event's hash covers: its position and every field, in the schema's order. */
export function canonicalEvent(seq: number, e: AuditEvent): string {
  // Field by field in EVENT_FIELDS order (a unit test holds the two together): a loop over the names made every
  // read a megamorphic keyed load, a quarter of this function's time on the append path.
  return JSON.stringify([
    seq,
    e.id ?? null,
    e.ts ?? null,
    e.event ?? null,
    e.session ?? null,
    e.principal_sub ?? null,
    e.client_id ?? null,
    e.issuer ?? null,
    e.server ?? null,
    e.method ?? null,
    e.target ?? null,
    e.decision ?? null,
    e.rule ?? null,
    e.reason ?? null,
    e.status ?? null,
    e.latency_ms ?? null,
    e.bytes_in ?? null,
    e.bytes_out ?? null,
    e.args ?? null,
    e.args_sha256 ?? null,
    e.result_sha256 ?? null,
    e.redactions ?? null,
    e.policy_version ?? null,
    e.extra ?? null,
  ]);
}

/** SHA-256 over the domain tag, the previous hash (as its 64 hex characters) and the canonical event. */
export function chainHash(prevHash: string, seq: number, e: AuditEvent): string {
  return oneShotHash('sha256', DOMAIN + prevHash + canonicalEvent(seq, e));
}

/**
 * HMAC-SHA-256 of a 32-byte hash (given as hex) under a key of at most 64 bytes: RFC 2104 computed with two
 * one-shot hashes over reused buffers, which costs half of `createHmac` on the append path.
 */
export function macFunction(key: Buffer): (hashHex: string) => string {
  if (key.length > 64) throw new Error('MAC key longer than the SHA-256 block');
  const inner = Buffer.alloc(96, 0x36);
  const outer = Buffer.alloc(96, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i]! ^= key[i]!;
    outer[i]! ^= key[i]!;
  }
  return (hashHex) => {
    inner.write(hashHex, 64, 'hex');
    (oneShotHash('sha256', inner, 'buffer') as unknown as Buffer).copy(outer, 64);
    return oneShotHash('sha256', outer);
  };
}

const macCache = new WeakMap<Buffer, (h: string) => string>();
export function eventMac(macKey: Buffer, hash: string): string {
  let f = macCache.get(macKey);
  if (!f) macCache.set(macKey, (f = macFunction(macKey)));
  return f(hash);
}

/** The text a checkpoint signs (C2SP signed-note style): origin, chain length, base64 head. */
export function checkpointNote(origin: string, seq: number, headHex: string): string {
  return `${origin}\n${seq}\n${Buffer.from(headHex, 'hex').toString('base64')}\n`;
}

/**
 * The text `prune` signs when it makes event #seq the chain's base: that the events up to it were removed by the key
 * holder. A checkpoint's note cannot be read as one (its first line is the origin, `mcp-warden/…`), so the signed
 * checkpoints every log has do not vouch for a base that someone without the key set after deleting events.
 */
export function pruneNote(origin: string, seq: number, headHex: string): string {
  return `mcp-warden prune v1\n${origin}\n${seq}\n${Buffer.from(headHex, 'hex').toString('base64')}\n`;
}
