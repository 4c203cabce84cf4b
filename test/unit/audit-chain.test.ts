import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blankEvent } from '../../src/audit/writer.js';
import { canonicalJson, chainHash, GENESIS, macFunction } from '../../src/audit/chain.js';

describe('the audit MAC', () => {
  it('is exactly HMAC-SHA-256', () => {
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(32);
      const h = randomBytes(32).toString('hex');
      expect(macFunction(key)(h)).toBe(createHmac('sha256', key).update(h, 'hex').digest('hex'));
    }
  });
});

describe('the chain hash', () => {
  it('covers the position and every field', () => {
    const e = blankEvent('exchange');
    const base = chainHash(GENESIS, 1, e);
    expect(chainHash(GENESIS, 2, e)).not.toBe(base);
    expect(chainHash('1'.repeat(64), 1, e)).not.toBe(base);
    for (const k of ['server', 'target', 'status', 'reason', 'extra'] as const) expect(chainHash(GENESIS, 1, { ...e, [k]: 'x' })).not.toBe(base);
    expect(chainHash(GENESIS, 1, { ...e, latency_ms: 1.5 })).not.toBe(chainHash(GENESIS, 1, { ...e, latency_ms: 1.50001 }));
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":2,"y":1}]},"b":1}');
  });
});
