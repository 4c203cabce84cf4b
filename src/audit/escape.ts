/**
 * What a server controls (tool names, error texts, arguments) is escaped wherever a reviewer reads it.
 */

/** For a terminal: see visibleText. */
export { visibleText as terminalSafe } from '../protocol/escape.js';

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
