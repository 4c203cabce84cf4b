/**
 * Is a path argument inside a directory? Answered the way a careful reviewer would, not the way one parser would.
 *
 * A server might read the same string in several ways: as given, percent-decoded (once or twice), after Unicode
 * normalisation (a fullwidth solidus becomes "/"), with backslashes as separators, as a file: URI, or on a file
 * system that folds case. Every reading is resolved lexically ("." and ".." segments, repeated and trailing
 * slashes). The answer is "yes" only if every reading is inside, "no" only if none is, and "unknown" otherwise —
 * and for anything that cannot be pinned down: NUL and control characters, relative paths, "~", UNC paths, overlong
 * input. "Unknown" never satisfies an allow rule and always satisfies a deny rule.
 *
 * Symbolic links are not resolved: the proxy does not see the server's file system. SECURITY.md says so.
 */

export type Tri = 'yes' | 'no' | 'unknown';

const MAX_PATH = 4096;

function decodeOnce(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Every string a server might take this argument to mean, or undefined when that cannot be pinned down. */
export function readings(raw: string): string[] | undefined {
  if (raw.length === 0 || raw.length > MAX_PATH) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) return undefined;
  const out = new Set<string>([raw]);
  let cur = raw;
  for (let i = 0; i < 3 && /%[0-9a-fA-F]{2}/.test(cur); i++) {
    const d = decodeOnce(cur);
    if (d === undefined) return undefined;
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(d)) return undefined;
    out.add(d);
    cur = d;
  }
  if (/^file:/i.test(raw)) {
    try {
      const u = new URL(raw);
      if (u.host && u.host !== 'localhost') return undefined;
      const p = decodeOnce(u.pathname);
      if (p === undefined) return undefined;
      out.add(/^\/[A-Za-z]:/.test(p) ? p.slice(1) : p);
    } catch {
      return undefined;
    }
    out.delete(raw);
  }
  for (const s of [...out]) {
    out.add(s.normalize('NFC'));
    out.add(s.normalize('NFKC'));
  }
  for (const s of [...out]) if (s.includes('\\')) out.add(s.replace(/\\/g, '/'));
  return [...out];
}

/** Lexical resolution of an absolute path; undefined if it is not absolute (or is a UNC path). */
export function resolveAbsolute(p: string): string | undefined {
  let drive = '';
  let rest = p;
  const m = /^([A-Za-z]):([\\/].*)?$/.exec(p);
  if (m) {
    drive = `${m[1]!.toLowerCase()}:`;
    rest = m[2] ?? '';
    if (!rest) return undefined; // "C:" alone is the drive's current directory: relative
  } else if (!p.startsWith('/')) return undefined;
  if (/^[\\/]{2}/.test(rest) && !drive) return undefined; // //server/share
  const parts: string[] = [];
  for (const seg of rest.split(/[/\\]/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `${drive}/${parts.join('/')}`;
}

function within(p: string, root: string): boolean {
  if (root === '/') return !/^[a-z]:/.test(p);
  return p === root || p.startsWith(`${root}/`);
}

/** Whether `raw` lies inside any of `roots` (absolute directories). */
export function pathUnder(raw: unknown, roots: readonly string[]): Tri {
  if (typeof raw !== 'string') return 'unknown';
  const rs = readings(raw);
  if (!rs) return 'unknown';
  const normRoots = roots.map((r) => resolveAbsolute(r)).filter((r): r is string => r !== undefined);
  let yes = 0;
  let no = 0;
  for (const r of rs) {
    const p = resolveAbsolute(r);
    if (p === undefined) return 'unknown';
    // Case-sensitive and case-folding file systems: both readings count.
    for (const fold of [false, true]) {
      const pp = fold ? p.toLowerCase() : p;
      const inside = normRoots.some((root) => within(pp, fold ? root.toLowerCase() : root));
      if (inside) yes++;
      else no++;
    }
  }
  return no === 0 ? 'yes' : yes === 0 ? 'no' : 'unknown';
}

export function pathNotUnder(raw: unknown, roots: readonly string[]): Tri {
  const r = pathUnder(raw, roots);
  return r === 'yes' ? 'no' : r === 'no' ? 'yes' : 'unknown';
}
