/**
 * The audit database (SQLite through better-sqlite3, WAL). Appends read the chain head inside their write
 * transaction, never from memory, so several processes can share one database. Durability `strict` is WAL with
 * synchronous=NORMAL (survives a crash of the proxy), `fsync` is synchronous=FULL (survives power loss).
 */
import { closeSync, constants, fsync, openSync, readFileSync, realpathSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { packagePath } from '../config/paths.js';
import { errnoText, makeParent, WardenError } from '../errors.js';
import { chainHash, checkpointNote, EVENT_FIELDS, eventMac, GENESIS, pruneNote, type AuditEvent, type StoredEvent } from './chain.js';
import { signNote, type SigningKey } from './keys.js';

export const SCHEMA_VERSION = 2;

/** Page cache of a connection that appends (KiB): SQLite's own default, not better-sqlite3's 16 MB. */
export const WRITER_CACHE_KIB = 2048;

/** WAL pages (counted roughly: one per commit and one per four events) after which an appender checkpoints: SQLite's own threshold. */
export const CHECKPOINT_PAGES = 1000;

export class AuditStoreError extends WardenError {
  override readonly code = 'AUDIT_STORE';
}

export interface Checkpoint {
  seq: number;
  ts: string;
  head: string;
  key_id: string;
  note: string;
  signature: string;
}

export interface Head {
  seq: number;
  hash: string;
}

/** The base `prune` left and its signed record (pruneNote); the signature is absent when someone else set the base. */
export interface Base extends Head {
  signature: string | undefined;
  keyId: string | undefined;
}

export type Durability = 'strict' | 'fsync';

/** Migrations from version N-1 to N; index 0 creates the tables from schema.sql. */
const MIGRATIONS: ((db: Database.Database) => void)[] = [
  (db) => db.exec(readFileSync(packagePath('audit', 'schema.sql'), 'utf8')),
  // 2: the secondary indexes of version 1 cost a page write per commit on every call's path; reviews scan.
  (db) => db.exec('DROP INDEX IF EXISTS events_ts; DROP INDEX IF EXISTS events_server_target'),
];

function retryBusy<T>(fn: () => T, ms = 15_000): T {
  const end = Date.now() + ms;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      return fn();
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (!code.startsWith('SQLITE_BUSY') && !code.startsWith('SQLITE_LOCKED')) throw e;
      if (Date.now() > end) throw new AuditStoreError(`the audit database stayed locked for ${ms / 1000}s`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    }
  }
}

export class AuditStore {
  readonly db: Database.Database;
  readonly file: string;
  /** A random name for this log, fixed at creation; part of every signed checkpoint. */
  readonly origin: string;
  private readonly insert: Database.Statement;
  private readonly headStmt: Database.Statement;
  private atStmt: Database.Statement | undefined;
  private readonly appendTx: Database.Transaction<(events: AuditEvent[], key: SigningKey) => StoredEvent[]>;
  private offPathCheckpoints = false;
  private walPages = 0;
  private walFd: number | undefined;
  private walSyncing = false;
  private closed = false;

