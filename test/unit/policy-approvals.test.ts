import { describe, expect, it, vi } from 'vitest';
import { isHidden } from '../../src/lint/text.js';
import { Approvals, argsHash } from '../../src/policy/approvals.js';
import { approvalArguments, visibleText } from '../../src/protocol/escape.js';
import { MemoryLimiter } from '../../src/policy/rate.js';
import { principalKey } from '../../src/pipeline/types.js';

describe('approval tokens', () => {
  const a = new Approvals();
  const base = { p: 'https://idp|alice', s: 'files', t: 'delete', h: argsHash({ path: '/x' }), a: false };
  const expect_ = { p: base.p, s: base.s, t: base.t, h: base.h };

  it('redeem once, for exactly what was approved', () => {
    const t = a.issue({ ...base, e: Date.now() + 10_000 });
    expect(a.redeem(t, expect_)).toMatchObject({ ok: true });
    expect(a.redeem(t, expect_)).toEqual({ ok: false, why: 'the approval was already used' });
  });
  it('names a person unambiguously (a sub may hold any separator: auth0|123)', () => {
    const key = (issuer: string, sub: string) => principalKey({ issuer, sub, kind: 'oauth', scopes: [], claims: {} });
    expect(key('https://idp/', 'auth0|123')).not.toBe(key('https://idp/|auth0', '123'));
    expect(key('https://idp/', 'alice')).toBe(key('https://idp/', 'alice'));
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
  it('a wall clock set back cannot spend an approval twice, nor bring an expired one back', () => {
    let mono = 1_000;
    const b = new Approvals(undefined, () => mono);
    const wall = vi.spyOn(Date, 'now');
    try {
      wall.mockReturnValue(1_700_000_000_000);
      const t = b.issue({ ...base, e: Date.now() + 10_000 });
      expect(b.redeem(t, expect_)).toMatchObject({ ok: true });
      // The clock jumps an hour ahead; a thousand more approvals are spent (spent nonces are swept past 1,000).
      wall.mockReturnValue(1_700_000_000_000 + 3_600_000);
      for (let i = 0; i < 1001; i++) expect(b.redeem(b.issue({ ...base, e: Date.now() + 10_000 }), expect_)).toMatchObject({ ok: true });
      // Set back again: the first approval is still spent (it ran the call again when expiry and sweep used the wall clock).
      wall.mockReturnValue(1_700_000_000_000);
      expect(b.redeem(t, expect_)).toEqual({ ok: false, why: 'the approval was already used' });
      // Time really passes: an unspent approval expires whatever the wall clock says.
      const late = b.issue({ ...base, e: Date.now() + 10_000 });
      mono += 10_001;
      wall.mockReturnValue(1_700_000_000_000 - 3_600_000);
      expect(b.redeem(late, expect_)).toEqual({ ok: false, why: 'the approval expired' });
    } finally {
      wall.mockRestore();
    }
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
  it('a clock set back an hour costs nothing: the bucket is not emptied for the hour', () => {
    const l = new MemoryLimiter();
    const b = [{ key: 'r\nalice', rate: { per_minute: 3 } }];
    const t0 = 10_000_000;
    for (let i = 0; i < 3; i++) expect(l.take(b, t0).ok).toBe(true);
    const back = t0 - 3_600_000;
    // Before: 3,600 s backwards took 180 tokens, and the retry hint was an hour.
    expect(l.take(b, back)).toMatchObject({ ok: false, retryAfterMs: 20_000 });
    expect(l.take(b, back + 20_000).ok).toBe(true);
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
  it('past maxKeys the bucket used least recently goes, not an empty one still in use', () => {
    const l = new MemoryLimiter(3);
    const rate = { per_hour: 1 };
    const mine = { key: 'r\nmallory', rate };
    expect(l.take([mine], 0).ok).toBe(true);
    expect(l.take([mine], 1).ok).toBe(false);
    // New keys (fresh sessions or tokens) while the empty bucket keeps being used: it stays empty.
    for (let i = 0; i < 10; i++) {
      expect(l.take([{ key: `r\nsession-${i}`, rate }], 2 + i).ok).toBe(true);
      expect(l.take([mine], 2 + i).ok).toBe(false);
    }
    // Left alone, it is the one that goes (and it would have refilled by then anyway).
    for (let i = 0; i < 3; i++) l.take([{ key: `r\nother-${i}`, rate }], 20);
    expect(l.take([mine], 21).ok).toBe(true);
  });
});

describe('what a person approving a call reads', () => {
  it('visibleText shows line separators, soft hyphens, private-use and every hidden character; emoji keep VS16', () => {
    expect(visibleText('a\u2028b\u2029c\u00add\ue000e\u200bf\u202eg\u{e0041}h\x1b[2Ji\u0085')).toBe('a\\u{2028}b\\u{2029}c\\u{ad}d\\u{e000}e\\u{200b}f\\u{202e}g\\u{e0041}h\\u{1b}[2Ji\\u{85}');
    expect(visibleText('ok ❤️ ünïcödé')).toBe('ok ❤️ ünïcödé');
    // Every code point the linter calls hidden is escaped here too.
    const missed: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (isHidden(cp) && visibleText(String.fromCodePoint(cp)) === String.fromCodePoint(cp)) missed.push(cp.toString(16));
    }
    expect(missed).toEqual([]);
  });

  it('arguments short enough are shown whole, as JSON', () => {
    expect(approvalArguments({ path: '/srv/a', n: 3 })).toBe('{\n "path": "/srv/a",\n "n": 3\n}');
    expect(approvalArguments(undefined)).toBe('{}');
  });

  it('many values: the cut says how much is left out and does not split an escape or a surrogate pair', () => {
    const args = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, `\u2028😀${i}`]));
    const shown = approvalArguments(args);
    expect(shown.split('\n')[0]).toMatch(/^\(shortened here: \d+ characters are not shown, and approving runs the call with all of them\)$/);
    const body = shown.slice(shown.indexOf('\n') + 1);
    expect(body).toMatch(/\n…\[\d+ more characters\]$/);
    expect(body.length).toBeLessThan(4100);
    expect(body).not.toMatch(/\\u\{[0-9a-f]*\n…/);
    expect(body).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('a "__proto__" argument is shown as the key it is', () => {
    const args = JSON.parse('{"__proto__": {"x": "y"}, "a": 1}') as unknown;
    expect(approvalArguments(args)).toBe('{\n "__proto__": {\n  "x": "y"\n },\n "a": 1\n}');
  });
});
