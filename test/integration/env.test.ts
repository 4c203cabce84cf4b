/**
 * Issue 2, done-when 5: a server that needs a token from the `env` of its host-config entry works when that entry
 * is wrapped. Also the environment rules: wrap strips MCP_WARDEN_*; serve gives a child only its configured env
 * plus PATH, HOME and the locale.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/clients.js';
import { CLI, NODE, ROOT, isolatedEnv, startServe, tmpDir } from '../helpers/cli.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');

function text(r: Record<string, unknown>): string {
  return (r['content'] as { text: string }[])[0]!.text;
}

type Client = Awaited<ReturnType<typeof connectClient>>;

/** Asks the fault server whether each variable is in its environment ('set' or 'unset'), in order. */
async function expectEnv(c: Client, want: Record<string, 'set' | 'unset'>): Promise<void> {
  for (const [name, seen] of Object.entries(want)) expect(text(await c.callTool('env', { name })), name).toBe(seen);
}

describe('a host-config entry with a token in its env', () => {
  // What a desktop host would have before and after wrapping the entry: only command and args change.
  const entry = { command: NODE, args: [FAULT], env: { API_TOKEN: 'tok-123', PATH: process.env['PATH'] ?? '' } };
  const wrapped = { command: NODE, args: [CLI, 'wrap', '--', entry.command, ...entry.args], env: { ...entry.env, MCP_WARDEN_LOG_LEVEL: 'warn' } };

  for (const [label, e] of [
    ['unwrapped', entry],
    ['wrapped', wrapped],
  ] as const) {
    it(`works ${label}`, async () => {
      const c = await connectClient('v1', { kind: 'stdio', command: e.command, args: e.args, env: e.env });
      try {
        await expectEnv(c, { API_TOKEN: 'set', MCP_WARDEN_LOG_LEVEL: 'unset' });
      } finally {
        await c.close();
      }
    });
  }
});

describe("wrap keeps mcp-warden's own credentials from the child", () => {
  it("what the config file's ${VAR} reads (the redaction hash key, an audit sink's token) does not reach the server; the host's other variables and a server's own env do", async () => {
    const dir = tmpDir('mcpw-env-');
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(
      cfg,
      [
        'redaction: { hash_key: "${WARDEN_HASH_KEY}" }',
        `audit: { db: "\${HOME}/audit.db", sink: { https: "https://127.0.0.1:9/ingest", headers: { Authorization: "Bearer \${SIEM_TOKEN}" } } }`,
        'servers:',
        '  f:',
        `    command: ${JSON.stringify(NODE)}`,
        `    args: [${JSON.stringify(FAULT)}]`,
        '    env: { PASSED_ON: "${SIEM_TOKEN}" }',
        '  other:',
        '    command: other-server',
        '    env: { TOKEN: "${OTHER_TOKEN}" }',
        '',
      ].join('\n'),
    );
    const env = isolatedEnv({ WARDEN_HASH_KEY: Buffer.alloc(32, 7).toString('base64'), SIEM_TOKEN: 'siem-secret', API_TOKEN: 'tok-123', OTHER_TOKEN: 'for-servers' });
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: [CLI, 'wrap', '--config', cfg, '--name', 'f', '--', NODE, FAULT], env });
    try {
      await expectEnv(c, {
        WARDEN_HASH_KEY: 'unset',
        SIEM_TOKEN: 'unset',
        // The host's own variables, one the config names for a path (HOME), and what the server's entry passes on stay.
        API_TOKEN: 'set',
        HOME: 'set',
        PASSED_ON: 'set',
        // A variable the config reads only for a server's env is meant for servers, not mcp-warden's own.
        OTHER_TOKEN: 'set',
      });
    } finally {
      await c.close();
    }
  });
});

describe('serve gives a child only its configured environment', () => {
  it('configured variables and PATH reach the child; the gateway’s own secrets do not', async () => {
    const gw = await startServe(`servers:\n  f:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(FAULT)}]\n    env:\n      SERVER_TOKEN: "\${SERVER_TOKEN_SOURCE}"\n`, {
      env: { PATH: process.env['PATH'] ?? '', HOME: '/tmp', LANG: 'C.UTF-8', SERVER_TOKEN_SOURCE: 'from-gateway-env', AWS_SECRET_ACCESS_KEY: 'gateway-secret', XDG_CONFIG_HOME: '/nonexistent' },
    });
    const c = await connectClient('v1', { kind: 'http', url: `${gw.url}/f/mcp` });
    try {
      await expectEnv(c, { SERVER_TOKEN: 'set', PATH: 'set', LANG: 'set', AWS_SECRET_ACCESS_KEY: 'unset', SERVER_TOKEN_SOURCE: 'unset' });
    } finally {
      await c.close();
      await gw.stop();
    }
  });
});
