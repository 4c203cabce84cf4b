/**
 * `wrap`'s throughput with 16 calls in flight as a share of the direct lane, and where the machine's CPU goes.
 *
 * Measured in back-to-back pairs (the direct lane, then `wrap` with every stage on), three times, driven by the SDK
 * client like the lane table, with longer runs than the lane table's. Every relay run here follows a direct run, and
 * every share is taken against the median of all those direct runs. For each run the CPU time each process spent
 * per call is read from /proc: the client (this process), the relay and the server.
 *
 * Then the experiment that says what would move the share: a model proxy (bench/pipe-relay.mjs --burn-us N) that
 * spends a known amount of CPU per call and does nothing else, run at several amounts; its share of the direct lane
 * at each amount is the budget a stdio proxy has on this machine.
 *
 * Also usable alone: `node bench/share.mjs [--quick]` prints JSON.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childOf, cpuUs, echoInFlight, withStdioClient } from './common.mjs';
import { benchHome, CLI, NODE, ROOT, UPSTREAM } from './load-stdio.mjs';

/**
 * One lane: warm-up, then `calls` small calls with 16 in flight. Returns calls/s and the CPU µs per call of the
 * client, the process the client started, and that process's child (the server behind a relay).
 */
function lane(command, args, { calls, warm, env }) {
  return withStdioClient(command, args, env, async (client, first) => {
    const second = childOf(first);
    for (let i = 0; i < warm; i++) await client.callTool({ name: 'echo', arguments: { text: 'warm' } });
    const c0 = process.cpuUsage();
    const f0 = cpuUs(first);
    const s0 = second ? cpuUs(second) : NaN;
    const secs = await echoInFlight(client, calls);
    const c = process.cpuUsage(c0);
    const firstUs = (cpuUs(first) - f0) / calls;
    const secondUs = second ? (cpuUs(second) - s0) / calls : NaN;
    // Through a relay the server is the relay's child; directly, the server is the process the client started.
    return { rate: calls / secs, clientUs: (c.user + c.system) / calls, relayUs: second ? firstUs : NaN, serverUs: second ? secondUs : firstUs };
  });
}

export async function shareBench({ quick = false } = {}) {
  const opts = { calls: quick ? 4000 : 30_000, warm: quick ? 300 : 3000 };
  const home = benchHome('mcpw-share-', (tmp) => `audit: { db: ${JSON.stringify(path.join(tmp, 'audit.db'))} }\n`);
  const env = { ...home.env };
  const pairs = [];
  for (let r = 0; r < 3; r++) {
    const direct = await lane(NODE, [UPSTREAM, 'stdio'], { ...opts, env });
    const wrap = await lane(NODE, [CLI, 'wrap', '--config', home.cfg, '--', NODE, UPSTREAM, 'stdio'], { ...opts, env });
    pairs.push({ direct, wrap });
    process.stderr.write(`  pair ${r + 1}: direct ${direct.rate.toFixed(0)}/s, wrap ${wrap.rate.toFixed(0)}/s; wrap ${wrap.relayUs.toFixed(1)} µs CPU per call\n`);
  }
  // The same with stages taken away: what the CPU per call is without the audit trail, and without redaction too.
  const ablation = [];
  for (const [label, yaml] of [
    ['policy only (redaction and audit off)', 'audit: { enabled: false }\nredaction: false\n'],
    ['policy + redaction (audit off)', 'audit: { enabled: false }\n'],
  ]) {
    const cfg = path.join(home.tmp, `ablation-${ablation.length}.yaml`);
    writeFileSync(cfg, yaml);
    const direct = await lane(NODE, [UPSTREAM, 'stdio'], { ...opts, env });
    const wrap = await lane(NODE, [CLI, 'wrap', '--config', cfg, '--', NODE, UPSTREAM, 'stdio'], { ...opts, env });
    ablation.push({ label, direct, wrap });
    process.stderr.write(`  wrap, ${label}: ${wrap.rate.toFixed(0)}/s (direct ${direct.rate.toFixed(0)}/s); ${wrap.relayUs.toFixed(1)} µs CPU per call\n`);
  }
  // The budget: a model proxy spending a known CPU time per call, each run after a direct run of its own.
  const budget = [];
  for (const burnUs of quick ? [0, 30] : [0, 10, 20, 30, 45, 60]) {
    const direct = await lane(NODE, [UPSTREAM, 'stdio'], { ...opts, env });
    const model = await lane(NODE, [path.join(ROOT, 'bench/pipe-relay.mjs'), '--burn-us', String(burnUs), '--', NODE, UPSTREAM, 'stdio'], { ...opts, env });
    budget.push({ burnUs, direct, model });
    process.stderr.write(`  model proxy, ${burnUs} µs burnt per call: ${model.rate.toFixed(0)}/s (direct ${direct.rate.toFixed(0)}/s); ${model.relayUs.toFixed(1)} µs CPU per call\n`);
  }
  // The direct lane's rate jumps between runs here (from about 45,000 to 80,000 calls/s on one 2-core VM, seconds
  // apart) far more than a relay's, so every share is taken against the median of all the direct runs.
  const directs = [...pairs, ...ablation, ...budget].map((x) => x.direct.rate).sort((a, b) => a - b);
  const direct = directs[Math.floor(directs.length / 2)];
  for (const x of [...pairs, ...ablation]) x.share = x.wrap.rate / direct;
  for (const b of budget) b.share = b.model.rate / direct;
  const wrapMedian = pairs.map((p) => p.wrap).sort((a, b) => a.rate - b.rate)[1];
  return { calls: opts.calls, direct, directs, pairs, wrap: wrapMedian, share: wrapMedian.rate / direct, ablation, budget };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await shareBench({ quick: process.argv.includes('--quick') });
  const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : undefined;
  if (out) writeFileSync(out, JSON.stringify(r, null, 2));
  else console.log(JSON.stringify(r, null, 2));
}
