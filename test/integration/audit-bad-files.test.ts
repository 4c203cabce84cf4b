/**
 * What the proxy and the audit commands do with a database file that is not a usable audit trail: another
 * program's SQLite database, a file that is not SQLite, an empty database, one with a damaged page, and a log
 * checked with the wrong signing key. Each gets its reason in words (exit 2, or 1 from `audit verify` when the log
 * cannot be vouched for), never a stack trace; and nothing of ours is written into someone else's database.
 * Also: a reader that stops early (`audit export | head -1`) ends a command quietly, and the commands' options take
 * only what they mean (a count, a time, a file that can be written), saying which option is wrong otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadOrCreateKey } from '../../src/audit/keys.js';
import { AuditStore } from '../../src/audit/store.js';
import { blankEvent } from '../../src/audit/writer.js';
import { CLI, isolatedEnv, NODE, ROOT, tmpDir } from '../helpers/cli.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const PAGE = 4096;

/** `n` events appended in batches of 100, a checkpoint, and everything moved from the WAL into the file. */
function makeLog(n: number): { dir: string; db: string; keyFile: string } {
  const dir = tmpDir('mcpw-badfiles-');
  const db = path.join(dir, 'audit.db');
  const keyFile = path.join(dir, 'audit-signing.key');
  const key = loadOrCreateKey(keyFile);
  const store = new AuditStore(db);
  for (let done = 0; done < n; done += 100) {
    store.append(
      Array.from({ length: Math.min(100, n - done) }, (_, i) => ({ ...blankEvent('exchange'), server: 'files', method: 'tools/call', target: `tool_${done + i + 1}`, status: 'ok', reason: 'r'.repeat(100) })),
      key,
    );
  }
  store.checkpoint(key);
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  return { dir, db, keyFile };
}

