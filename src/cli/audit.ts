/**
 * `mcp-warden audit tail | query | export | verify | stats | report | prune | key` — all take --db F (default:
 * the state directory's audit.db). Output that shows server-controlled text escapes it for the terminal.
 */
import { progress } from './progress.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { auditConfig, defaultAuditDb } from '../audit/setup.js';
import { canonicalJson, type StoredEvent } from '../audit/chain.js';
import { argsHash } from '../audit/stage.js';
import { exactNumbers, parseFrame } from '../protocol/frame.js';
import { terminalSafe } from '../audit/escape.js';
import { loadPublicKey, parsePrivateKey } from '../audit/keys.js';
import { countEvents, csvHeader, csvRow, eachEvent, exportRecord, normalizeTime, ocsfRecord, query, scorecard, typedRow, type Filters } from '../audit/read.js';
import { buildReportData, renderReport, verificationSummary } from '../audit/report.js';
import { AuditStore } from '../audit/store.js';
import { verifyStore } from '../audit/verify.js';
import { wholeNumber } from './args.js';
import { chunked, whenStdoutCloses, writeAll, writeOutput } from './stdout.js';
import { findConfig } from '../config/config.js';
import { UsageError, WardenError } from '../errors.js';

interface DbOpts {
  db?: string;
  config?: string;
}

/** The database: --db, else the config's audit.db, else the default path. */
function dbPath(o: DbOpts): string {
  if (o.db) return path.resolve(o.db);
  try {
    const { config } = findConfig(o.config);
    return auditConfig(config.raw['audit'], config.file ? path.dirname(config.file) : undefined).db;
  } catch {
    return defaultAuditDb();
  }
}

/** The signing key: the config's audit.signing_key when it configures one, else the file next to the database. */
function keyPath(o: DbOpts, db: string): string {
  try {
    const { config } = findConfig(o.config);
    const a = config.raw['audit'] as Record<string, unknown> | undefined;
    if (a && typeof a['signing_key'] === 'string') return auditConfig(a, config.file ? path.dirname(config.file) : undefined, o.db).signingKey;
  } catch {
    /* no usable config: the default next to the database */
  }
  return path.join(path.dirname(db), 'audit-signing.key');
}

function openRead(o: DbOpts): AuditStore {
  const db = dbPath(o);
  if (!existsSync(db)) throw new UsageError(`${db}: no audit database here (use --db)`);
  return new AuditStore(db, { readonly: true });
}

function filtersOf(o: Record<string, unknown>): Filters {
  const f: Filters = {};
  for (const k of ['since', 'until', 'principal', 'server', 'tool', 'decision', 'status', 'event'] as const) if (typeof o[k] === 'string') f[k] = o[k] as string;
  if (typeof o['limit'] === 'number') f.limit = o['limit'];
  for (const k of ['since', 'until'] as const) {
    try {
      if (f[k]) normalizeTime(f[k]);
    } catch (e) {
      throw new UsageError(`--${k}: ${(e as Error).message}`);
    }
  }
  return f;
}

const TABLE_COLS: [string, (e: StoredEvent) => string][] = [
  ['seq', (e) => String(e.seq)],
  ['time', (e) => (e.ts ?? '').replace('T', ' ').slice(0, 23)],
  ['event', (e) => e.event ?? ''],
  ['server', (e) => e.server ?? ''],
  ['target', (e) => e.target ?? e.method ?? ''],
  ['principal', (e) => e.principal_sub ?? ''],
  ['decision', (e) => e.decision ?? ''],
  ['status', (e) => e.status ?? ''],
  ['ms', (e) => (e.latency_ms === null ? '' : e.latency_ms.toFixed(1))],
  ['rule/reason', (e) => [e.rule, e.reason].filter(Boolean).join(': ')],
];

/** The columns the table shows, the only ones its two passes read. */
const TABLE_READS = ['ts', 'event', 'server', 'target', 'method', 'principal_sub', 'decision', 'status', 'latency_ms', 'rule', 'reason'] as const;

function tableLine(e: StoredEvent): string {
  return TABLE_COLS.map(([, f]) => terminalSafe(f(e))).join('  ');
}

