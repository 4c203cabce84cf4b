/**
 * Making server-controlled text safe to show to a person.
 */
import { jsonText } from './canonical.js';

/**
 * The hidden characters, written once for every use (the linter's hidden-character rule, its `normalize`, and
 * `visibleText` below): tags; zero width (ZWSP, ZWNJ, ZWJ, WJ, BOM); LRM, RLM; bidi embeddings, overrides and
 * isolates; variation selectors but VS16; soft hyphen, Mongolian VS, ALM, invisible operators; private use.
 * Source text for a `u`-flag character class.
 */
export const HIDDEN_RANGES = '\\u{e0000}-\\u{e007f}\\u200b-\\u200f\\u2060\\ufeff\\u202a-\\u202e\\u2066-\\u2069\\ufe00-\\ufe0e\\u{e0100}-\\u{e01ef}\\u00ad\\u180e\\u061c\\u2061-\\u2064\\ue000-\\uf8ff\\u{f0000}-\\u{ffffd}\\u{100000}-\\u{10fffd}';

/** Every hidden character, for `matchAll` and `replace` (both leave no `lastIndex` behind). */
export const HIDDEN_CHARS = new RegExp(`[${HIDDEN_RANGES}]`, 'gu');

/** C0 and C1 controls, DEL, the line and paragraph separators, and every hidden character. */
const UNSAFE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u2065${HIDDEN_RANGES}]`, 'gu');

/**
 * Control characters (C0, C1, DEL, newlines, U+2028/2029), bidirectional overrides, zero-width and other hidden
 * characters, Unicode tags and private-use characters become visible `\u{…}` escapes: no escape sequence runs,
 * no text hides, nothing starts a line or reorders what a person reads.
 */
export function visibleText(s: string): string {
  return s.replace(UNSAFE, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}

/** Longest string value shown whole in an approval prompt, and the most characters of arguments shown. */
const SHOWN_STRING = 500;
const SHOWN_TOTAL = 4000;

/**
 * A tool call's arguments as a person approving it sees them: JSON, escaped with `visibleText`. A long string is
 * shortened in place with a count of what is left out, so padding in one value cannot push another value out of
 * view, and anything cut says so in the first line: the person never approves text that silently ended early.
 * `exact` writes the JSON's numbers as the request spelled them (exactNumbers).
 */
export function approvalArguments(args: unknown, exact: (json: string) => string = (json) => json): string {
  let omitted = 0;
  const shorten = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (v.length <= SHOWN_STRING) return v;
      omitted += v.length - SHOWN_STRING;
      return `${v.slice(0, SHOWN_STRING)}…[${v.length - SHOWN_STRING} more characters]`;
    }
    if (Array.isArray(v)) return v.map(shorten);
    if (v !== null && typeof v === 'object') {
      // Own keys only, onto an object without a prototype: a "__proto__" argument stays an ordinary key.
      const out = Object.create(null) as Record<string, unknown>;
      for (const [k, x] of Object.entries(v)) out[k] = shorten(x);
      return out;
    }
    return v;
  };
  // JSON escapes control characters inside strings, so the only raw newlines are the layout's: kept as lines.
  let shown = exact(jsonText(shorten(args ?? {}), 1)).split('\n').map(visibleText).join('\n');
  if (shown.length > SHOWN_TOTAL) {
    let cut = SHOWN_TOTAL;
    // Not inside a \u{…} escape or between the halves of a surrogate pair.
    const esc = shown.lastIndexOf('\\u{', cut);
    if (esc >= 0 && esc > cut - 12 && shown.indexOf('}', esc) >= cut) cut = esc;
    if (/[\ud800-\udbff]/.test(shown[cut - 1] ?? '')) cut--;
    omitted += shown.length - cut;
    shown = `${shown.slice(0, cut)}\n…[${shown.length - cut} more characters]`;
  }
  return omitted > 0 ? `(shortened here: ${omitted} characters are not shown, and approving runs the call with all of them)\n${shown}` : shown;
}
