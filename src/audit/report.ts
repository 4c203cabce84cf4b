/**
 * `audit report --out F.html`: one self-contained page for a reviewer. Charts are drawn by Chart.js, inlined.
 * The page's Content-Security-Policy allows exactly its own inline script and style (by hash), nothing else:
 * no network, no inline handlers. Everything from the audit trail travels in a JSON block that is never
 * executed and is put on the page as text, never as markup — a tool name carrying HTML or script stays text.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packagePath } from '../config/paths.js';
import { VERSION } from '../version.js';
import { terminalSafe } from './escape.js';
import { eachEvent, eventSpan, scorecard, type Filters } from './read.js';
import type { AuditStore } from './store.js';
import type { VerifyResult } from './verify.js';

const require = createRequire(import.meta.url);

function sha256b64(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('base64');
}

/** JSON that cannot end the script element it sits in. */
function embedJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function top(counts: Map<string, number>, n: number): { labels: string[]; values: number[] } {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { labels: sorted.map(([k]) => k), values: sorted.map(([, v]) => v) };
}

function bump(m: Map<string, number>, k: string, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function verificationSummary(v: VerifyResult): string {
  if (v.ok) {
    const what = [v.signaturesChecked ? 'signatures' : 'no signatures (no key)', v.macChecked ? 'MACs' : 'no MACs (no key)', v.anchored ? `${plural(v.anchored, 'anchored checkpoint')}` : 'no anchor file'].join(', ');
    const span = v.events === 0 ? (v.base > 0 ? `no events after #${v.base} (pruned)` : 'no events yet') : `chain intact from #${v.base + 1} to #${v.head}`;
    // With the public key alone, what comes after the last signed checkpoint has only the public chain behind it:
    // anyone who can write the database can append events and recompute it.
    const unsigned = v.signaturesChecked && !v.macChecked && v.head > v.signedThrough ? ` Events #${v.signedThrough + 1} to #${v.head} come after the last signed checkpoint: with the public key alone nothing vouches for them (the signing key checks their MACs).` : '';
    return `Verified: ${plural(v.events, 'event')}, ${span}; ${plural(v.checkpoints, 'checkpoint')}; checked ${what}.${unsigned}`;
  }
  const f = v.firstBad!;
  return `VERIFICATION FAILED at event #${f.seq}${f.id ? ` (${f.id})` : ''}: ${f.message}${v.problems.length > 1 ? ` (+${v.problems.length - 1} more problems)` : ''}`;
}

/** The latest incidents the report lists. */
const INCIDENTS = 50;

export function buildReportData(store: AuditStore, verify: VerifyResult, filters: Filters = {}): Record<string, unknown> {
  // A trail proxies are writing to: the report counts the events the verification read, so its counts, charts and
  // verdict describe one trail, not the trail at three moments.
  const f: Filters = Number.isSafeInteger(verify.read) ? { ...filters, throughSeq: Math.min(verify.read, filters.throughSeq ?? Infinity) } : filters;
  // The span first (it sets the bucket size), then one pass over the rows for the counts, one row in memory at a time.
  const { count, from, to } = eventSpan(store, f);
  const span = from && to ? Date.parse(to) - Date.parse(from) : 0;
  const bucketMs = span <= 2 * 3600e3 ? 60e3 : span <= 3 * 86400e3 ? 3600e3 : 86400e3;
  // A time that is not one (a rebuilt table can hold anything) gets a bucket of its own rather than stop the report.
  const label = (t: number) => (Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? new Date(Math.floor(t / bucketMs) * bucketMs).toISOString().slice(0, bucketMs >= 86400e3 ? 10 : 16).replace('T', ' ') : '(no valid time)');
  const perServer = new Map<string, Map<string, number>>();
  const buckets: string[] = [];
  const denials = new Map<string, number>();
  const redactions = new Map<string, number>();
  const tools = new Map<string, number>();
  const principals = new Map<string, number>();
  const incidents: string[][] = [];
  for (const e of eachEvent(store, f, 'asc', ['ts', 'event', 'principal_sub', 'redactions', 'server', 'target', 'method', 'status', 'decision', 'rule', 'reason'])) {
    if (e.principal_sub) bump(principals, e.principal_sub);
    if (e.redactions) {
      try {
        for (const [rule, n] of Object.entries(JSON.parse(e.redactions) as Record<string, number>)) bump(redactions, rule, Number(n) || 0);
      } catch {
        /* malformed: skip */
      }
    }
    if (e.event !== 'exchange') continue;
    const b = label(Date.parse(e.ts));
    if (buckets[buckets.length - 1] !== b) buckets.push(b);
    const server = e.server ?? '?';
    let m = perServer.get(server);
    if (!m) perServer.set(server, (m = new Map()));
    bump(m, b);
    bump(tools, `${server} / ${e.target ?? e.method ?? '?'}`);
    if (e.status === 'denied' || (e.decision ?? '').endsWith('deny')) bump(denials, e.rule ?? '(default)');
    if (e.status !== 'ok') {
      incidents.push([e.ts, server, e.target ?? e.method ?? '', e.status ?? '', e.rule ?? '', e.reason ?? '']);
      if (incidents.length > 2 * INCIDENTS) incidents.splice(0, incidents.length - INCIDENTS);
    }
  }
  const topServers = [...perServer].sort((a, b) => [...b[1].values()].reduce((x, y) => x + y, 0) - [...a[1].values()].reduce((x, y) => x + y, 0)).slice(0, 8);
  return {
    version: VERSION,
    generated: new Date().toISOString(),
    database: store.file,
    events: count,
    from,
    to,
    verify: { ok: verify.ok, summary: verificationSummary(verify) },
    callsOverTime: { labels: buckets, datasets: topServers.map(([server, m]) => ({ label: server, data: buckets.map((b) => m.get(b) ?? 0) })) },
    denials: top(denials, 15),
    redactions: top(redactions, 15),
    tools: top(tools, 15),
    principals: top(principals, 15),
    scorecard: scorecard(store, f).map((r) => [r.server, r.tool, r.calls, (r.errorRate * 100).toFixed(1), (r.timeoutRate * 100).toFixed(1), r.denials, r.p50.toFixed(1), r.p95.toFixed(1), Math.round(r.meanBytes), Math.round(r.meanTokens)]),
    incidents: incidents.slice(-INCIDENTS).reverse().map((row) => row.map((c) => terminalSafe(c).slice(0, 300))),
  };
}

export function renderReport(data: Record<string, unknown>): string {
  const template = readFileSync(packagePath('audit', 'report', 'template.html'), 'utf8');
  const style = readFileSync(packagePath('audit', 'report', 'style.css'), 'utf8');
  const app = readFileSync(packagePath('audit', 'report', 'app.js'), 'utf8');
  const chartjs = readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8').replace(/<\/script/gi, '<\\/script');
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${sha256b64(chartjs)}' 'sha256-${sha256b64(app)}'`,
    `style-src 'sha256-${sha256b64(style)}'`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return template
    .replace('{{CSP}}', () => csp)
    .replace('{{STYLE}}', () => style)
    .replace('{{DATA}}', () => embedJson(data))
    .replace('{{CHARTJS}}', () => chartjs)
    .replace('{{APP}}', () => app);
}
