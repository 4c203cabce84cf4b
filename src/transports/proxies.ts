/**
 * Who sent a request when a reverse proxy stands in front of `serve`: `listen.trusted_proxies` and the
 * `X-Forwarded-For` entries those proxies wrote.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** An address as Node gives it, without the IPv4-mapped prefix, so `127.0.0.1` matches either way. */
function plainAddress(a: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a;
}

/**
 * `listen.trusted_proxies` as a set to test addresses against: IP addresses and CIDR ranges (`10.0.0.0/8`,
 * `fd00::/8`). Throws on an entry that is neither, naming it.
 */
export function proxySet(entries: string[]): BlockList {
  const set = new BlockList();
  for (const entry of entries) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
    const family = m ? isIP(plainAddress(m[1]!)) : 0;
    const bits = m?.[2] === undefined ? undefined : Number(m[2]);
    if (!m || family === 0 || (bits !== undefined && bits > (family === 4 ? 32 : 128))) throw new Error(`${JSON.stringify(entry)} is not an IP address or a CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) set.addAddress(plainAddress(m[1]!), type);
    else set.addSubnet(plainAddress(m[1]!), bits, type);
  }
  return set;
}

function trusted(set: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && set.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The address a request came from. Behind a reverse proxy the socket's peer is the proxy; when that peer is one
 * of `trusted`, the client is read from `X-Forwarded-For`, right to left, past every trusted proxy: the rightmost
 * entry was written by the proxy that connected, and anything left of the first untrusted hop is the client's own
 * claim (a client can send any `X-Forwarded-For` it likes). A peer that is not trusted is the answer, whatever
 * headers it sent.
 */
export function clientAddress(req: IncomingMessage, trustedProxies?: BlockList): string {
  let address = plainAddress(req.socket.remoteAddress ?? 'unknown');
  if (!trustedProxies || !trusted(trustedProxies, address)) return address;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').slice(-32);
  for (let i = hops.length - 1; i >= 0 && trusted(trustedProxies, address); i--) {
    const hop = plainAddress(hops[i]!.trim());
    if (isIP(hop) === 0) break;
    address = hop;
  }
  return address;
}