  constructor(file: string, opts: { durability?: Durability; readonly?: boolean; maxBytes?: number } = {}) {
    this.file = file;
    if (!opts.readonly) {
      try {
        makeParent(file);
        // Create the file private before SQLite opens it (the WAL and SHM files inherit its mode).
        closeSync(openSync(file, 'a', 0o600));
      } catch (e) {
        throw new AuditStoreError(`${file}: cannot create the audit database: ${errnoText(e)}`);
      }
    }
    try {
      this.db = new Database(file, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true, timeout: 10_000 });
    } catch (e) {
      throw new AuditStoreError(`${file}: cannot open the audit database: ${(e as Error).message}`);
    }
    try {
      // Before anything is written (switching to WAL rewrites the file's header): a database that holds anything
      // but an mcp-warden audit trail is someone else's, and nothing of ours goes into it.
      const found = this.ownOrigin(opts.readonly === true);
      if (!opts.readonly) {
        // Several processes may open a new database at once; switching to WAL and migrating can meet a lock
        // SQLite does not wait for, so retry for a while.
        retryBusy(() => this.db.pragma('journal_mode = WAL'));
        this.db.pragma(`synchronous = ${opts.durability === 'fsync' ? 'FULL' : 'NORMAL'}`);
        // better-sqlite3 builds SQLite with a 16 MB page cache; an appender touches the right edge of one B-tree, and
        // a proxy under load filled that cache with pages it never reads again (~16 MB resident for nothing).
        this.db.pragma(`cache_size = -${WRITER_CACHE_KIB}`);
        // With strict durability, checkpoints are run by append() instead (see checkpointWal). With fsync every
        // commit has already flushed the WAL, and a flush alongside the commits' own only slowed them (~10 %).
        this.offPathCheckpoints = opts.durability !== 'fsync';
        if (this.offPathCheckpoints) this.db.pragma('wal_autocheckpoint = 0');
        retryBusy(() => this.migrate());
        if (opts.maxBytes) {
          // SQLite answers SQLITE_FULL past this many pages, exactly as on a full disk.
          const pageSize = Number(this.db.pragma('page_size', { simple: true }));
          this.db.pragma(`max_page_count = ${Math.max(1, Math.floor(opts.maxBytes / pageSize))}`);
        }
      }
      // A new file gets its origin from migrate().
      this.origin = found || this.meta('origin')!;
      const cols = EVENT_FIELDS.join(', ');
      this.insert = this.db.prepare(`INSERT INTO events (seq, ${cols}, prev_hash, hash, mac) VALUES (${new Array(EVENT_FIELDS.length + 4).fill('?').join(', ')})`);
      this.headStmt = this.db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1');
      this.appendTx = this.db.transaction((events: AuditEvent[], key: SigningKey) => {
        let { seq, hash } = this.headInTx();
        const stored: StoredEvent[] = [];
        for (const e of events) {
          seq++;
          const h = chainHash(hash, seq, e);
          const mac = eventMac(key.macKey, h);
          // Positional binding: measurably cheaper than named parameters on the append path.
          this.insert.run(seq, e.id, e.ts, e.event, e.session, e.principal_sub, e.client_id, e.issuer, e.server, e.method, e.target, e.decision, e.rule, e.reason, e.status, e.latency_ms, e.bytes_in, e.bytes_out, e.args, e.args_sha256, e.result_sha256, e.redactions, e.policy_version, e.extra, hash, h, mac);
          const se = e as StoredEvent;
          se.seq = seq;
          se.prev_hash = hash;
          se.hash = h;
          se.mac = mac;
          stored.push(se);
          hash = h;
        }
        return stored;
      });
    } catch (e) {
      this.db.close();
      if (e instanceof AuditStoreError) throw e;
      throw new AuditStoreError(`${file}: ${sqliteTrouble(e)}`);
    }
  }

  /**
   * The log's origin when this database is an mcp-warden audit trail; '' when it is empty (a new file). Anything
   * else (another program's database, or ours with its origin removed) is refused.
   */
  private ownOrigin(readonly: boolean): string {
    const names = this.db.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
    if (names.length === 0) {
      if (readonly) throw new AuditStoreError(`${this.file}: an empty database, not an mcp-warden audit trail`);
      return '';
    }
    let origin: unknown;
    if (names.includes('meta')) {
      try {
        origin = this.db.prepare("SELECT value FROM meta WHERE key = 'origin'").pluck().get();
      } catch {
        origin = undefined;
      }
    }
    if (typeof origin === 'string' && origin.startsWith('mcp-warden/')) return origin;
    const shown = names.slice(0, 5).map((n) => JSON.stringify(n)).join(', ') + (names.length > 5 ? `, … (${names.length} in all)` : '');
    throw new AuditStoreError(
      `${this.file}: not an mcp-warden audit database (it holds ${shown}${names.includes('events') ? ' but no mcp-warden origin' : ''})` + (readonly ? '' : '; nothing was written to it. Point audit.db (or --audit-db) at a new file or at an audit database'),
    );
  }

  private migrate(): void {
    const tx = this.db.transaction(() => {
      this.db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT');
      const row = this.db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
      let version = row ? Number(row.value) : 0;
      if (version > SCHEMA_VERSION) throw new AuditStoreError(`${this.file}: written by a newer mcp-warden (schema ${version}; this one knows ${SCHEMA_VERSION})`);
      while (version < SCHEMA_VERSION) {
        MIGRATIONS[version]!(this.db);
        version++;
      }
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(version));
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('origin', ?)").run(`mcp-warden/${randomBytes(8).toString('hex')}`);
    });
    tx.immediate();
  }

  meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  /** Where the chain starts: genesis, or the last event removed by `prune` (with the signature of its record). */
  base(): Base {
    const seq = this.meta('base_seq');
    if (seq === undefined) return { seq: 0, hash: GENESIS, signature: undefined, keyId: undefined };
    return { seq: Number(seq), hash: this.meta('base_hash')!, signature: this.meta('base_signature'), keyId: this.meta('base_key_id') };
  }

  private headInTx(): Head {
    const row = this.headStmt.get() as Head | undefined;
    return row ?? this.base();
  }

  head(): Head {
    return this.headInTx();
  }

  /** Appends events in one IMMEDIATE transaction (the chain head is read under the write lock). */
  append(events: AuditEvent[], key: SigningKey): StoredEvent[] {
    const stored = this.appendTx.immediate(events, key);
    if (!this.offPathCheckpoints) return stored;
    this.walPages += 1 + (events.length >> 2);
    if (this.walPages >= CHECKPOINT_PAGES && !this.walSyncing) this.checkpointWal();
    return stored;
  }

  /**
   * Copies the WAL back into the database without holding the caller while the disk writes it. SQLite's automatic
   * checkpoint (off on this connection) ran inside the commit that crossed its threshold, and most of its time there
   * was fsync of the WAL (~9 of 12 ms on the benchmark machine, once per ~1,300 pages): every call in flight waited.
   * Here a thread of libuv's pool flushes the WAL first; the checkpoint then runs on this thread with SQLite's own
   * fsyncs unchanged (durability is the same), which find little left to write. A checkpoint that cannot finish
   * (a reader holds old pages, another process has the lock) is tried again after the next threshold; trouble that
   * matters shows up in the next commit.
   */
  private checkpointWal(): void {
    this.walPages = 0;
    try {
      // Beside the file SQLite opened (it follows a symbolic link); never blocking (a FIFO in its place).
      this.walFd ??= openSync(`${realpathSync(this.file)}-wal`, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      this.walCheckpoint();
      return;
    }
    this.walSyncing = true;
    fsync(this.walFd, () => {
      this.walSyncing = false;
      if (this.closed) this.closeWal();
      else this.walCheckpoint();
    });
  }

  private walCheckpoint(): void {
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      /* tried again after the next threshold */
    }
  }

  /** The WAL's descriptor holds no lock (SQLite's are on the database and -shm files), so closing it releases none. */
  private closeWal(): void {
    if (this.walFd === undefined) return;
    try {
      closeSync(this.walFd);
    } catch {
      /* already closed */
    }
    this.walFd = undefined;
  }

  /** Signs the current head unless a checkpoint already covers it. */
  checkpoint(key: SigningKey, now = new Date()): Checkpoint | undefined {
    const tx = this.db.transaction(() => {
      const head = this.headInTx();
      if (head.seq === 0) return undefined;
      const have = this.db.prepare('SELECT 1 FROM checkpoints WHERE seq = ?').get(head.seq);
      if (have) return undefined;
      const note = checkpointNote(this.origin, head.seq, head.hash);
      const cp: Checkpoint = { seq: head.seq, ts: now.toISOString(), head: head.hash, key_id: key.keyId, note, signature: signNote(key, note) };
      this.db.prepare('INSERT INTO checkpoints (seq, ts, head, key_id, note, signature) VALUES (@seq, @ts, @head, @key_id, @note, @signature)').run(cp);
      return cp;
    });
    return tx.immediate();
  }

  /** Quick write check: can this process take the write lock and write? */
  probe(): void {
    this.db.transaction(() => this.db.prepare("INSERT INTO meta (key, value) VALUES ('last_probe', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(new Date().toISOString())).immediate();
  }

  /** The stored hash and id of event #seq, if it is there. */
  storedAt(seq: number): { hash: string; id: string } | undefined {
    this.atStmt ??= this.db.prepare('SELECT hash, id FROM events WHERE seq = ?');
    return this.atStmt.get(seq) as { hash: string; id: string } | undefined;
  }

  *iterate(fromSeq = 0): IterableIterator<StoredEvent> {
    yield* this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq').iterate(fromSeq) as IterableIterator<StoredEvent>;
  }

  checkpoints(): Checkpoint[] {
    return this.db.prepare('SELECT * FROM checkpoints ORDER BY seq').all() as Checkpoint[];
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  }

  /**
   * Removes events older than `before`, keeping the rest verifiable: the last removed event becomes the chain's
   * base (its seq and hash are kept, and a checkpoint is signed over it first).
   */
  prune(before: string, key: SigningKey): { removed: number; base: Head } {
    const tx = this.db.transaction(() => {
      const last = this.db.prepare('SELECT seq, hash FROM events WHERE ts < ? ORDER BY seq DESC LIMIT 1').get(before) as Head | undefined;
      if (!last) return { removed: 0, base: this.base() };
      const note = checkpointNote(this.origin, last.seq, last.hash);
      this.db
        .prepare('INSERT OR IGNORE INTO checkpoints (seq, ts, head, key_id, note, signature) VALUES (?, ?, ?, ?, ?, ?)')
        .run(last.seq, new Date().toISOString(), last.hash, key.keyId, note, signNote(key, note));
      const removed = this.db.prepare('DELETE FROM events WHERE seq <= ?').run(last.seq).changes;
      this.setMeta('base_seq', String(last.seq));
      this.setMeta('base_hash', last.hash);
      this.signPrune(last, key);
      this.db.prepare('DELETE FROM checkpoints WHERE seq < ?').run(last.seq);
      return { removed, base: last };
    });
    return tx.immediate();
  }

  /**
   * Signs the prune record of the base this trail already has (one pruned by an mcp-warden that did not sign it):
   * the key holder vouches that the events before it were removed on purpose. The base's seq; 0 when there is none.
   */
  signBase(key: SigningKey): number {
    const tx = this.db.transaction(() => {
      const base = this.base();
      if (base.seq > 0) this.signPrune(base, key);
      return base.seq;
    });
    return tx.immediate();
  }

  /** Signed as a prune, not only as a checkpoint: verify accepts a base only with this record. */
  private signPrune(base: Head, key: SigningKey): void {
    this.setMeta('base_signature', signNote(key, pruneNote(this.origin, base.seq, base.hash)));
    this.setMeta('base_key_id', key.keyId);
  }

  private setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  close(): void {
    this.closed = true;
    try {
      this.db.close();
    } catch {
      /* already closed */
    }
    // While a flush is under way its callback closes the descriptor (closing it now could hand the number to another file).
    if (!this.walSyncing) this.closeWal();
  }
}

/** What went wrong with a database file, in words (SQLite's own message kept, the stack not). */
function sqliteTrouble(e: unknown): string {
  const code = String((e as { code?: unknown }).code ?? '');
  const message = ((e as Error)?.message ?? String(e)).replace(/\s+/g, ' ').slice(0, 200);
  if (code === 'SQLITE_NOTADB') return 'not an SQLite database (is this the audit database?)';
  if (code.startsWith('SQLITE_CORRUPT')) return `the database file is damaged (SQLite: ${message}); restore it from a copy, or point audit.db at a new file`;
  if (code.startsWith('SQLITE_READONLY')) return `the audit database cannot be written (SQLite: ${message})`;
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR')) return `cannot read or write the audit database (SQLite: ${message})`;
  return `cannot use the audit database (SQLite: ${message})`;
}
