/**
 * URL arguments: which host and scheme does this string really name?
 *
 * Parsed the WHATWG way (what Node's fetch and browsers do). Anything that different parsers read differently is
 * "unknown": user info ("https://api.github.com@evil.example"), backslashes, whitespace or control characters, an
 * IPv4 address written in decimal, octal or hex, relative or scheme-relative forms. Hosts are compared in punycode
 * (IDN), without one trailing dot, and an IPv6-mapped IPv4 address is also compared as the IPv4 address.
 */
import { domainToASCII } from 'node:url';
import { isIP } from 'node:net';
import { matchHost } from './glob.js';
import type { Tri } from './paths.js';

export interface UrlFacts {
  scheme: string;
  /** Every name the host may be compared under. */
  hosts: string[];
}

const MAX_URL = 8192;

/** The authority as written ("host:port", maybe with user info), before any parser touched it. */
function rawAuthority(raw: string): string | undefined {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(raw)?.[1];
}

/** The host as written: the authority without a port. */
function rawHost(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1).toLowerCase();
  const colon = authority.lastIndexOf(':');
  return (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
}

function mappedIpv4(host: string): string | undefined {
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
  if (!m) {
    const d = /^\[::ffff:(\d+\.\d+\.\d+\.\d+)\]$/.exec(host);
    return d?.[1];
  }
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export function urlFacts(raw: unknown): UrlFacts | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_URL) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f\\]/.test(raw)) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  const authority = rawAuthority(raw);
  // User info: "https://api.github.com@evil.example" names evil.example to WHATWG and something else to others.
  if (u.username || u.password || authority?.includes('@')) return undefined;
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  let host = u.hostname.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host && isIP(host) === 4) {
    // WHATWG canonicalises 0x7f.1 and 2130706433 to 127.0.0.1; other parsers do not. Only the plain form is clear.
    let written = authority === undefined ? '' : rawHost(authority);
    if (written.endsWith('.')) written = written.slice(0, -1);
    if (written !== host) return undefined;
  }
  const hosts = host ? [host] : [];
  const v4 = mappedIpv4(host);
  if (v4) hosts.push(v4);
  return { scheme, hosts };
}

/** A host pattern in the form URLs are compared in: punycode per label, wildcards kept. */
export function asciiHostPattern(pattern: string): string {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('[')) return p;
  return p
    .split('.')
    .map((label) => (label === '*' || label === '' || /^[\x00-\x7f]*$/.test(label) ? label : domainToASCII(label) || label))
    .join('.');
}

export function urlHostIn(raw: unknown, patterns: readonly string[]): Tri {
  const f = urlFacts(raw);
  if (!f) return 'unknown';
  if (f.hosts.length === 0) return 'no';
  const pats = patterns.map(asciiHostPattern);
  const hits = f.hosts.map((h) => pats.some((p) => matchHost(p, h)));
  return hits.every(Boolean) ? 'yes' : hits.some(Boolean) ? 'unknown' : 'no';
}

export function urlSchemeIn(raw: unknown, schemes: readonly string[]): Tri {
  const f = urlFacts(raw);
  if (!f) return 'unknown';
  return schemes.includes(f.scheme) ? 'yes' : 'no';
}