/** Prints the events matching `f`; a table takes two passes (its column widths, then the rows), never all rows in memory. */
async function printRows(store: AuditStore, f: Filters, format: string): Promise<void> {
  if (format === 'json') return writeAll(chunked(map(eachEvent(store, f), (e) => JSON.stringify(exportRecord(e)))));
  if (format === 'csv') return writeAll(chunked(then([csvHeader()], map(eachEvent(store, f), csvRow))));
  const widths = TABLE_COLS.map(([h]) => h.length);
  for (const e of eachEvent(store, f, 'asc', TABLE_READS)) TABLE_COLS.forEach(([, col], i) => (widths[i] = Math.min(40, Math.max(widths[i]!, terminalSafe(col(e)).length))));
  const head = TABLE_COLS.map(([h], i) => h.padEnd(widths[i]!)).join('  ');
  const line = (e: StoredEvent) =>
    TABLE_COLS.map(([, col], i) => {
      const v = terminalSafe(col(e));
      return i === TABLE_COLS.length - 1 ? v : v.slice(0, widths[i]).padEnd(widths[i]!);
    }).join('  ');
  return writeAll(chunked(then([head], map(eachEvent(store, f, 'asc', TABLE_READS), line))));
}

function* map<T, U>(items: Iterable<T>, f: (x: T) => U): Generator<U> {
  for (const x of items) yield f(x);
}

