/**
 * Issue 9 (amplification, faults): when the audit store fills up (here a size cap, which SQLite enforces exactly as
 * a full disk: SQLITE_FULL), calls are refused (fail closed, -32013) and /readyz says why; the gateway stays up.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/clients.js';
import { ALLOW_ALL, NODE, ROOT, startServe, tmpDir } from '../helpers/cli.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');

describe('a full audit store', () => {
  it('refuses calls with -32013 and turns /readyz to 503, without crashing', async () => {
    const dir = tmpDir('mcpw-full-');
    const gw = await startServe(`servers:
  dual: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
policy: [${JSON.stringify(ALLOW_ALL)}]
pins: false
audit: { db: ${JSON.stringify(path.join(dir, 'audit.db'))}, max_db_mb: 0.25, capture_max_bytes: 4096 }
`);
    const c = await connectClient('v1', { kind: 'http', url: `${gw.url}/dual/mcp` });
    try {
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      let refused: { code?: number; message: string } | undefined;
      let ok = 0;
      for (let i = 0; i < 400 && !refused; i++) {
        try {
          await c.callTool('echo', { message: `${i} ${'x'.repeat(4000)}` });
          ok++;
        } catch (e) {
          refused = e as { code?: number; message: string };
        }
      }
      expect(ok).toBeGreaterThan(5);
      expect(refused?.code, refused?.message).toBe(-32013);
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toMatch(/audit store cannot write/);
      await expect(c.callTool('echo', { message: 'still refused' })).rejects.toMatchObject({ code: -32013 });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await c.close().catch(() => undefined);
      await gw.stop();
    }
  });
});
