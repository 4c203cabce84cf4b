/**
 * Making server-controlled text safe to show to a person.
 */

/**
 * Control characters (C0, C1, DEL, newlines), bidirectional overrides, zero-width characters and Unicode tags
 * become visible `\u{…}` escapes: no escape sequence runs, no text hides, nothing reorders what a person reads.
 */
export function visibleText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\udb40[\udc00-\udc7f]/g, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}
