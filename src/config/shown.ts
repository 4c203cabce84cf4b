/**
 * How a server's address shows in what mcp-warden writes where others read it (logs, lock files meant to be
 * committed, lint findings in CI logs and SARIF, error messages): a URL without its user name, password and query
 * (where tokens travel), a command line with tokens and connection-string passwords masked by the bundled packs.
 * The identity itself (the pin file's name is its hash) is never changed, only its shown form.
 */
import { secretScrubber } from '../redact/setup.js';

/** A URL without credentials, query or fragment (`?…` says one was there); `(invalid url)` for text that is not one. */
export function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    const cut = url.search !== '' || url.hash !== '';
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return `${url.toString()}${cut ? '?…' : ''}`;
  } catch {
    return '(invalid url)';
  }
}

let scrub: ((text: string) => string) | undefined;

/** A command line with what the bundled secrets and pii packs find masked (built on first use). */
export function shownCommand(line: string): string {
  scrub ??= secretScrubber(undefined);
  return scrub(line);
}

/** A server identity (its URL, or its command and arguments) as it may be shown. */
export function shownIdentity(identity: string): string {
  return /^(?:https?|wss?):\/\//i.test(identity) ? redactUrl(identity) : shownCommand(identity);
}
