/**
 * Reads the `audit` section and opens the store, the signing key, the writer and the sink.
 */
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { configPath, stateDir } from '../config/paths.js';
import { fsReason, makeParent } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { loadOrCreateKey, type SigningKey } from './keys.js';
import { createSink, type SinkConfig } from './sink.js';
import type { Capture } from './stage.js';
import { AuditStore, AuditStoreError, type Durability } from './store.js';
import { AuditWriter } from './writer.js';

export interface AuditConfig {
  enabled: boolean;
  db: string;
  capture: Capture;
  captureMaxBytes: number;
  /** A cap on the database's size; past it writes fail as on a full disk (and `on_failure` applies). */
  maxDbBytes: number | undefined;
  durability: Durability;
  onFailure: 'deny' | 'allow';
  /** Record each request when it is forwarded as well (committed before it leaves). */
  recordForwarded: boolean;
  signingKey: string;
  anchor: string;
  checkpointEvery: number;
  checkpointIntervalMs: number;
  idleCheckpointMs: number;
  sink: SinkConfig | undefined;
}

type Raw = Record<string, unknown>;

export function defaultAuditDb(): string {
  return path.join(stateDir(), 'audit.db');
}

export function auditConfig(raw: unknown, baseDir: string | undefined, dbOverride?: string): AuditConfig {
  const a = (raw ?? {}) as Raw;
  const rel = (p: string | undefined) => (p ? configPath(p, baseDir) : p);
  const db = path.resolve(dbOverride ?? rel(a['db'] as string | undefined) ?? defaultAuditDb());
  const cp = (a['checkpoint'] ?? {}) as Raw;
  const sink = a['sink'] as Raw | undefined;
  return {
    enabled: a['enabled'] !== false,
    db,
    capture: (a['capture'] as Capture | undefined) ?? 'redacted',
    captureMaxBytes: (a['capture_max_bytes'] as number | undefined) ?? 4096,
    maxDbBytes: a['max_db_mb'] !== undefined ? Math.floor((a['max_db_mb'] as number) * 1024 * 1024) : undefined,
    durability: (a['durability'] as Durability | undefined) ?? 'strict',
    onFailure: (a['on_failure'] as 'deny' | 'allow' | undefined) ?? 'deny',
    recordForwarded: a['record_forwarded'] === true,
    signingKey: path.resolve(rel(a['signing_key'] as string | undefined) ?? path.join(path.dirname(db), 'audit-signing.key')),
    anchor: path.resolve(rel(a['anchor'] as string | undefined) ?? `${db}.anchor`),
    checkpointEvery: (cp['every_events'] as number | undefined) ?? 1000,
    checkpointIntervalMs: ((cp['every_s'] as number | undefined) ?? 60) * 1000,
    idleCheckpointMs: ((cp['idle_s'] as number | undefined) ?? 2) * 1000,
    sink: sink
      ? {
          syslog: sink['syslog'] as string | undefined,
          https: sink['https'] as string | undefined,
          ca: rel(sink['ca'] as string | undefined),
          headers: sink['headers'] as Record<string, string> | undefined,
          maxQueue: sink['max_queue'] as number | undefined,
        }
      : undefined,
  };
}

export interface OpenAudit {
  store: AuditStore;
  key: SigningKey;
  writer: AuditWriter;
}

export function openAudit(cfg: AuditConfig, log: Logger): OpenAudit {
  // The store first: a database that cannot be used (or is not ours) stops the start before a key file is made.
  const store = new AuditStore(cfg.db, { durability: cfg.durability, maxBytes: cfg.maxDbBytes });
  let key: SigningKey;
  try {
    key = loadOrCreateKey(cfg.signingKey);
    // Checkpoints are appended there while the proxy runs: a file that cannot take them stops the start (it was
    // found at the first checkpoint, logged, and the trail went unanchored).
    try {
      makeParent(cfg.anchor);
      closeSync(openSync(cfg.anchor, 'a', 0o600));
    } catch (e) {
      throw new AuditStoreError(`${cfg.anchor}: cannot append to the audit anchor file (audit.anchor): ${fsReason(e)}`);
    }
  } catch (e) {
    store.close();
    throw e;
  }
  let sink: ReturnType<typeof createSink>;
  try {
    sink = createSink(cfg.sink, log);
  } catch (e) {
    store.close();
    throw e;
  }
  const writer = new AuditWriter(store, key, {
    onFailure: cfg.onFailure,
    checkpointEvery: cfg.checkpointEvery,
    checkpointIntervalMs: cfg.checkpointIntervalMs,
    idleCheckpointMs: cfg.idleCheckpointMs,
    anchorFile: cfg.anchor,
    sink,
    log,
  });
  return { store, key, writer };
}
