/**
 * A live server's lists, fetched the way a client would — initialize (or, for a 2026-07-28-only server,
 * server/discover), then every page of tools/list, prompts/list, resources/list and resources/templates/list.
 * Only list methods are sent: never tools/call or prompts/get, and resources/read only when asked (`mcp-warden pin`
 * records the views, `ui://` resources, its tools open and its resource list names).
 */
import { isObject } from '../protocol/jsonrpc.js';
import { isViewUri, MAX_VIEWS, viewHash, viewUris } from '../pin/pins.js';
import { META } from '../protocol/eras.js';
import type { Upstream } from '../transports/types.js';

export interface Snapshot {
  initialize?: Record<string, unknown>;
  discover?: Record<string, unknown>;
  tools: unknown[];
  prompts: unknown[];
  resources: unknown[];
  resourceTemplates: unknown[];
  /** Pages fetched per list, for the record. */
  pages: Record<string, number>;
  /** With `views`: each view's hash (pins.ts viewHash) by URI, and why a view could not be read. */
  views?: Record<string, string>;
  viewErrors?: Record<string, string>;
}

export class LiveError extends Error {}

const CLIENT = { name: 'mcp-warden-lint', version: '1' };

/** Fetches every list of the server behind `up`. `timeoutMs` bounds each request. */
export async function fetchSnapshot(up: Upstream, timeoutMs = 15_000, opts: { views?: boolean } = {}): Promise<Snapshot> {
  let next = 1;
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  let closed: string | undefined;
  up.onmessage = (text) => {
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (!isObject(m)) return;
    if (typeof m['id'] === 'number' && m['method'] === undefined) {
      waiting.get(m['id'])?.(m);
      waiting.delete(m['id']);
    } else if (m['id'] !== undefined && typeof m['method'] === 'string') {
      // A server request (roots, sampling, elicitation): the linter has nothing to give.
      up.send(JSON.stringify({ jsonrpc: '2.0', id: m['id'], error: { code: -32601, message: 'mcp-warden lint answers no requests' } }), { kind: 'response', method: undefined, era: 'legacy', upId: undefined });
    }
  };
  up.onrequestfailed = (id, failure) => {
    waiting.get(id)?.({ error: { code: failure.code, message: failure.message } });
    waiting.delete(id);
  };
  up.onclose = (info) => {
    closed = info.reason;
    for (const [, w] of waiting) w({ error: { code: -32011, message: `the server went away: ${info.reason}` } });
    waiting.clear();
  };
  let era: 'legacy' | 'modern' = 'legacy';
  let version = '2025-11-25';
  const request = (method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> => {
    if (closed) return Promise.reject(new LiveError(`the server went away: ${closed}`));
    const id = next++;
    const body = era === 'modern' ? { ...params, _meta: { ...(isObject(params['_meta']) ? params['_meta'] : {}), [META.protocolVersion]: version, [META.clientInfo]: CLIENT, [META.clientCapabilities]: {} } } : params;
    up.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: body }), { kind: 'request', method, era, upId: id, protocolVersion: era === 'modern' ? version : undefined });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        waiting.delete(id);
        reject(new LiveError(`no answer to ${method} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      t.unref?.();
      waiting.set(id, (m) => {
        clearTimeout(t);
        up.requestDone?.(id);
        resolve(m);
      });
    });
  };
  await up.start();
  const snap: Snapshot = { tools: [], prompts: [], resources: [], resourceTemplates: [], pages: {} };
  const init = await request('initialize', { protocolVersion: version, capabilities: {}, clientInfo: CLIENT });
  let caps: Record<string, unknown> = {};
  if (isObject(init['result'])) {
    snap.initialize = init['result'];
    caps = isObject(init['result']['capabilities']) ? init['result']['capabilities'] : {};
    if (typeof init['result']['protocolVersion'] === 'string') {
      version = init['result']['protocolVersion'];
      up.setProtocolVersion?.(version);
    }
    up.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { kind: 'notification', method: 'notifications/initialized', era, upId: undefined });
  } else {
    // A server that speaks only 2026-07-28.
    era = 'modern';
    version = '2026-07-28';
    const disc = await request('server/discover', {});
    if (!isObject(disc['result'])) throw new LiveError(`the server answered neither initialize nor server/discover: ${JSON.stringify(init['error'] ?? disc['error']).slice(0, 200)}`);
    snap.discover = disc['result'];
    caps = isObject(disc['result']['capabilities']) ? disc['result']['capabilities'] : {};
  }
  const all = async (method: string, key: keyof Pick<Snapshot, 'tools' | 'prompts' | 'resources' | 'resourceTemplates'>) => {
    let cursor: string | undefined;
    let pages = 0;
    for (; pages < 100; ) {
      const r = await request(method, cursor === undefined ? {} : { cursor });
      if (!isObject(r['result'])) {
        if (pages === 0) return;
        throw new LiveError(`${method} failed on page ${pages + 1}: ${JSON.stringify(r['error']).slice(0, 200)}`);
      }
      pages++;
      const list = r['result'][key];
      if (Array.isArray(list)) snap[key].push(...list);
      cursor = typeof r['result']['nextCursor'] === 'string' ? r['result']['nextCursor'] : undefined;
      if (cursor === undefined) break;
    }
    snap.pages[method] = pages;
    if (cursor !== undefined) throw new LiveError(`${method} still had a nextCursor after 100 pages`);
  };
  if (caps['tools'] !== undefined) await all('tools/list', 'tools');
  if (caps['prompts'] !== undefined) await all('prompts/list', 'prompts');
  if (caps['resources'] !== undefined) {
    await all('resources/list', 'resources');
    await all('resources/templates/list', 'resourceTemplates');
  }
  if (opts.views) {
    const uris = new Set<string>();
    for (const t of snap.tools) if (isObject(t)) for (const u of viewUris(t)) uris.add(u);
    for (const r of snap.resources) if (isObject(r) && isViewUri(r['uri'])) uris.add(r['uri']);
    if (uris.size > MAX_VIEWS) throw new LiveError(`the server names ${uris.size} views (ui:// resources); at most ${MAX_VIEWS} are read`);
    snap.views = {};
    snap.viewErrors = {};
    for (const uri of uris) {
      const r = await request('resources/read', { uri });
      if (isObject(r['result'])) snap.views[uri] = viewHash(r['result']);
      else snap.viewErrors[uri] = JSON.stringify(r['error'] ?? 'no result').slice(0, 200);
    }
  }
  await up.close();
  return snap;
}

/** Splits `--stdio 'CMD ARGS'` like a shell would for plain words and quotes (no expansion). */
export function splitCommand(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else cur += c;
  }
  if (quote) throw new LiveError('--stdio: unbalanced quote');
  if (cur || any) out.push(cur);
  return out;
}