function cli(args: string[], input?: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', input, env: isolatedEnv(env), timeout: 30_000, maxBuffer: 64 * 2 ** 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NO_STACK = /unexpected error|\n\s+at |node:internal/;

describe('wrap with an audit database it cannot use', () => {
  it("refuses another program's database, writes nothing into it and makes no signing key", () => {
    const dir = tmpDir('mcpw-foreign-');
    const db = path.join(dir, 'app.db');
    const foreign = new Database(db);
    foreign.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')");
    foreign.close();
    const before = readFileSync(db);
    const r = cli(['wrap', '--audit-db', db, '--', NODE, FAULT], '{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${db}: not an mcp-warden audit database (it holds "notes"); nothing was written to it`);
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(r.stdout).toBe(''); // nothing was answered: the proxy never started
    expect(readFileSync(db).equals(before)).toBe(true);
    expect(existsSync(`${db}-wal`)).toBe(false);
    expect(existsSync(path.join(dir, 'audit-signing.key'))).toBe(false);
  });

  it('refuses a file that is not SQLite and a directory, naming each', () => {
    const dir = tmpDir('mcpw-notdb-');
    const notDb = path.join(dir, 'audit.db');
    writeFileSync(notDb, 'these are my notes, not a database\n');
    const r = cli(['wrap', '--audit-db', notDb, '--', NODE, FAULT], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${notDb}: not an SQLite database`);
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(readFileSync(notDb, 'utf8')).toBe('these are my notes, not a database\n');
    const d = cli(['wrap', '--audit-db', dir, '--', NODE, FAULT], '');
    expect(d.code).toBe(2);
    expect(d.stderr).toContain(`${dir}: cannot create the audit database: EISDIR`);
    expect(d.stderr).not.toMatch(NO_STACK);
  });

  it('refuses an anchor file that cannot take checkpoints before anything is answered; a new one starts empty and verifies', () => {
    const dir = tmpDir('mcpw-anchor-');
    const db = path.join(dir, 'audit.db');
    mkdirSync(`${db}.anchor`);
    const r = cli(['wrap', '--audit-db', db, '--', NODE, FAULT], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${db}.anchor: cannot append to the audit anchor file (audit.anchor): illegal operation on a directory (EISDIR)`);
    expect(r.stdout).toBe('');
    const other = path.join(dir, 'fresh', 'audit.db');
    const ok = cli(['wrap', '--audit-db', other, '--', NODE, FAULT], '');
    expect(ok.code, ok.stderr).toBe(0);
    expect(statSync(`${other}.anchor`).mode & 0o777).toBe(0o600);
    const v = cli(['audit', 'verify', '--db', other]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });
});

describe('a signing key other users can read', () => {
  it('stops wrap before anything is answered, naming the mode; a key private to its owner or group is used', () => {
    const dir = tmpDir('mcpw-keymode-');
    const db = path.join(dir, 'audit.db');
    const first = cli(['wrap', '--audit-db', db, '--', NODE, FAULT], '');
    expect(first.code, first.stderr).toBe(0);
    const key = path.join(dir, 'audit-signing.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    chmodSync(key, 0o644);
    const r = cli(['wrap', '--audit-db', db, '--', NODE, FAULT], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${key}: the audit signing key is readable by every user of this machine (mode 0644), so anyone could sign a rewritten trail`);
    expect(r.stdout).toBe('');
    chmodSync(key, 0o602);
    expect(cli(['wrap', '--audit-db', db, '--', NODE, FAULT], '').stderr).toContain('writable by every user of this machine (mode 0602)');
    chmodSync(key, 0o640);
    const shared = cli(['wrap', '--audit-db', db, '--', NODE, FAULT], '');
    expect(shared.code, shared.stderr).toBe(0);
  });
});

describe('the audit commands on a file that is not an audit trail', () => {
  const dir = tmpDir('mcpw-notlog-');
  const files: [string, string, RegExp][] = [];
  const notDb = path.join(dir, 'notes.db');
  writeFileSync(notDb, 'plain text\n');
  files.push(['a text file', notDb, /not an SQLite database/]);
  const empty = path.join(dir, 'empty.db');
  writeFileSync(empty, '');
  files.push(['an empty file', empty, /an empty database, not an mcp-warden audit trail/]);
  const foreign = path.join(dir, 'app.db');
  const f = new Database(foreign);
  f.exec('CREATE TABLE events (x); CREATE TABLE meta (key TEXT, value TEXT)');
  f.close();
  files.push(["another program's database with tables named like ours", foreign, /not an mcp-warden audit database \(it holds "events", "meta" but no mcp-warden origin\)/]);

  it.each(files)('%s: every reading command exits 2 with the reason', (_label, file, reason) => {
    for (const args of [['verify'], ['tail'], ['query'], ['export', '--format', 'csv'], ['stats'], ['report', '--out', path.join(dir, 'r.html')]]) {
      const r = cli(['audit', ...args, '--db', file]);
      expect(r.code, `audit ${args[0]}`).toBe(2);
      expect(r.stderr).toContain(`${file}: `);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).not.toMatch(NO_STACK);
    }
  });
});

describe('a damaged audit database', () => {
  it('verify fails naming the last event it could read; the other commands give SQLite reason', () => {
    const log = makeLog(2000);
    // Overwrite one page in the middle of the events table (its header included) with a pattern.
    const fd = openSync(log.db, 'r+');
    writeSync(fd, Buffer.alloc(PAGE, 0xde), 0, PAGE, 40 * PAGE);
    closeSync(fd);
    const v = cli(['audit', 'verify', '--db', log.db, '--key', log.keyFile]);
    expect(v.code).toBe(1);
    const m = /^VERIFICATION FAILED at event #(\d+): the database cannot be read after event #(\d+): it is damaged \(SQLite: database disk image is malformed\)/.exec(v.stdout);
    expect(m, v.stdout + v.stderr).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]) + 1);
    expect(Number(m![2])).toBeGreaterThan(100);
    expect(Number(m![2])).toBeLessThan(2000);
    // The checkpoint signed the whole chain, so the unreadable part is also reported as missing from it.
    expect(v.stdout).toContain(`events after #${m![2]} are missing: database checkpoint #2000 signed a longer chain`);
    expect(v.stderr).not.toMatch(NO_STACK);
    const e = cli(['audit', 'export', '--format', 'jsonl', '--db', log.db]);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/^mcp-warden: the audit database could not be read \(SQLite: database disk image is malformed, SQLITE_CORRUPT\)/);
    expect(e.stderr).not.toMatch(NO_STACK);
  });
});

describe('a trail whose tables were rebuilt with values of other types', () => {
  it('verify names the events and checkpoints changed; every other command shows them instead of failing', () => {
    const log = makeLog(30);
    // Whoever can write the file can rebuild a table without STRICT and put any type in any column.
    const raw = new Database(log.db);
    const cols = 'seq INTEGER PRIMARY KEY, id, ts, event, session, principal_sub, client_id, issuer, server, method, target, decision, rule, reason, status, latency_ms, bytes_in, bytes_out, args, args_sha256, result_sha256, redactions, policy_version, extra, prev_hash, hash, mac';
    raw.exec(`CREATE TABLE e2 (${cols}); INSERT INTO e2 SELECT * FROM events; DROP TABLE events; ALTER TABLE e2 RENAME TO events`);
    raw.exec("UPDATE events SET target = X'00ff1b5b33316d', method = 42, latency_ms = 'fast', bytes_in = X'01', event = NULL, ts = NULL WHERE seq = 3");
    raw.exec("UPDATE events SET ts = 'not a time', redactions = '[1]', extra = 'null' WHERE seq = 4");
    raw.exec('CREATE TABLE c2 (seq, ts, head, key_id, note, signature); INSERT INTO c2 SELECT * FROM checkpoints; DROP TABLE checkpoints; ALTER TABLE c2 RENAME TO checkpoints');
    raw.exec("UPDATE checkpoints SET note = NULL, signature = 12, head = X'00'");
    raw.close();
    // The anchor file: a line that is JSON but not an object, and one of ours with fields of the wrong types.
    const anchor = path.join(log.dir, 'anchor');
    const origin = new AuditStore(log.db, { readonly: true }).origin;
    writeFileSync(anchor, `null
${JSON.stringify({ origin, seq: 30, ts: 1, head: null, key_id: [], note: {}, signature: 5 })}
`);

    const v = cli(['audit', 'verify', '--db', log.db, '--key', log.keyFile, '--anchor', anchor]);
    expect(v.code, v.stderr).toBe(1);
    expect(v.stdout).toMatch(/^VERIFICATION FAILED at event #3 \(.+\): event #3 was changed after it was written/);
    expect(v.stdout).toContain('database checkpoint #30 is malformed (a field is missing or of the wrong type)');
    expect(v.stdout).toContain('anchored checkpoint #30 is malformed');
    expect(v.stdout).toContain('the anchor file has a line that is not a JSON object');
    expect(v.stderr).not.toMatch(NO_STACK);

    for (const args of [['query'], ['query', '--format', 'json'], ['query', '--format', 'csv'], ['tail'], ['stats'], ['export', '--format', 'jsonl'], ['export', '--format', 'csv'], ['export', '--format', 'ocsf'], ['report', '--out', path.join(log.dir, 'r.html')]]) {
      const r = cli(['audit', ...args, '--db', log.db]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(NO_STACK);
    }
    // A blob is shown as SQLite writes one, its escape byte as text; a number where text belongs as its digits.
    const jsonl = cli(['audit', 'export', '--format', 'jsonl', '--db', log.db]).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonl[2]).toMatchObject({ seq: 3, target: "x'00ff1b5b33316d'", method: '42', latency_ms: null, bytes_in: null, event: null, ts: null });
    const table = cli(['audit', 'query', '--db', log.db]).stdout;
    expect(table).not.toContain('\x1b');
    expect(readFileSync(path.join(log.dir, 'r.html'), 'utf8')).toContain('VERIFICATION FAILED at event #3');
  });
});

describe('verify with another signing key', () => {
  it('says which key the log names, instead of calling every event rewritten', () => {
    const log = makeLog(30);
    const other = path.join(tmpDir('mcpw-otherkey-'), 'other.key');
    const otherId = loadOrCreateKey(other).keyId;
    const rightId = loadOrCreateKey(log.keyFile).keyId;
    const v = cli(['audit', 'verify', '--db', log.db, '--key', other]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`event #1's MAC does not match under the key given (key id ${otherId}), and the checkpoint that covers it names key id ${rightId}: it was written under another signing key (verify with that key), or rewritten`);
    expect(v.stdout).toContain(`database checkpoint #30 names key id ${rightId}, not the key given (${otherId})`);
    expect(v.stdout).not.toContain('rewritten without the signing key');
    // With the other key's public key alone (signatures only), the same words for the checkpoint.
    const pub = path.join(path.dirname(other), 'other.pub');
    writeFileSync(pub, loadOrCreateKey(other).publicKey.export({ format: 'pem', type: 'spki' }) as string);
    const p = cli(['audit', 'verify', '--db', log.db, '--pubkey', pub]);
    expect(p.code).toBe(1);
    expect(p.stdout).toContain(`database checkpoint #30 names key id ${rightId}, not the key given (${otherId})`);
    // The right key passes.
    expect(cli(['audit', 'verify', '--db', log.db, '--key', log.keyFile]).code).toBe(0);
  });
});

describe('a reader that stops early', () => {
  it('`audit export | head -1` and `audit tail -n 2000 | head -1` end quietly', () => {
    const log = makeLog(2000);
    for (const args of [['export', '--format', 'jsonl'], ['tail', '-n', '2000']]) {
      const r = spawnSync('bash', ['-c', `"$0" "$1" audit ${args.join(' ')} --db "$2" | head -1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`, NODE, CLI, log.db], { encoding: 'utf8', env: isolatedEnv(), timeout: 30_000 });
      expect(r.stdout.trim(), `audit ${args[0]}`).toBe('status=0');
      expect(r.stderr, `audit ${args[0]}`).toBe('');
    }
  });

  it('`audit tail -f | head -1` stops once it has something to print and nobody reads it', async () => {
    const log = makeLog(10);
    const child = spawn('bash', ['-c', `"$0" "$1" audit tail -f -n 1 --db "$2" | head -1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`, NODE, CLI, log.db], { env: isolatedEnv() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const ended = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // head has read its line and gone; new events give tail -f something to write.
    await new Promise((r) => setTimeout(r, 1500));
    const key = loadOrCreateKey(log.keyFile);
    const store = new AuditStore(log.db);
    store.append(Array.from({ length: 50 }, () => ({ ...blankEvent('exchange'), server: 'files', target: 'later' })), key);
    store.close();
    const code = await Promise.race([ended, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(out.trim()).toBe('status=0');
    expect(err).toBe('');
  });
});

describe('the options of the audit commands', () => {
  it('counts: -n 0 prints nothing, -n 1 the last event, --limit 2 two; a count that is not one is refused naming the option', () => {
    const log = makeLog(30);
    expect(cli(['audit', 'tail', '-n', '0', '--db', log.db])).toMatchObject({ code: 0, stdout: '' });
    const one = cli(['audit', 'tail', '-n', '1', '--format', 'json', '--db', log.db]);
    expect(one.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([30]);
    const two = cli(['audit', 'query', '--limit', '2', '--format', 'json', '--db', log.db]);
    expect(two.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2]);
    for (const [args, option] of [
      [['tail', '-n', 'abc'], "'-n, --lines <n>'"],
      [['query', '--limit', '-5'], "'--limit <n>'"],
      [['query', '--limit', '1.5'], "'--limit <n>'"],
    ] as const) {
      const r = cli(['audit', ...args, '--db', log.db]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`error: option ${option} argument`);
      expect(r.stdout).toBe('');
    }
    for (const args of [['stats', '--format', 'xml'], ['tail', '--format', 'xml'], ['verify', '--format', 'xml']]) {
      const r = cli(['audit', ...args, '--db', log.db]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^mcp-warden: --format must be /);
    }
  });

  it('a time without a zone is UTC, as tail prints it, whatever the machine\'s zone; a date that does not exist is refused', () => {
    const log = makeLog(2000);
    const db = new Database(log.db, { readonly: true });
    const ts = (db.prepare('SELECT ts FROM events WHERE seq = 1000').pluck().get() as string);
    const expected = db.prepare('SELECT seq FROM events WHERE ts >= ? ORDER BY seq').pluck().all(ts) as number[];
    db.close();
    const printed = ts.replace('T', ' ').replace('Z', ''); // as `audit tail` shows it
    for (const TZ of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
      const r = cli(['audit', 'query', '--since', printed, '--format', 'json', '--db', log.db], undefined, { TZ });
      expect(r.code, TZ).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq), TZ).toEqual(expected);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(expected[0]).toBeLessThanOrEqual(1000);
    for (const bad of ['2026-02-30', '2026-12-01T24:00:00Z', '90', 'yesterday', '99999999999d']) {
      const r = cli(['audit', 'query', '--since', bad, '--db', log.db]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toContain(`--since: not a time: ${JSON.stringify(bad)}`);
    }
  });

  it('prune refuses a time to come (a typo in the year would empty the trail) and anything that is not a time', () => {
    const log = makeLog(30);
    const count = () => {
      const db = new Database(log.db, { readonly: true });
      const n = db.prepare('SELECT COUNT(*) FROM events').pluck().get() as number;
      db.close();
      return n;
    };
    const future = cli(['audit', 'prune', '--before', '2999-01-01', '--db', log.db]);
    expect(future.code).toBe(2);
    expect(future.stderr).toContain('--before: 2999-01-01T00:00:00.000Z is in the future; nothing was removed');
    const typo = cli(['audit', 'prune', '--before', '90', '--db', log.db]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('--before: not a time: "90"');
    expect(count()).toBe(30);
    // Control: a time before now prunes, and what remains verifies.
    const all = cli(['audit', 'prune', '--before', '0s', '--db', log.db]);
    expect(all).toMatchObject({ code: 0, stdout: 'removed 30 events; the chain now starts after #30\n' });
    // An emptied trail verifies, and says so in words (not "from #31 to #30").
    const v = cli(['audit', 'verify', '--db', log.db]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^Verified: 0 events, no events after #30 \(pruned\); /);
  });

  it('verify --pubkey with something other than the Ed25519 public key is refused by name, not a crash or a false alarm', async () => {
    const log = makeLog(3);
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = path.join(log.dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const junk = path.join(log.dir, 'junk.txt');
    writeFileSync(junk, 'root:x:0:0:root:/root:/bin/bash\n');
    const short = path.join(log.dir, 'short.txt');
    writeFileSync(short, 'AAAA\n');
    const hint = '; give the PEM file or the base64 line that `mcp-warden audit key` prints\n';
    expect(cli(['audit', 'verify', '--db', log.db, '--pubkey', rsa])).toMatchObject({ code: 2, stderr: `mcp-warden: ${rsa}: an rsa key, not the Ed25519 key the audit trail is signed with${hint}` });
    for (const f of [junk, short]) expect(cli(['audit', 'verify', '--db', log.db, '--pubkey', f])).toMatchObject({ code: 2, stderr: `mcp-warden: ${f}: not a PEM key nor the base64 of a 32-byte Ed25519 public key${hint}` });
    // Control: the line `audit key` prints verifies the signatures.
    const pub = path.join(log.dir, 'pub.txt');
    writeFileSync(pub, cli(['audit', 'key', '--db', log.db]).stdout);
    const ok = cli(['audit', 'verify', '--db', log.db, '--pubkey', pub]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/checked signatures/);
  });

  it('an output file that cannot be written is named, with the reason', () => {
    const log = makeLog(5);
    const missing = path.join(log.dir, 'no-such-dir');
    for (const args of [['report', '--out', path.join(missing, 'r.html')], ['export', '--format', 'csv', '--out', path.join(missing, 'a.csv')]]) {
      const r = cli(['audit', ...args, '--db', log.db]);
      expect(r.code, args[0]).toBe(2);
      expect(r.stderr).toBe(`mcp-warden: ${args[args.length - 1]}: cannot write it: no such file or directory (ENOENT)\n`);
    }
  });

  it('an export that runs out of room stops with the reason and leaves no half-written file', () => {
    const log = makeLog(600); // about 400 KB of JSONL
    const out = path.join(log.dir, 'export.jsonl');
    // The file size limit (256 KiB) stands in for a full disk: with SIGXFSZ ignored, the write fails with EFBIG.
    const r = spawnSync('sh', ['-c', 'trap "" XFSZ; ulimit -f 256; exec "$0" "$@"', NODE, CLI, 'audit', 'export', '--format', 'jsonl', '--db', log.db, '--out', out], { encoding: 'utf8', env: isolatedEnv(), timeout: 30_000 });
    expect(r.stderr).toBe(`mcp-warden: ${out}: cannot write it: file too large (EFBIG); the incomplete file was removed\n`);
    expect(r.status).toBe(2);
    expect(existsSync(out)).toBe(false);
    // The HTML report (written whole) the same way.
    const html = path.join(log.dir, 'report.html');
    const rep = spawnSync('sh', ['-c', 'trap "" XFSZ; ulimit -f 64; exec "$0" "$@"', NODE, CLI, 'audit', 'report', '--db', log.db, '--out', html], { encoding: 'utf8', env: isolatedEnv(), timeout: 30_000 });
    expect(rep.stderr).toBe(`mcp-warden: ${html}: cannot write it: file too large (EFBIG); the incomplete file was removed\n`);
    expect(existsSync(html)).toBe(false);
    // A device that is full: the reason, no stack trace.
    const full = cli(['audit', 'export', '--format', 'csv', '--db', log.db, '--out', '/dev/full']);
    expect(full).toMatchObject({ code: 2, stderr: 'mcp-warden: /dev/full: cannot write it: no space left on device (ENOSPC)\n' });
  });
});

describe('reading a whole trail, a row at a time', () => {
  it('export to a file and to stdout give the same text, every event once and in order, in each format', () => {
    const log = makeLog(2000); // about 1.3 MB of JSONL: many 64 KiB chunks
    for (const format of ['jsonl', 'csv', 'ocsf']) {
      const file = path.join(log.dir, `export.${format}`);
      const toFile = cli(['audit', 'export', '--format', format, '--out', file, '--db', log.db]);
      expect(toFile.code, format).toBe(0);
      const stdout = cli(['audit', 'export', '--format', format, '--db', log.db]);
      expect(stdout.code, format).toBe(0);
      expect(readFileSync(file, 'utf8'), format).toBe(stdout.stdout);
      const lines = stdout.stdout.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.length, format).toBe(format === 'csv' ? 2001 : 2000);
    }
    const jsonl = readFileSync(path.join(log.dir, 'export.jsonl'), 'utf8').trim().split('\n');
    expect(jsonl.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    // query's JSON is the export's records; its table is a header and one line per event, columns aligned.
    expect(cli(['audit', 'query', '--format', 'json', '--db', log.db]).stdout).toBe(`${jsonl.join('\n')}\n`);
    const table = cli(['audit', 'query', '--db', log.db]).stdout.trimEnd().split('\n');
    expect(table.length).toBe(2001);
    const col = table[0]!.indexOf('time');
    expect(table.every((l) => /^\S/.test(l.slice(col)))).toBe(true);
    expect(table[2000]).toMatch(/^2000\s/);
  });
});
