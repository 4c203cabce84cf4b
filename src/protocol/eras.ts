/**
 * MCP protocol revisions. Up to 2025-11-25 is the legacy era (initialize, sessions, server→client requests);
 * 2026-07-28 and later is the modern era (stateless, per-request `_meta` envelope, `server/discover`).
 */
import { isObject } from './jsonrpc.js';

export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'] as const;
export const MODERN_VERSIONS = ['2026-07-28'] as const;
export const FIRST_MODERN_VERSION = '2026-07-28';

export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
  relatedTask: 'io.modelcontextprotocol/related-task',
} as const;

export type Era = 'legacy' | 'modern';

const VERSION_RE = /^\d{4}-\d{2}-\d{2}$/;

export function isKnownVersion(v: string): boolean {
  return (LEGACY_VERSIONS as readonly string[]).includes(v) || (MODERN_VERSIONS as readonly string[]).includes(v);
}

/** Dated revisions compare as strings; anything from 2026-07-28 on is modern. */
export function isModernVersion(v: string): boolean {
  return VERSION_RE.test(v) && v >= FIRST_MODERN_VERSION;
}

/** The protocol version a request claims in its per-request envelope, if it carries one. */
export function envelopeVersion(params: unknown): string | undefined {
  if (!isObject(params)) return undefined;
  const meta = params['_meta'];
  if (!isObject(meta)) return undefined;
  const v = meta[META.protocolVersion];
  return typeof v === 'string' ? v : undefined;
}

export function hasEnvelopeClaim(params: unknown): boolean {
  if (!isObject(params)) return false;
  const meta = params['_meta'];
  return isObject(meta) && Object.hasOwn(meta, META.protocolVersion);
}

/** The era one message belongs to, from its body alone (the header is only a cross-check). */
export function eraOfMessage(method: string, params: unknown): Era {
  const v = envelopeVersion(params);
  if (v !== undefined && isModernVersion(v)) return 'modern';
  if (method === 'server/discover' || method === 'subscriptions/listen') return 'modern';
  return 'legacy';
}
