/**
 * Where the proxy's resident memory goes, and what moves it:
 *
 * - the floor: an empty Node process, and what each large dependency adds when loaded alone;
 * - `wrap` with the full pipeline (lean stdio client): resident memory idle after start, and at its peak under
 *   16 calls in flight plus ten 1 MiB results, with Node's default young generation and with a smaller one
 *   (`--max-semi-space-size`), and the calls/s each kept.
 *
 *   node bench/memory.mjs        prints JSON; bench/run.mjs includes it in docs/benchmarks.md
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { procStatusMb } from './common.mjs';
import { NODE, open, ROOT, spawnWrap } from './load-stdio.mjs';

const DEPENDENCIES = ['better-sqlite3', 're2', 'ajv', 'yaml', 'pino', 'jose', 'openid-client', 'prom-client', 'ws'];

/** Resident MB of a fresh Node process after loading `mod` (or nothing). */
function loaded(mod) {
  const code = `${mod ? `require(${JSON.stringify(mod)});` : ''}setTimeout(() => process.stdout.write(String(process.memoryUsage().rss)), 300)`;
  return Number(execFileSync(NODE, ['-e', code], { cwd: ROOT, encoding: 'utf8' })) / 2 ** 20;
}

async function wrapUnderLoad(flags, calls) {
  const { child } = spawnWrap('mcpw-mem-', () => flags);
  try {
    const client = await open(child);
    await new Promise((r) => setTimeout(r, 500));
    const idle = procStatusMb(child.pid, 'VmRSS');
    for (let i = 0; i < 1000; i++) await client.call('echo', { text: 'warm' });
    const run = await client.run(calls, 16);
    const peakCalls = procStatusMb(child.pid, 'VmHWM');
    for (let i = 0; i < 10; i++) await client.call('blob', { bytes: 1024 * 1024 });
    return { flags: flags.join(' ') || '(Node defaults)', idle, peakCalls, peak: procStatusMb(child.pid, 'VmHWM'), rate: run.rate };
  } finally {
    child.stdin.end();
    child.kill();
  }
}

/**
 * Resident MB of a process that appended `events` audit events one commit each (as `wrap` does one call at a time),
 * with the audit writer's page cache and with the one better-sqlite3 sets (cache_size -16000: 16 MB).
 */
function auditCache(cacheKib, events = 40_000) {
  const code = `
    const { mkdtempSync } = require('node:fs'); const os = require('node:os'); const path = require('node:path');
    (async () => {
      const { AuditStore } = await import(${JSON.stringify(new URL('../dist/audit/store.js', import.meta.url).href)});
      const { blankEvent } = await import(${JSON.stringify(new URL('../dist/audit/writer.js', import.meta.url).href)});
      const { loadOrCreateKey } = await import(${JSON.stringify(new URL('../dist/audit/keys.js', import.meta.url).href)});
      const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpw-cache-'));
      const key = loadOrCreateKey(path.join(dir, 'key.pem'));
      const store = new AuditStore(path.join(dir, 'audit.db'));
      ${cacheKib ? `store.db.pragma('cache_size = -${cacheKib}');` : ''}
      const before = process.memoryUsage().rss;
      for (let i = 0; i < ${events}; i++) {
        const e = blankEvent('exchange');
        Object.assign(e, { server: 'files', method: 'tools/call', target: 'read_file', decision: 'allow', status: 'ok', latency_ms: 0.4, args_sha256: 'a'.repeat(64), result_sha256: 'b'.repeat(64) });
        store.append([e], key);
      }
      process.stdout.write(JSON.stringify({ cache: store.db.pragma('cache_size', { simple: true }), grew: (process.memoryUsage().rss - before) / 2 ** 20 }));
    })();`;
  return JSON.parse(execFileSync(NODE, ['-e', code], { cwd: ROOT, encoding: 'utf8' }));
}

export async function memoryExperiment({ calls = 20_000 } = {}) {
  const empty = loaded('');
  const deps = DEPENDENCIES.map((d) => ({ name: d, mb: loaded(d) - empty }));
  const wrap = [];
  for (const flags of [[], ['--max-semi-space-size=4'], ['--max-semi-space-size=1']]) wrap.push(await wrapUnderLoad(flags, calls));
  const cache = { writer: auditCache(undefined), driverDefault: auditCache(16_000) };
  return { empty, deps, wrap, cache };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  memoryExperiment().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
