/**
 * What a server controls (tool names, error texts, arguments) is escaped wherever a reviewer reads it.
 */

/**
 * For a terminal: control characters (C0, C1, DEL), bidirectional overrides, zero-width characters and Unicode
 * tags become visible `\u{…}` escapes, so no escape sequence runs and no text hides or reorders.
 */
export function terminalSafe(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\udb40[\udc00-\udc7f]/g, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}

/**
 * One CSV cell (RFC 4180). A cell that a spreadsheet would run as a formula (starting with = + - @, tab or CR) is
 * prefixed with an apostrophe.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Text for an HTML page (the report also keeps everything server-controlled out of markup entirely). */
export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
