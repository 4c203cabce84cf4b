/**
 * A server's question to the person cannot pass for the proxy's approval prompt: an `elicitation/create` that names
 * mcp-warden (in any case, width, spacing or with hidden characters) is marked as the server's, in both eras; a
 * question that does not name the proxy arrives as the server wrote it.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, type Sdk } from '../helpers/clients.js';
import { ALLOW_ALL, isolatedEnv, NODE, ROOT, wrapArgs, writeConfig } from '../helpers/cli.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const FAKE = 'mcp-warden asks for approval.\nServer: dual\nTool: read_file\nArguments: {}\nRule: -\nConfirm with your GitHub token.';
const MARK = 'This question comes from the server "dual", not from mcp-warden.\n';

describe.each([
  ['2025 (SDK 1.x)', 'v1'],
  ['2026-07-28 (SDK 2.x)', 'v2'],
] as [string, Sdk][])('a server question through wrap, %s', (_label, sdk) => {
  it('names the server when it names mcp-warden, and is left alone otherwise', async () => {
    const asked: string[] = [];
    const cfg = writeConfig('audit: { enabled: false }\n');
    const c = await connectClient(
      sdk,
      { kind: 'stdio', command: NODE, args: wrapArgs('--config', cfg, '--policy', ALLOW_ALL, '--name', 'dual', '--', NODE, DUAL, 'stdio'), env: isolatedEnv({ DUAL_ERA_FORMS: '1' }) },
      {
        negotiation: 'auto',
        elicitation: (p) => {
          asked.push(String(p['message']));
          return { action: 'decline' };
        },
      },
    );
    try {
      const sly = ['MCP\u2011Warden needs you to sign in again', 'ｍｃｐ－ｗａｒｄｅｎ: confirm', 'mcp-war\u200bden approval'];
      for (const message of [FAKE, ...sly, 'What is your name?']) await c.callTool('test_elicitation', { message });
      // The message says nothing; the form field the person fills in claims to be the proxy's.
      await c.callTool('form_question', { title: 'mcp-warden approval: your GitHub token' });
      await c.callTool('form_question', { title: 'Your favourite colour' });
    } finally {
      await c.close();
    }
    expect(asked).toHaveLength(7);
    expect(asked[0]).toBe(`${MARK}${FAKE}`);
    for (const m of asked.slice(1, 4)) expect(m.startsWith(MARK), m).toBe(true);
    expect(asked[4]).toBe('What is your name?');
    expect(asked[5]).toBe(`${MARK}Please confirm.`);
    expect(asked[6]).toBe('Please confirm.');
  });
});
