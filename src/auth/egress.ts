/**
 * Fetches the proxy makes as an OAuth client (discovery, JWKS, introspection, token endpoints, registration):
 * HTTPS only, except to a loopback address; no private, link-local or unique-local destinations unless the
 * configuration allows them; redirects are not followed. Metadata documents name further URLs, so each one is
 * checked, not only the configured one (SSRF, spec-sdk.md §2.5).
 *
 * Known limit: the name is resolved here and again by fetch, so a DNS answer that changes between the two
 * (rebinding) is not caught; put an egress proxy in front when the authorization server is not trusted.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface EgressPolicy {
  /** Allow 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10, 100.64/10 (an internal identity provider). */
  allowPrivate: boolean;
  /** Allow loopback addresses (always allowed over plain HTTP too). */
  allowLoopback: boolean;
}

/**
 * A fetch the guard refused, or an answer it would not read. A TypeError, as fetch's own failures are: openid-client
 * passes those on as they are, and wrapped any other error as "something went wrong", so the reason (a host that
 * does not resolve, a private address and the setting that allows it) never reached the log or the caller.
 */
export class EgressError extends TypeError {}

function v4(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** `::ffff:a00:1` (how URL writes a mapped address) → `10.0.0.1`. */
function unmapHex(l: string): string {
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(l);
  if (!m) return l;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export function isLoopbackAddress(ip: string): boolean {
  if (isIP(ip) === 4) return v4(ip)[0] === 127;
  const l = unmapHex(ip.toLowerCase());
  if (l.startsWith('::ffff:')) return isLoopbackAddress(l.slice(7));
  return l === '::1';
}

export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = v4(ip) as [number, number];
    return a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  const l = unmapHex(ip.toLowerCase());
  if (l.startsWith('::ffff:')) return isPrivateAddress(l.slice(7));
  return /^f[cd]/.test(l) || /^fe[89ab]/.test(l) || l === '::' || /^ff/.test(l);
}

function hostOf(u: URL): string {
  return u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
}

/** Throws EgressError when the URL may not be fetched under the policy. */
export async function checkEgress(raw: string | URL, policy: EgressPolicy): Promise<URL> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new EgressError(`not a URL: ${String(raw).slice(0, 200)}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new EgressError(`${u.protocol} URLs are not fetched`);
  if (u.username || u.password) throw new EgressError('URLs with credentials are not fetched');
  const host = hostOf(u);
  if (u.protocol === 'http:' && !(host === 'localhost' || (isIP(host) && isLoopbackAddress(host)))) throw new EgressError(`plain HTTP is refused except to loopback: ${u.origin}`);
  const addrs = isIP(host) ? [host] : host === 'localhost' ? ['127.0.0.1'] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  if (addrs.length === 0) throw new EgressError(`${host} does not resolve`);
  const loop = addrs.every(isLoopbackAddress);
  if (u.protocol === 'http:' && !loop) throw new EgressError(`plain HTTP is refused except to loopback: ${u.origin}`);
  for (const a of addrs) {
    if (isLoopbackAddress(a)) {
      if (!policy.allowLoopback) throw new EgressError(`${host} is a loopback address (not allowed for this server)`);
    } else if (isPrivateAddress(a) && !policy.allowPrivate) {
      throw new EgressError(`${host} resolves to a private address (${a}); set allow_private_networks to allow it`);
    }
  }
  return u;
}

/** The largest body an OAuth endpoint may answer with (metadata, keys, tokens and introspection are a few KiB). */
export const MAX_AUTH_RESPONSE_BYTES = 1 << 20;

/**
 * A fetch for openid-client / jose that checks every URL, never follows redirects, and reads at most `maxBytes` of a
 * body: a hostile or broken endpoint streaming without end would otherwise fill the proxy's memory until the
 * timeout (the metadata a server points a login at is the server's to choose).
 */
export function guardedFetch(policy: EgressPolicy, timeoutMs = 10_000, maxBytes = MAX_AUTH_RESPONSE_BYTES): (url: string, init?: RequestInit) => Promise<Response> {
  return async (url, init) => {
    await checkEgress(url, policy);
    const signal = init?.signal ?? AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { ...init, redirect: 'manual', signal });
    } catch (e) {
      throw withCause(e, url);
    }
    if (!res.body) return res;
    const tooLarge = () => new EgressError(`${new URL(url).origin} answered with more than ${maxBytes} bytes; not read`);
    if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
      await res.body.cancel().catch(() => undefined);
      throw tooLarge();
    }
    let seen = 0;
    const capped = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          seen += chunk.byteLength;
          if (seen > maxBytes) ctl.error(tooLarge());
          else ctl.enqueue(chunk);
        },
      }),
    );
    return new Response(capped, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/**
 * fetch's own error says only "fetch failed"; why (refused, not found, a TLS failure) is in its cause. The message
 * gets the cause and the origin, so "Could not obtain upstream credentials" says which endpoint and what happened.
 * The error keeps its name and stays an Error the callers recognise (it still reads "fetch failed").
 */
function withCause(e: unknown, url: string): unknown {
  if (!(e instanceof TypeError) || e.message !== 'fetch failed') return e;
  const c = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const why = typeof c?.code === 'string' ? c.code : typeof c?.message === 'string' ? c.message.slice(0, 200) : undefined;
  if (why === undefined) return e;
  let origin = '';
  try {
    origin = new URL(url).origin;
  } catch {
    /* the message without it */
  }
  e.message = `fetch failed: ${why}${origin ? ` (${origin})` : ''}`;
  return e;
}

/** True when the URL's host is a loopback address or localhost. */
export function loopbackUrl(u: string | undefined): boolean {
  if (!u) return false;
  try {
    const h = new URL(u).hostname.replace(/^\[|\]$/g, '');
    return h === 'localhost' || isLoopbackAddress(h);
  } catch {
    return false;
  }
}

