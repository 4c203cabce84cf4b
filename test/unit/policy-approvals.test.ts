import { describe, expect, it } from 'vitest';
import { Approvals, argsHash } from '../../src/policy/approvals.js';
import { MemoryLimiter } from '../../src/policy/rate.js';

describe('approval tokens', () => {
  const a = new Approvals();
  const base = { p: 'https://idp|alice', s: 'files', t: 'delete', h: argsHash({ path: '/x' }), a: false };
  const expect_ = { p: base.p, s: base.s, t: base.t, h: base.h };

  it('redeem once, for exactly what was approved', () => {
    const t = a.issue({ ...base, e: Date.now() + 10_000 });
    expect(a.redeem(t, expect_)).toMatchObject({ ok: true });
    expect(a.redeem(t, expect_)).toEqual({ ok: false, why: 'the approval was already used' });
  });
  it('refuses another principal, server, tool or arguments', () => {
    const mk = () => a.issue({ ...base, e: Date.now() + 10_000 });
    expect(a.redeem(mk(), { ...expect_, p: 'https://idp|mallory' })).toEqual({ ok: false, why: 'the approval belongs to another principal' });
    expect(a.redeem(mk(), { ...expect_, s: 'other' })).toEqual({ ok: false, why: 'the approval is for another tool' });
    expect(a.redeem(mk(), { ...expect_, t: 'other' })).toEqual({ ok: false, why: 'the approval is for another tool' });
    expect(a.redeem(mk(), { ...expect_, h: argsHash({ path: '/y' }) })).toEqual({ ok: false, why: 'the arguments changed since they were approved' });
  });
  it('refuses an expired, forged or foreign token', () => {
    expect(a.redeem(a.issue({ ...base, e: Date.now() - 1 }), expect_)).toEqual({ ok: false, why: 'the approval expired' });
    const t = a.issue({ ...base, e: Date.now() + 10_000 });
    const body = t.slice(6, t.lastIndexOf('.'));
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forgedBody = Buffer.from(JSON.stringify({ ...claims, p: 'https://idp|mallory' })).toString('base64url');
    expect(a.redeem(`mcpw1.${forgedBody}${t.slice(t.lastIndexOf('.'))}`, { ...expect_, p: 'https://idp|mallory' })).toEqual({ ok: false, why: 'the approval state was not issued by this proxy' });
    expect(new Approvals().redeem(a.issue({ ...base, e: Date.now() + 10_000 }), expect_)).toEqual({ ok: false, why: 'the approval state was not issued by this proxy' });
  });
  it('argument hashes ignore key order, not values', () => {
    expect(argsHash({ a: 1, b: [1, 2] })).toBe(argsHash({ b: [1, 2], a: 1 }));
    expect(argsHash({ a: 1 })).not.toBe(argsHash({ a: '1' }));
  });
});

describe('token buckets', () => {
  it('N per window, then a retry hint, then refills', () => {
    const l = new MemoryLimiter();
    const b = [{ key: 'r\nalice', rate: { per_minute: 3 } }];
    const t0 = 1_000_000;
    expect([l.take(b, t0), l.take(b, t0), l.take(b, t0)].every((r) => r.ok)).toBe(true);
    const no = l.take(b, t0);
    expect(no).toMatchObject({ ok: false });
    expect((no as { retryAfterMs: number }).retryAfterMs).toBe(20_000);
    expect(l.take(b, t0 + 20_000).ok).toBe(true);
    expect(l.take([{ key: 'r\nbob', rate: { per_minute: 3 } }], t0).ok).toBe(true);
  });
  it('takes from every bucket or none', () => {
    const l = new MemoryLimiter();
    const one = { key: 'a', rate: { per_second: 1 } };
    const two = { key: 'b', rate: { per_second: 5 } };
    expect(l.take([one, two], 0).ok).toBe(true);
    expect(l.take([one, two], 0).ok).toBe(false);
    // b was not charged for the refused call: it still has 4.
    for (let i = 0; i < 4; i++) expect(l.take([two], 0).ok).toBe(true);
    expect(l.take([two], 0).ok).toBe(false);
  });
});
