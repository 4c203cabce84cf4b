/**
 * Issue 9: 50 concurrent sessions of 50 principals, all reusing the same JSON-RPC ids and the same progress token,
 * through one shared child (`isolation: shared`, the hardest case: the proxy rewrites every id and token). Nobody
 * receives another's results, progress notifications or list view (admins see a tool the others must not).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE, ROOT, startServe, tmpDir, writeTemp, type Running } from '../helpers/cli.js';
import { localIssuer, type LocalIssuer } from '../helpers/jwks.js';
import { bodyMessages, type RawMessage } from '../helpers/raw.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const N = 50;


describe(`isolation under concurrency: ${N} principals, one shared child, the same ids`, () => {
  let gw: Running;
  let issuer: LocalIssuer;
  let base: string;

  beforeAll(async () => {
    const dir = tmpDir('mcpw-iso50-');
    issuer = await localIssuer(dir);
    const policy = writeTemp(
      'policy.yaml',
      `version: 1
default: deny
rules:
  - { id: everyone, effect: allow, tools: [echo, test_tool_with_progress] }
  - { id: admins, effect: allow, tools: [test_error_handling], principal: { scopes: [admin] }, hidden: true }
`,
      dir,
    );
    gw = await startServe(
      `servers:
  dual: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio], isolation: shared, max_sessions: 200 }
${issuer.authYaml}
policy: [${JSON.stringify(policy)}]
pins: false
audit: { db: ${JSON.stringify(path.join(dir, 'audit.db'))} }
`,
    );
    base = `${gw.url}/dual/mcp`;
  });

  afterAll(async () => gw?.stop());

  async function session(i: number): Promise<{ sub: string; admin: boolean; tools: string[]; echo: string; progress: RawMessage[]; other: RawMessage[] }> {
    const sub = `user-${i}`;
    const admin = i % 3 === 0;
    const token = await issuer.token({ sub, scope: admin ? 'admin' : 'basic' });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` };
    const post = async (body: unknown) => {
      const res = await fetch(base, { method: 'POST', headers, body: JSON.stringify(body) });
      const text = await res.text();
      expect(res.status, text.slice(0, 200)).toBeLessThan(300);
      return { sid: res.headers.get('mcp-session-id'), msgs: bodyMessages(res.headers.get('content-type'), text) };
    };
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: sub, version: '1' } } });
    headers['mcp-session-id'] = init.sid!;
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const [list, echo, prog] = await Promise.all([
      post({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
      post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: sub } } }),
      post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: 'same-token' } } }),
    ]);
    const answer = (msgs: RawMessage[], id: number) => msgs.find((m) => m.id === id && (m.result || m.error));
    const tools = ((answer(list.msgs, 2)?.result?.['tools'] as { name: string }[]) ?? []).map((t) => t.name);
    const echoText = ((answer(echo.msgs, 3)?.result?.['content'] as { text: string }[]) ?? [])[0]?.text ?? '';
    const progress = prog.msgs.filter((m) => m.method === 'notifications/progress');
    const other = [...list.msgs, ...echo.msgs, ...prog.msgs].filter((m) => m.method !== 'notifications/progress' && ![2, 3, 4].includes(m.id as number));
    expect(answer(prog.msgs, 4)?.result).toBeDefined();
    return { sub, admin, tools, echo: echoText, progress, other };
  }

  it('every session sees only its own results, progress and list view', async () => {
    const all = await Promise.all(Array.from({ length: N }, (_, i) => session(i)));
    const progressCounts = new Set<number>();
    for (const s of all) {
      expect(s.echo, s.sub).toBe(`echo: ${s.sub}`);
      expect(s.tools.includes('test_error_handling'), `${s.sub} admin=${s.admin}`).toBe(s.admin);
      expect(s.tools).toContain('echo');
      expect(s.progress.length, s.sub).toBeGreaterThan(0);
      for (const p of s.progress) expect(p.params?.['progressToken'], s.sub).toBe('same-token');
      progressCounts.add(s.progress.length);
      expect(s.other, s.sub).toEqual([]);
    }
    // The server reports the same number of steps for every call: a session that got someone else's would differ.
    expect(progressCounts.size).toBe(1);
  });
});
