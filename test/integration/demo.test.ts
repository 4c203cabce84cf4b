/**
 * `mcp-warden demo` (what `npm run demo` runs after building): the whole job on the bundled example, no setup,
 * exit 0; and `npm start`'s gateway config serves the same example.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/clients.js';
import { CLI, isolatedEnv, NODE, ROOT, startServe } from '../helpers/cli.js';

describe('mcp-warden demo', () => {
  it('shows an allowed call, denials with reasons, redacted personal data and secrets, a verified audit trail and a report', () => {
    const r = spawnSync(NODE, [CLI, 'demo'], { env: isolatedEnv(), encoding: 'utf8', timeout: 60_000, cwd: '/' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/tools\/list → read_file, lookup_customer, get_deploy_config/);
    expect(out).toMatch(/allowed\s+Quarterly notes/);
    expect(out).toMatch(/denied\s+mcp-warden refused this call: .*`path` must be under \/data/);
    expect(out).toContain('"email":"[REDACTED:email]"');
    expect(out).toContain('"card":"[REDACTED:credit-card]"');
    expect(out).toContain('payments_api_key: [REDACTED:stripe-secret-key]');
    expect(out).toContain('postgres://app:[REDACTED:postgres-url-password]@');
    expect(out).toMatch(/denied\s+Tool delete_file not found/);
    expect(out).toMatch(/7\. The server changes a tool behind your back\s+tools\/list → lookup_customer, get_deploy_config/);
    expect(out).toMatch(/denied\s+mcp-warden refused this call: the tool "read_file" has changed since it was pinned/);
    expect(Number(/Verified: (\d+) events, chain intact/.exec(out)?.[1])).toBeGreaterThanOrEqual(12);
    expect(out).not.toMatch(/sk_live_|4242 4242|dana\.whitfield@/);
    const report = /report:\s+(\S+)/.exec(out)?.[1];
    expect(report && existsSync(report)).toBe(true);
    expect(readFileSync(report!, 'utf8')).toContain('<html');
  });

  it("npm start's gateway serves the example through the same pipeline", async () => {
    const yaml = readFileSync(path.join(ROOT, 'examples/gateway.yaml'), 'utf8').replace('port: 8080', 'port: 0').replace('args: [demo-server.mjs]', `args: [${path.join(ROOT, 'examples/demo-server.mjs')}]`).replace('policy: [demo-policy.yaml]', `policy: [${path.join(ROOT, 'examples/demo-policy.yaml')}]`).replace('cwd: .', `cwd: ${path.join(ROOT, 'examples')}`);
    const running = await startServe(yaml, { env: isolatedEnv() });
    try {
      const c = await connectClient('v1', { kind: 'http', url: `${running.url}/demo/mcp` });
      const r = await c.callTool('get_deploy_config', { env: 'staging' });
      expect(JSON.stringify(r)).toContain('[REDACTED:stripe-secret-key]');
      await c.close();
    } finally {
      await running.stop();
    }
  });
});
