/**
 * Where the proxy's resident memory goes, and what moves it:
 *
 * - the floor: an empty Node process, and what each large dependency adds when loaded alone;
 * - `wrap` with the full pipeline (lean stdio client): resident memory idle after start (and how much of it is
 *   anonymous, not the Node binary's and libraries' pages every Node process shares), and at its peak under
 *   16 calls in flight plus ten 1 MiB results: as shipped (cli/heap.ts: the young generation kept at its starting
 *   size, the old one growing by a fixed share between full collections), with V8's own growth of the old generation,
 *   with Node's default young generation, and with a 4 MiB one; the calls/s each kept and the time of a 1 MiB result
 *   with ~1,000 findings (where the proxy allocates most);
 * - `serve` under the lean HTTP generator: peak RSS and calls/s as shipped, with two smaller heaps, and with less of
 *   V8's optimizing compiler (which a proxy cannot turn down on itself: V8 reads those flags when it starts).
 *
 *   node bench/memory.mjs        prints JSON; bench/run.mjs includes it in docs/benchmarks.md
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { procStatusMb } from './common.mjs';
import { performance } from 'node:perf_hooks';
import { httpLoad } from './load-http.mjs';
import { NODE, open, ROOT, spawnServe, spawnWrap } from './load-stdio.mjs';

const DEPENDENCIES = ['better-sqlite3', 're2', 'ajv', 'yaml', 'pino', 'jose', 'openid-client', 'prom-client', 'ws'];

/** Resident MB of a fresh Node process after loading `mod` (or nothing). */
function loaded(mod) {
  const code = `${mod ? `require(${JSON.stringify(mod)});` : ''}setTimeout(() => process.stdout.write(String(process.memoryUsage().rss)), 300)`;
  return Number(execFileSync(NODE, ['-e', code], { cwd: ROOT, encoding: 'utf8' })) / 2 ** 20;
}

/** How the table names each set of Node flags. A flag of the same kind given to Node turns off wrap's own setting. */
const LABELS = {
  '': 'none (as shipped: 1 MiB semi-spaces, old generation grows 50 % between full collections)',
  '--heap-growing-percent=0': "--heap-growing-percent=0 (V8's own growth of the old generation: a factor of up to 4 it picks from its GC and allocation speeds)",
  '--semi-space-growth-factor=2': "--semi-space-growth-factor=2 (Node's default young generation: grows to 16 MiB semi-spaces; old generation as shipped)",
  '--max-semi-space-size=4': '--max-semi-space-size=4 (grows to 4 MiB semi-spaces; old generation as shipped)',
};

async function wrapUnderLoad(flags, calls) {
  const { child } = spawnWrap('mcpw-mem-', () => flags);
  try {
    const client = await open(child);
    await new Promise((r) => setTimeout(r, 500));
    const idle = procStatusMb(child.pid, 'VmRSS');
    const idleAnon = procStatusMb(child.pid, 'RssAnon');
    for (let i = 0; i < 1000; i++) await client.call('echo', { text: 'warm' });
    const run = await client.run(calls, 16);
    const peakCalls = procStatusMb(child.pid, 'VmHWM');
    for (let i = 0; i < 10; i++) await client.call('blob', { bytes: 1024 * 1024 });
    const peak = procStatusMb(child.pid, 'VmHWM');
    // What the old generation's growth costs where the proxy allocates most: a 1 MiB result with ~1,000 findings.
    const dirty = [];
    for (let i = 0; i < 11; i++) {
      const s = performance.now();
      await client.call('blob', { bytes: 1024 * 1024, dirty: true });
      if (i > 0) dirty.push(performance.now() - s);
    }
    return { flags: LABELS[flags.join(' ')] ?? flags.join(' '), idle, idleAnon, peakCalls, peak, rate: run.rate, dirtyMs: median(dirty) };
  } finally {
    child.stdin.end();
    child.kill();
  }
}

const SERVE_LABELS = {
  '': 'none (as shipped: 1 MiB semi-spaces, old generation grows 100 % between full collections)',
  '--heap-growing-percent=50': '--heap-growing-percent=50 (as wrap)',
  '--optimize-for-size': "--optimize-for-size (V8's memory-saving mode)",
  '--no-concurrent-recompilation': '--no-concurrent-recompilation (V8 optimizes on the main thread instead of a helper thread of its own)',
  '--max-opt=2': "--max-opt=2 (no optimizing compiler: V8's baseline code only)",
};

/**
 * `serve` (full pipeline, one stdio child per session) under the lean HTTP generator: 12,000 calls with 16 in
 * flight; its peak RSS (children not counted) and calls/s.
 */
async function serveUnderLoad(flags) {
  const { gw, url } = await spawnServe('mcpw-mem-serve-', () => flags);
  try {
    const r = await httpLoad(url, { warm: 500, calls: 12_000, seconds: 1 });
    return { flags: flags.join(' '), peak: procStatusMb(gw.pid, 'VmHWM'), rate: r.rate };
  } finally {
    gw.kill('SIGKILL');
  }
}

/**
 * Resident MB of a process that appended `events` audit events one commit each (as `wrap` does one call at a time),
 * with the audit writer's page cache and with the one better-sqlite3 sets (cache_size -16000: 16 MB).
 */
function auditCache(cacheKib, events = 40_000) {
  const code = `
    const { mkdtempSync, rmSync } = require('node:fs'); const os = require('node:os'); const path = require('node:path');
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
      store.close();
      rmSync(dir, { recursive: true, force: true });
    })();`;
  return JSON.parse(execFileSync(NODE, ['-e', code], { cwd: ROOT, encoding: 'utf8' }));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Each set of flags runs `rounds` times, the sets alternating (this kind of machine drifts within minutes); every
 * figure is the median of its rounds.
 */
export async function memoryExperiment({ calls = 20_000, rounds = 3 } = {}) {
  const empty = loaded('');
  const deps = DEPENDENCIES.map((d) => ({ name: d, mb: loaded(d) - empty }));
  const sets = [[], ['--heap-growing-percent=0'], ['--semi-space-growth-factor=2'], ['--max-semi-space-size=4']];
  const runs = sets.map(() => []);
  for (let r = 0; r < rounds; r++) for (let i = 0; i < sets.length; i++) runs[i].push(await wrapUnderLoad(sets[i], calls));
  const wrap = runs.map((rs) => {
    const out = { flags: rs[0].flags, rounds: rs.length };
    for (const k of ['idle', 'idleAnon', 'peakCalls', 'peak', 'rate', 'dirtyMs']) out[k] = median(rs.map((x) => x[k]));
    return out;
  });
  const serveSets = [[], ['--heap-growing-percent=50'], ['--optimize-for-size'], ['--no-concurrent-recompilation'], ['--max-opt=2']];
  const serveRuns = serveSets.map(() => []);
  for (let r = 0; r < rounds; r++) for (let i = 0; i < serveSets.length; i++) serveRuns[i].push(await serveUnderLoad(serveSets[i]));
  const serve = serveRuns.map((rs) => ({ flags: SERVE_LABELS[rs[0].flags] ?? rs[0].flags, rounds: rs.length, peak: median(rs.map((x) => x.peak)), rate: median(rs.map((x) => x.rate)) }));
  const cache = { writer: auditCache(undefined), driverDefault: auditCache(16_000) };
  return { empty, deps, wrap, serve, cache };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  memoryExperiment().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