/** `first`, then `rest`, lazily (spreading `rest` into an array would hold every row). */
function* then<T>(first: Iterable<T>, rest: Iterable<T>): Generator<T> {
  yield* first;
  yield* rest;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('read, verify, export and report the audit trail');
  const withDb = (c: Command) => c.option('--db <file>', 'audit database').option('--config <file>', 'config file (for audit.db and the signing key)');
  const withFilters = (c: Command) =>
    c
      .option('--since <time>', 'RFC 3339 time, date, or relative (24h, 7d)')
      .option('--until <time>', 'RFC 3339 time, date, or relative')
      .option('--principal <sub>')
      .option('--server <name>')
      .option('--tool <name>')
      .option('--decision <effect>', 'allow | deny | ask')
      .option('--status <status>', 'ok | error | denied | timeout | cancelled | failed')
      .option('--event <kind>', 'exchange | notification | auth_failure | …');

  withDb(audit.command('tail'))
    .description('the latest events; -f follows new ones')
    .option('-n, --lines <n>', 'how many', wholeNumber(), 20)
    .option('-f, --follow', 'keep printing new events')
    .option('--format <f>', 'table | json', 'table')
    .action(async (o: DbOpts & { lines: number; follow?: boolean; format: string }) => {
      if (!['table', 'json'].includes(o.format)) throw new UsageError('--format must be table or json');
      const store = openRead(o);
      const rows = query(store, { limit: o.lines }, 'desc').reverse();
      for (const e of rows) process.stdout.write(`${o.format === 'json' ? JSON.stringify(exportRecord(e)) : tableLine(e)}\n`);
      if (!o.follow) return store.close();
      let last = rows[rows.length - 1]?.seq ?? store.head().seq;
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          for (const e of store.iterate(last)) {
            typedRow(e as unknown as Record<string, unknown>);
            process.stdout.write(`${o.format === 'json' ? JSON.stringify(exportRecord(e)) : tableLine(e)}\n`);
            last = e.seq;
          }
        }, 500);
        const stop = () => {
          clearInterval(t);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        whenStdoutCloses(stop);
      });
      store.close();
    });

  withFilters(withDb(audit.command('query')))
    .description('events matching filters')
    .option('--format <f>', 'table | json | csv', 'table')
    .option('--limit <n>', 'at most this many', wholeNumber())
    .action(async (o: DbOpts & Record<string, unknown> & { format: string }) => {
      if (!['table', 'json', 'csv'].includes(o.format)) throw new UsageError('--format must be table, json or csv');
      const store = openRead(o);
      await printRows(store, filtersOf(o), o.format);
      store.close();
    });

  withFilters(withDb(audit.command('export')))
    .description('all events for a SIEM: JSONL (SPEC §7 fields), CSV, or OCSF API Activity (class 6003)')
    .requiredOption('--format <f>', 'jsonl | csv | ocsf')
    .option('--out <file>', 'write here instead of stdout')
    .action(async (o: DbOpts & Record<string, unknown> & { format: string; out?: string }) => {
      if (!['jsonl', 'csv', 'ocsf'].includes(o.format)) throw new UsageError('--format must be jsonl, csv or ocsf');
      const store = openRead(o);
      const f = filtersOf(o);
      const bar = progress('exporting', countEvents(store, f));
      const line = o.format === 'jsonl' ? (e: StoredEvent) => JSON.stringify(exportRecord(e)) : o.format === 'csv' ? csvRow : (e: StoredEvent) => JSON.stringify(ocsfRecord(e));
      let n = 0;
      const lines = map(eachEvent(store, f), (e) => {
        if (++n % 1000 === 0) bar.tick(1000);
        return line(e);
      });
      await writeAll(chunked(o.format === 'csv' ? then([csvHeader()], lines) : lines), o.out);
      bar.done();
      store.close();
    });

  withDb(audit.command('verify'))
    .description('check the chain, MACs, signatures, the anchor file and an off-machine copy; exit 1 naming the first bad event')
    .option('--anchor <file>', 'anchor file (default: the configured one, if it exists)')
    .option('--key <file>', 'signing key (default: the configured one); checks MACs and signatures')
    .option('--pubkey <file>', 'public key only (PEM or base64): checks signatures, not MACs')
    .option('--copy <file>', 'events as received off the machine (newline-delimited JSON), compared event by event')
    .option('--format <f>', 'text | json', 'text')
    .action((o: DbOpts & { anchor?: string; key?: string; pubkey?: string; copy?: string; format: string }) => {
      if (!['text', 'json'].includes(o.format)) throw new UsageError('--format must be text or json');
      const store = openRead(o);
      const ac = auditConfig(undefined, undefined, store.file);
      let key;
      const kp = o.key ?? keyPath(o, store.file);
      if (!o.pubkey && existsSync(kp)) key = parsePrivateKey(readFileSync(kp, 'utf8'), kp);
      const publicKey = o.pubkey ? loadPublicKey(readFileSync(o.pubkey, 'utf8'), o.pubkey) : undefined;
      const anchor = o.anchor ?? (existsSync(ac.anchor) ? ac.anchor : undefined);
      const r = verifyStore(store, { key, publicKey, anchorFile: anchor, copyFile: o.copy });
      store.close();
      if (o.format === 'json') process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else {
        process.stdout.write(`${terminalSafe(verificationSummary(r))}\n`);
        for (const p of r.problems.slice(1, 20)) process.stdout.write(`  also at #${p.seq}: ${terminalSafe(p.message)}\n`);
        if (!key && !publicKey) process.stdout.write('  note: no key was available, so signatures and MACs were not checked (use --key or --pubkey)\n');
      }
      process.exitCode = r.ok ? 0 : 1;
    });

  withFilters(withDb(audit.command('stats')))
    .description('the scorecard per server and tool: calls, error and timeout rate, denials, p50/p95 latency, mean size and ≈ tokens')
    .option('--format <f>', 'table | json | csv', 'table')
    .action((o: DbOpts & Record<string, unknown> & { format: string }) => {
      if (!['table', 'json', 'csv'].includes(o.format)) throw new UsageError('--format must be table, json or csv');
      const store = openRead(o);
      const rows = scorecard(store, filtersOf(o));
      store.close();
      if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      const head = ['server', 'tool', 'calls', 'errors%', 'timeouts%', 'denials', 'p50ms', 'p95ms', 'mean_bytes', 'tokens'];
      const lines = rows.map((r) => [r.server, r.tool, r.calls, (r.errorRate * 100).toFixed(1), (r.timeoutRate * 100).toFixed(1), r.denials, r.p50.toFixed(1), r.p95.toFixed(1), Math.round(r.meanBytes), Math.round(r.meanTokens)].map((v) => terminalSafe(String(v))));
      if (o.format === 'csv') {
        process.stdout.write(`${head.join(',')}\n${lines.map((l) => l.map((c) => (/[",\n]/.test(c) || /^[=+\-@]/.test(c) ? `"'${c.replace(/"/g, '""')}"` : c)).join(',')).join('\n')}\n`);
        return;
      }
      const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
      process.stdout.write(`${head.map((h, i) => h.padEnd(widths[i]!)).join('  ')}\n`);
      for (const l of lines) process.stdout.write(`${l.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
    });

  withFilters(withDb(audit.command('report')))
    .description('one self-contained HTML page with charts, the scorecard and the verification result')
    .requiredOption('--out <file>', 'the HTML file to write')
    .action((o: DbOpts & Record<string, unknown> & { out: string }) => {
      const store = openRead(o);
      const kp = keyPath(o, store.file);
      const key = existsSync(kp) ? parsePrivateKey(readFileSync(kp, 'utf8'), kp) : undefined;
      const ac = auditConfig(undefined, undefined, store.file);
      const bar = progress('verifying the audit trail');
      const v = verifyStore(store, { key, anchorFile: existsSync(ac.anchor) ? ac.anchor : undefined });
      bar.phase('building the report');
      const html = renderReport(buildReportData(store, v, filtersOf(o)));
      bar.done();
      store.close();
      writeOutput(o.out, html);
      process.stdout.write(`${path.resolve(o.out)}\n`);
    });

  withDb(audit.command('prune'))
    .description('delete events before a time; what remains stays verifiable from a signed base')
    .option('--before <time>', 'RFC 3339 time, date, or relative (90d)')
    .option('--sign-base', 'remove nothing: sign the prune record of the base the trail has (pruned by an earlier mcp-warden, which did not sign one)')
    .action((o: DbOpts & { before?: string; signBase?: boolean }) => {
      if ((o.before === undefined) === (o.signBase === undefined)) throw new UsageError('give --before <time> (remove events) or --sign-base (vouch for the base an earlier prune left), one of them');
      const db = dbPath(o);
      if (!existsSync(db)) throw new UsageError(`${db}: no audit database here`);
      const kp = keyPath(o, db);
      if (!existsSync(kp)) throw new UsageError(`${kp}: the signing key is needed to prune (it signs the new base)`);
      if (o.signBase) {
        const store = new AuditStore(db);
        const base = store.signBase(parsePrivateKey(readFileSync(kp, 'utf8'), kp));
        store.close();
        process.stdout.write(base > 0 ? `signed the prune record of base #${base}: the events before it count as removed by the key holder\n` : 'this trail has no prune base: nothing to sign\n');
        return;
      }
      let before: string;
      try {
        before = normalizeTime(o.before!);
      } catch (e) {
        throw new UsageError(`--before: ${(e as Error).message}`);
      }
      // Events are stamped with the time they are written: a time to come would remove them all, the ones being
      // written now included. A typo in the year should not empty the trail.
      if (Date.parse(before) > Date.now()) throw new UsageError(`--before: ${before} is in the future; nothing was removed (to remove everything written until now, use --before 0s)`);
      const key = parsePrivateKey(readFileSync(kp, 'utf8'), kp);
      const store = new AuditStore(db);
      const r = store.prune(before, key);
      store.close();
      process.stdout.write(`removed ${r.removed} events; the chain now starts after #${r.base.seq}\n`);
    });

  withDb(audit.command('args-hash'))
    .description("the args_sha256 an event records for these arguments (a tool call's `arguments` as JSON text, or - to read them from stdin); it is keyed with the audit signing key, so it is computed where the key is")
    .argument('<json>', 'the arguments object, e.g. \'{"path":"/srv/a.txt"}\'')
    .action((json: string, o: DbOpts) => {
      const text = json === '-' ? readFileSync(0, 'utf8') : json;
      try {
        JSON.parse(text);
      } catch {
        throw new UsageError('args-hash: the arguments are not JSON text');
      }
      // Parsed as a request carrying them, so numbers past a double's precision count as the caller wrote them.
      const parsed = parseFrame(`{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"arguments":${text}}}`, { maxDepth: 1000 });
      if (!parsed.ok) throw new UsageError(`args-hash: ${parsed.message}`);
      const frame = parsed.frames[0]!;
      const args = ((frame.message as { params: Record<string, unknown> }).params)['arguments'];
      const db = dbPath(o);
      const kp = keyPath(o, db);
      if (!existsSync(kp)) throw new WardenError(`${kp}: no signing key here (use --db or --config)`);
      const k = parsePrivateKey(readFileSync(kp, 'utf8'), kp);
      process.stdout.write(`${argsHash(k.argsKey, exactNumbers(frame, canonicalJson(args)))}\n`);
    });

  withDb(audit.command('key'))
    .description('print the public key of the audit signing key (keep a copy off the machine for `verify --pubkey`)')
    .action((o: DbOpts) => {
      const db = dbPath(o);
      const kp = keyPath(o, db);
      if (!existsSync(kp)) throw new WardenError(`${kp}: no signing key yet (it is created with the first audit event)`);
      const k = parsePrivateKey(readFileSync(kp, 'utf8'), kp);
      process.stdout.write(`${k.publicRaw}\n`);
    });
}
