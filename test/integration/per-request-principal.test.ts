/**
 * One person, two clients: the same `sub` holds two tokens (two client apps, different scopes). A session belongs to
 * the person, so both tokens may use it, but each request is judged, filtered and recorded as the token that sent
 * it, even when the other token's request arrives while it is still at the server.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents } from '../helpers/audit.js';
import { NODE, ROOT, startServe, tmpDir, writeTemp, type Running } from '../helpers/cli.js';
import { localIssuer, type LocalIssuer } from '../helpers/jwks.js';
import { bodyMessages, type RawMessage } from '../helpers/raw.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const SHIFTY = path.join(ROOT, 'test/fixtures/shifty-server.mjs');


describe('one person, two clients, one session: each request is its own token', () => {
  let gw: Running;
  let issuer: LocalIssuer;
  let dir: string;

  beforeAll(async () => {
    dir = tmpDir('mcpw-twoclients-');
    issuer = await localIssuer(dir);
    const policy = writeTemp(
      'policy.yaml',
      `version: 1
default: deny
rules:
  - { id: everyone, effect: allow, tools: [echo, slow, greet] }
  - { id: admins, effect: allow, tools: [test_error_handling, read_data], principal: { scopes: [admin] }, hidden: true }
`,
      dir,
    );
    // shifty answers tools/list 600 ms late: the other client's request arrives while a list is at the server.
    const state = path.join(dir, 'shifty.json');
    writeFileSync(state, JSON.stringify({ version: 1, listDelayMs: 600 }));
    gw = await startServe(
      `servers:
  dual: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
  shifty: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(SHIFTY)}], env: { SHIFT_STATE: ${JSON.stringify(state)} } }
${issuer.authYaml}
policy: [${JSON.stringify(policy)}]
pins: false
audit: { db: ${JSON.stringify(path.join(dir, 'audit.db'))} }
`,
    );
  });

  afterAll(async () => gw?.stop());

  async function token(clientId: string, scope: string): Promise<string> {
    return issuer.token({ sub: 'alice', scope, client_id: clientId });
  }

  function poster(tok: string, extra: Record<string, string> = {}, server = 'dual') {
    return async (body: unknown, more: Record<string, string> = {}) => {
      const res = await fetch(`${gw.url}/${server}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${tok}`, ...extra, ...more }, body: JSON.stringify(body) });
      const text = await res.text();
      expect(res.status, text.slice(0, 200)).toBeLessThan(300);
      return { sid: res.headers.get('mcp-session-id'), msgs: bodyMessages(res.headers.get('content-type'), text) };
    };
  }

  it('2025 session: a list and a call in flight keep their own token while the other client calls', async () => {
    const narrow = await token('app-narrow', 'basic');
    const broad = await token('app-broad', 'admin');
    const init = await poster(narrow)({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'narrow', version: '1' } } });
    const sid = { 'mcp-session-id': init.sid!, 'mcp-protocol-version': '2025-11-25' };
    const a = poster(narrow, sid);
    const b = poster(broad, sid);
    await a({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // The narrow client's slow call is at the server while the broad client calls.
    const slow = a({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow', arguments: { ms: 700 } } });
    await new Promise((r) => setTimeout(r, 200));
    await b({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } });
    await slow;
    const calls = auditEvents(path.join(dir, 'audit.db')).filter((e) => e.method === 'tools/call');
    const byTarget = new Map(calls.map((e) => [e.target, e.client_id]));
    expect(byTarget.get('slow')).toBe('app-narrow');
    expect(byTarget.get('echo')).toBe('app-broad');
  });

  it('2026: the same person\'s two clients share a session; each call is recorded as its own client', async () => {
    const narrow = await token('app-narrow-2026', 'basic');
    const broad = await token('app-broad-2026', 'admin');
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const call = (tok: string, id: number, name: string, args: Record<string, unknown>) =>
      poster(tok, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name })({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: meta } });
    const slow = call(narrow, 1, 'slow', { ms: 700 });
    await new Promise((r) => setTimeout(r, 200));
    await call(broad, 2, 'echo', { message: '2026' });
    const answer = (await slow).msgs.find((m) => m.id === 1);
    expect(JSON.stringify(answer?.result)).toContain('finished');
    const calls = auditEvents(path.join(dir, 'audit.db')).filter((e) => e.method === 'tools/call' && e.client_id?.endsWith('-2026'));
    expect(calls.map((e) => `${e.target} ${e.client_id}`).sort()).toEqual(['echo app-broad-2026', 'slow app-narrow-2026']);
  });

  it('a list at the server is filtered for the client that asked, not for the one that called meanwhile', async () => {
    const narrow = await token('app-narrow', 'basic');
    const broad = await token('app-broad', 'admin');
    const init = await poster(narrow, {}, 'shifty')({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'narrow', version: '1' } } });
    const sid = { 'mcp-session-id': init.sid!, 'mcp-protocol-version': '2025-06-18' };
    const a = poster(narrow, sid, 'shifty');
    const b = poster(broad, sid, 'shifty');
    await a({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const list = a({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    await new Promise((r) => setTimeout(r, 200));
    const greeted = await b({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'greet', arguments: { name: 'x' } } });
    expect(greeted.msgs.find((m) => m.id === 3)?.result).toBeDefined();
    const tools = ((await list).msgs.find((m) => m.id === 2)?.result?.['tools'] as { name: string }[]).map((t) => t.name);
    expect(tools).toContain('greet');
    expect(tools).not.toContain('read_data');
    // The broad client sees the tool its scope allows.
    const own = await b({ jsonrpc: '2.0', id: 4, method: 'tools/list', params: {} });
    expect((own.msgs.find((m) => m.id === 4)?.result?.['tools'] as { name: string }[]).map((t) => t.name)).toContain('read_data');
  });
});
