/**
 * Rate limits: token buckets per (rule, principal | session | everyone). The limiter is an interface so a shared
 * store (Redis, a database) can replace the in-memory one for several gateway replicas.
 */
import type { Rate } from './types.js';

export interface Limiter {
  /** Takes one token from each bucket if all have one; otherwise takes none and says when to retry. */
  take(buckets: { key: string; rate: Rate }[], now?: number): { ok: true } | { ok: false; retryAfterMs: number; key: string };
}

interface Bucket {
  tokens: number;
  at: number;
}

export function capacityAndRefill(rate: Rate): { capacity: number; perMs: number; window: string; count: number } {
  const [count, ms, window] =
    rate.per_second !== undefined ? [rate.per_second, 1000, 'second'] : rate.per_minute !== undefined ? [rate.per_minute, 60_000, 'minute'] : [rate.per_hour ?? 1, 3_600_000, 'hour'];
  return { capacity: rate.burst ?? Math.max(1, count), perMs: count / ms, window: window as string, count };
}

export class MemoryLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly maxKeys = 100_000) {}

  private level(key: string, rate: Rate, now: number): { b: Bucket; capacity: number; perMs: number } {
    const { capacity, perMs } = capacityAndRefill(rate);
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        // Drop the bucket used least recently (the Map's first: each use moves its bucket to the end). It has been
        // idle longest, so it has refilled the most. Dropping the first inserted instead let a caller whose own bucket
        // was empty get a full one by bringing maxKeys new keys (sessions, tokens) while still calling.
        const first = this.buckets.keys().next().value;
        if (first !== undefined) this.buckets.delete(first);
      }
      b = { tokens: capacity, at: now };
      this.buckets.set(key, b);
    } else {
      // A clock set back (by hand, or a virtual machine resumed) must not empty the bucket for as long as it moved.
      b.tokens = Math.min(capacity, b.tokens + Math.max(0, now - b.at) * perMs);
      b.at = now;
      this.buckets.delete(key);
      this.buckets.set(key, b);
    }
    return { b, capacity, perMs };
  }

  /** `now`: ms on a clock that only moves forward (performance.now() by default; the wall clock can be set back). */
  take(buckets: { key: string; rate: Rate }[], now = performance.now()): { ok: true } | { ok: false; retryAfterMs: number; key: string } {
    const levels = buckets.map((x) => ({ ...x, ...this.level(x.key, x.rate, now) }));
    for (const l of levels) {
      if (l.b.tokens < 1) return { ok: false, retryAfterMs: Math.ceil((1 - l.b.tokens) / l.perMs), key: l.key };
    }
    for (const l of levels) l.b.tokens -= 1;
    return { ok: true };
  }
}
