/**
 * Globs for names and URIs, compiled to anchored RE2 expressions (linear time, whatever the pattern).
 * Names: `*` is any run of characters, `?` one character; nothing else is special, so a tool name is otherwise
 * matched exactly. URIs: `*` stays within a path segment, `**` crosses segments.
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

export function matchUri(globs: readonly string[] | undefined, uri: string | undefined): boolean {
  if (!globs) return true;
  if (uri === undefined) return false;
  return globs.some((g) => compile(g, true, false).test(uri));
}

/** Host globs: case-insensitive; `*.example.com` matches subdomains only. */
export function matchHost(glob: string, host: string): boolean {
  return compile(glob, false, true).test(host);
}
