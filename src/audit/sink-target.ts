/** Where the audit sink may send (kept apart from the sinks so that loading a config does not load TLS and HTTP). */
import { isLoopbackHost } from '../transports/http-server.js';

/**
 * What is wrong with a sink's address, or undefined. Events carry principals, tools, arguments (redacted) and
 * reasons: they leave the machine encrypted (tls://, https://); plain tcp:// and http:// only to a receiver on this
 * machine (a local relay). The config check and the sinks themselves both ask this.
 */
export function sinkTargetProblem(kind: 'syslog' | 'https', target: string): string | undefined {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return 'is not a URL';
  }
  const host = url.hostname;
  if (!host) return 'names no host';
  if (kind === 'syslog') {
    if (url.protocol !== 'tcp:' && url.protocol !== 'tls:') return `must be tls:// (or tcp:// to this machine), not ${url.protocol}`;
    if (url.protocol === 'tcp:' && !isLoopbackHost(host)) return 'sends the audit trail unencrypted: use tls:// (tcp:// only to a receiver on this machine)';
  } else {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return `must be an https:// URL, not ${url.protocol}`;
    if (url.protocol === 'http:' && !isLoopbackHost(host)) return 'sends the audit trail unencrypted: use https:// (http:// only to a receiver on this machine)';
  }
  return undefined;
}
