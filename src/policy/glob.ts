/**
 * Globs for names and URIs, compiled to anchored RE2 expressions (linear time, whatever the pattern).
 * Names: `*` is any run of characters, `?` one character; nothing else is special, so a tool name is otherwise
 * matched exactly. URIs: `*` stays within a path segment, `**` crosses segments, and a URI is matched under
 * every reading a server might give it (`matchUriTri`).
 */
import RE2 from 're2';

const cache = new Map<string, RE2>();

function compile(glob: string, uri: boolean, caseInsensitive: boolean): RE2 {
  const key = `${uri ? 'u' : 'n'}${caseInsensitive ? 'i' : 'c'}${glob}`;
  let re = cache.get(key);
  if (re) return re;
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (uri && glob[i + 1] === '*') {
        src += '.*';
        i++;
      } else src += uri ? '[^/]*' : '.*';
    } else if (ch === '?') src += uri ? '[^/]' : '.';
    else src += ch.replace(/[\\^$.|+()[\]{}]/g, (c) => `\\${c}`);
  }
  re = new RE2(`^(?:${src})$`, caseInsensitive ? 'isu' : 'su');
  if (cache.size > 10_000) cache.clear();
  cache.set(key, re);
  return re;
}

export function matchName(globs: readonly string[] | undefined, name: string | undefined): boolean {
  if (!globs) return true;
  if (name === undefined) return false;
  return globs.some((g) => (g === '*' ? true : g.includes('*') || g.includes('?') ? compile(g, false, false).test(name) : g === name));
}

// ───────────── URIs ─────────────

const MAX_URI = 8192;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** The end of a URI's scheme and authority (where its path starts) and of its path (where `?` or `#` starts). */
function pathBounds(u: string): [number, number] {
  let end = u.search(/[?#]/);
  if (end < 0) end = u.length;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(u);
  let start = scheme ? scheme[0].length : 0;
  if (u.startsWith('//', start)) {
    const slash = u.indexOf('/', start + 2);
    start = slash < 0 || slash > end ? end : slash;
  }
  return [Math.min(start, end), end];
}

/** RFC 3986 §5.2.4, on the path only. */
function removeDotSegments(path: string): string {
  if (!/(^|\/)\.\.?(\/|$)/.test(path)) return path;
  const out: string[] = [];
  const segs = path.split('/');
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const last = i === segs.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..' && out.length > 1) out.pop();
      if (last) out.push('');
    } else out.push(seg);
  }
  return out.join('/');
}

/** Scheme and host in lower case, `file://localhost/` as `file:///`, the path's dot segments resolved (and, `lax`, its repeated slashes merged). */
function normalTail(u: string, lax: boolean): string {
  const [start, end] = pathBounds(u);
  let head = u.slice(0, start);
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(head)?.[0] ?? '';
  let authority = head.slice(scheme.length);
  if (authority.startsWith('//')) {
    const at = authority.lastIndexOf('@');
    authority = at < 0 ? authority.toLowerCase() : authority.slice(0, at + 1) + authority.slice(at + 1).toLowerCase();
    if (scheme.toLowerCase() === 'file:' && authority === '//localhost') authority = '//';
  }
  head = scheme.toLowerCase() + authority;
  let path = u.slice(start, end);
  if (lax) path = path.replace(/\/{2,}/g, '/');
  return head + removeDotSegments(path) + u.slice(end);
}

/**
 * The readings a server might give a URI, in a fixed order, each made alike of the URI and of the glob it is
 * matched against (so a glob written with `%20` still matches its own URI):
 *  - as written;
 *  - RFC 3986 syntax-based normalisation: scheme and host case, unreserved characters percent-decoded, dot segments;
 *  - the way a file system or a lax server reads it: without query and fragment, percent-decoded (up to three
 *    times), backslashes as slashes, repeated slashes merged, dot segments resolved; and that in Unicode NFKC (a
 *    fullwidth solidus is a slash).
 * A reading is undefined when it cannot be pinned down: control characters or NUL once decoded, bad
 * percent-encoding.
 */
function readingsOf(u: string): (string | undefined)[] {
  const rfc = normalTail(
    u.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(ch) ? ch : m.toUpperCase();
    }),
    false,
  );
  const lax = laxReading(u);
  return [u, rfc, lax, lax?.normalize('NFKC')];
}

/** A policy's globs are few and fixed: their readings are made once. */
const globReadingCache = new Map<string, (string | undefined)[]>();
function globReadings(g: string): (string | undefined)[] {
  let r = globReadingCache.get(g);
  if (!r) {
    r = readingsOf(g);
    if (globReadingCache.size > 10_000) globReadingCache.clear();
    globReadingCache.set(g, r);
  }
  return r;
}

/** A URI glob compiled for each reading (as readingsOf orders them), case-sensitive then folded: made once. */
const uriMatcherCache = new Map<string, RE2[]>();
function uriMatchers(g: string): RE2[] {
  let m = uriMatcherCache.get(g);
  if (!m) {
    const readings = globReadings(g);
    m = [];
    for (let i = 0; i < readings.length; i++) for (const fold of [false, true]) m.push(compile(readings[i] ?? g, true, fold));
    if (uriMatcherCache.size > 10_000) uriMatcherCache.clear();
    uriMatcherCache.set(g, m);
  }
  return m;
}

function laxReading(u: string): string | undefined {
  // A file system path has no query or fragment: `file:///srv/secret.txt?x` and `#x` read secret.txt.
  let cur = u.replace(/[?#][\s\S]*$/, '');
  for (let i = 0; i < 3 && /%[0-9A-Fa-f]{2}/.test(cur); i++) {
    try {
      cur = decodeURIComponent(cur);
    } catch {
      return undefined;
    }
  }
  if (CONTROL.test(cur)) return undefined;
  return normalTail(cur.replace(/\\/g, '/'), true);
}

/**
 * Does a URI match any of the globs? 'yes' only when it does under every reading (as written, RFC 3986 normalised,
 * decoded the way a file system would take it), both case-sensitively and with case folded; 'no' when it matches
 * under none; 'unknown' otherwise, and for a URI that cannot be pinned down. So `file:///srv/data/../etc/passwd`,
 * `%2e%2e`, `//secret`, `%73ecret`, `Secret` or `FILE:` cannot step out of an allow glob or around a deny glob:
 * 'unknown' never satisfies an allow rule and always satisfies a deny rule.
 */
export function matchUriTri(globs: readonly string[], uri: string): 'yes' | 'no' | 'unknown' {
  if (uri.length > MAX_URI || CONTROL.test(uri)) return 'unknown';
  const readings = readingsOf(uri);
  let yes = 0;
  let no = 0;
  for (let i = 0; i < readings.length; i++) {
    const u = readings[i];
    if (u === undefined) return 'unknown';
    for (let fold = 0; fold < 2; fold++) {
      if (globs.some((g) => uriMatchers(g)[i * 2 + fold]!.test(u))) yes++;
      else no++;
    }
    if (yes && no) return 'unknown';
  }
  return no === 0 ? 'yes' : 'no';
}

/** Host globs: case-insensitive; `*.example.com` matches subdomains only. */
export function matchHost(glob: string, host: string): boolean {
  return compile(glob, false, true).test(host);
}
