/**
 * Approvals for `effect: ask`. In the 2026-07-28 era the proxy answers with `input_required` and the client
 * retries with the person's answer and the proxy's `requestState`: an HMAC'd token that binds the approval to the
 * principal, the server, the tool and a hash of the exact arguments, expires, and is accepted once. No argument or
 * model output can forge it. If the server itself then asks for input, its own state rides inside the token so the
 * person is not asked twice for the same call.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { canonicalJson, sha256Hex } from '../protocol/canonical.js';

export interface ApprovalClaims {
  /** Single-use nonce. */
  n: string;
  /** issuer|sub of the principal. */
  p: string;
  s: string;
  t: string;
  /** SHA-256 of the canonical arguments. */
  h: string;
  /** Expiry, ms since the epoch (as issued; what decides is `m`). */
  e: number;
  /**
   * Expiry on this process's monotonic clock (ms of `performance.now()`), set by `issue` from `e`. The key is this
   * process's own, so no other process can redeem a token, and a wall clock set back cannot bring an expired one
   * back, nor one whose nonce was forgotten.
   */
  m?: number;
  /** Already approved (a later round of the same call). */
  a: boolean;
  /** The server's own requestState, carried through. */
  st?: string;
}

export type ApprovalCheck = { ok: true; claims: ApprovalClaims } | { ok: false; why: string };

export const APPROVAL_KEY = 'mcp-warden/approval';
const PREFIX = 'mcpw1.';

/**
 * `exact`: the request's numbers that a double may not hold, as written (inexactLiterals): two requests whose
 * arguments JSON.parse reads alike (an id 12345678901234567891 or …892) are different calls and must not share an
 * approval.
 */
export function argsHash(args: unknown, exact = ''): string {
  return sha256Hex(exact ? `${canonicalJson(args ?? {})}\n${exact}` : canonicalJson(args ?? {}));
}

export class Approvals {
  /** Nonces spent, with their monotonic expiry: each is kept until its token could no longer pass the expiry check. */
  private readonly used = new Map<string, number>();
  /** `clock`: monotonic milliseconds (tests move it). */
  constructor(
    private readonly key: Buffer = randomBytes(32),
    private readonly clock: () => number = () => performance.now(),
  ) {}

  issue(c: Omit<ApprovalClaims, 'n' | 'm'>): string {
    const claims: ApprovalClaims = { ...c, m: this.clock() + (c.e - Date.now()), n: randomBytes(12).toString('base64url') };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${PREFIX}${body}.${createHmac('sha256', this.key).update(body).digest('base64url')}`;
  }

  static isOurs(state: unknown): state is string {
    return typeof state === 'string' && state.startsWith(PREFIX);
  }

  /**
   * Checks a token against the call it comes back with, and spends it. Expiry is judged on the monotonic clock: with
   * the wall clock, a clock set back after a nonce was swept as expired let the same approval run the call again.
   */
  redeem(token: string, expect: { p: string; s: string; t: string; h: string }): ApprovalCheck {
    const now = this.clock();
    const rest = token.slice(PREFIX.length);
    const dot = rest.lastIndexOf('.');
    if (dot < 0) return { ok: false, why: 'malformed approval state' };
    const body = rest.slice(0, dot);
    const mac = Buffer.from(rest.slice(dot + 1), 'base64url');
    const want = createHmac('sha256', this.key).update(body).digest();
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return { ok: false, why: 'the approval state was not issued by this proxy' };
    let c: ApprovalClaims;
    try {
      c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ApprovalClaims;
    } catch {
      return { ok: false, why: 'malformed approval state' };
    }
    this.sweep(now);
    if (typeof c.m !== 'number' || c.m < now) return { ok: false, why: 'the approval expired' };
    if (this.used.has(c.n)) return { ok: false, why: 'the approval was already used' };
    if (c.p !== expect.p) return { ok: false, why: 'the approval belongs to another principal' };
    if (c.s !== expect.s || c.t !== expect.t) return { ok: false, why: 'the approval is for another tool' };
    if (c.h !== expect.h) return { ok: false, why: 'the arguments changed since they were approved' };
    this.used.set(c.n, c.m);
    return { ok: true, claims: c };
  }

  private sweep(now: number): void {
    if (this.used.size < 1000) return;
    for (const [n, e] of this.used) if (e < now) this.used.delete(n);
  }
}
