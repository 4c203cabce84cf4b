/**
 * `audit verify`: is this the log that was written?
 *
 * - the chain: every event's hash recomputed from its fields and its predecessor's hash; sequence numbers without
 *   gaps from the base (genesis, or the signed point `prune` left);
 * - the MAC of every event, when the signing key is at hand: it names the exact event an attacker edited even if
 *   they recomputed the public chain;
 * - checkpoint signatures, and that each checkpoint's head is the hash of the event it names;
 * - the anchor file outside the database: a checkpoint there that the database cannot match means truncation or
 *   an older copy;
 * - optionally a copy of the events kept off the machine (what the SIEM received), compared event by event.
 * An attacker holding the signing key and the anchor file can rewrite all of the above consistently; only the
 * off-machine copy catches them.
 */
import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { chainHash, checkpointNote, eventMac, pruneNote, type StoredEvent } from './chain.js';
import { keyIdOf, verifyNote, type SigningKey } from './keys.js';
import type { AuditStore, Checkpoint } from './store.js';
import { errnoText } from '../errors.js';

export interface VerifyOptions {
  /** The signing key (checks MACs and signatures). */
  key?: SigningKey;
  /** A public key alone (checks signatures, not MACs). */
  publicKey?: KeyObject;
  anchorFile?: string;
  /** Newline-delimited JSON of events (and checkpoints) as received off the machine. */
  copyFile?: string;
}

export interface Problem {
  seq: number;
  id: string | undefined;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  head: number;
  /**
   * The last event the walk read (past `head` when the chain broke before it): the trail as it stood when the walk
   * began. A report built on this result counts the same events, not those written since.
   */
  read: number;
  base: number;
  checkpoints: number;
  anchored: number;
  copied: number;
  macChecked: boolean;
  signaturesChecked: boolean;
  /** The last event a checkpoint whose signature was checked vouches for (the base when none does). */
  signedThrough: number;
  /** The earliest problem: the first event that cannot be trusted. */
  firstBad: Problem | undefined;
  problems: Problem[];
}

interface AnchorLine extends Checkpoint {
  origin: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A checkpoint whose fields have the types the schema gives them (a rebuilt table or a hand-edited line may not). */
function checkpointShaped(cp: Checkpoint): boolean {
  return Number.isSafeInteger(cp.seq) && cp.seq >= 0 && typeof cp.head === 'string' && HEX64.test(cp.head) && typeof cp.note === 'string' && typeof cp.signature === 'string' && typeof cp.key_id === 'string';
}

export function verifyStore(store: AuditStore, opts: VerifyOptions = {}): VerifyResult {
  const problems: Problem[] = [];
  /** Problems the chain walk found name an exact event; other checks give a lower bound at best. */
  const exact: Problem[] = [];
  const pub = opts.publicKey ?? opts.key?.publicKey;
  const base = store.base();
  // The stored hash and id of an event the walk below read, looked up by seq when a checkpoint or the copy needs
  // one: keeping every event's would grow with the trail (hundreds of bytes per event, gigabytes for millions).
  const looked = new Map<number, { hash: string; id: string } | undefined>();
  const stored = (seq: number): { hash: string; id: string } | undefined => {
    if (seq > lastRead || seq <= base.seq) return undefined;
    if (looked.has(seq)) return looked.get(seq);
    let row: { hash: string; id: string } | undefined;
    try {
      row = store.storedAt(seq);
    } catch (e) {
      if ((e as Error)?.name !== 'SqliteError') throw e;
    }
    if (looked.size < 100_000) looked.set(seq, row);
    return row;
  };
  const add = (seq: number, id: string | undefined, message: string) => problems.push({ seq, id, message });

  // The checkpoints first: they name the key each part of the log was signed with.
  let inDb: Checkpoint[] = [];
  try {
    inDb = store.checkpoints();
  } catch (e) {
    if ((e as Error)?.name !== 'SqliteError') throw e;
    add(base.seq + 1, undefined, `the database's checkpoints cannot be read: it is damaged (SQLite: ${(e as Error).message})`);
  }
  // Malformed ones are reported below and vouch for nothing.
  const cps = inDb.filter(checkpointShaped);
  const givenKeyId = opts.key?.keyId ?? (pub ? keyIdOf(pub) : undefined);
  /** The key id the first checkpoint at or after `seq` names (the key that part of the log was written under). */
  const keyIdAt = (seq: number) => cps.find((c) => c.seq >= seq)?.key_id;

  // The anchor file is read now, before the chain: a running proxy appends a checkpoint there after committing it,
  // so every line read now signs events the walk below sees. Read after the walk, a checkpoint written during it
  // (seconds, on a large trail) named events past the walk's end, and verify of a live trail called it truncated.
  let anchorText = '';
  let anchorError: unknown;
  if (opts.anchorFile) {
    try {
      anchorText = readFileSync(opts.anchorFile, 'utf8');
    } catch (e) {
      anchorError = e;
    }
  }

  // 1. The chain.
  let expected = base.seq + 1;
  let prev = base.hash;
  let count = 0;
  let chainBroken = false;
  const chainProblem = (seq: number, id: string | undefined, message: string) => {
    add(seq, id, message);
    exact.push(problems[problems.length - 1]!);
  };
  let lastRead = base.seq;
  try {
    for (const e of store.iterate(0)) {
      count++;
      lastRead = e.seq;
      if (chainBroken) continue;
      if (e.seq !== expected) {
        chainProblem(expected, undefined, e.seq > expected ? `event #${expected} is missing (the next stored event is #${e.seq})` : `event #${e.seq} is out of sequence (expected #${expected})`);
        chainBroken = true;
        continue;
      }
      if (e.prev_hash !== prev) {
        chainProblem(e.seq, e.id, `event #${e.seq} does not follow event #${e.seq - 1} (prev_hash differs): an event was removed, inserted or reordered`);
        chainBroken = true;
      } else {
        const h = chainHash(prev, e.seq, e);
        if (h !== e.hash) {
          chainProblem(e.seq, e.id, `event #${e.seq} was changed after it was written (its hash does not match its fields)`);
          chainBroken = true;
        } else if (opts.key && eventMac(opts.key.macKey, e.hash) !== e.mac) {
          const named = keyIdAt(e.seq);
          chainProblem(
            e.seq,
            e.id,
            named !== undefined && named !== opts.key.keyId
              ? `event #${e.seq}'s MAC does not match under the key given (key id ${opts.key.keyId}), and the checkpoint that covers it names key id ${named}: it was written under another signing key (verify with that key), or rewritten`
              : `event #${e.seq} was rewritten without the signing key (its MAC does not match; the chain after it was recomputed)`,
          );
          chainBroken = true;
        }
      }
      prev = e.hash;
      expected = e.seq + 1;
    }
  } catch (e) {
    // A damaged page: what comes after it cannot be read, so it cannot be vouched for.
    if ((e as Error)?.name !== 'SqliteError') throw e;
    chainProblem(lastRead + 1, undefined, `the database cannot be read after event #${lastRead}: it is damaged (SQLite: ${(e as Error).message})`);
    chainBroken = true;
  }
  const headSeq = expected - 1;

  // 2. Checkpoints in the database.
  let signedThrough = base.seq;
  const checkCp = (cp: Checkpoint, where: string, origin = store.origin) => {
    if (!checkpointShaped(cp)) {
      const seq = (cp as { seq?: unknown }).seq;
      add(Number.isSafeInteger(seq) ? (seq as number) : headSeq + 1, undefined, `${where} checkpoint${Number.isSafeInteger(seq) ? ` #${seq as number}` : ''} is malformed (a field is missing or of the wrong type)`);
      return;
    }
    if (cp.note !== checkpointNote(origin, cp.seq, cp.head)) {
      add(cp.seq, undefined, `${where} checkpoint #${cp.seq} does not describe the chain it claims to`);
      return;
    }
    if (pub && !verifyNote(pub, cp.note, cp.signature)) {
      add(
        cp.seq,
        stored(cp.seq)?.id,
        cp.key_id !== givenKeyId
          ? `${where} checkpoint #${cp.seq} names key id ${cp.key_id}, not the key given (${givenKeyId}): signed by another key (verify with it), or forged`
          : `${where} checkpoint #${cp.seq} has an invalid signature`,
      );
      return;
    }
    if (cp.seq <= base.seq) {
      if (cp.seq === base.seq && cp.head !== base.hash) add(base.seq + 1, undefined, `the prune base #${base.seq} does not match its signed checkpoint`);
      return;
    }
    const have = stored(cp.seq);
    if (!have) {
      add(Math.min(headSeq + 1, cp.seq), undefined, `events after #${headSeq} are missing: ${where} checkpoint #${cp.seq} signed a longer chain (truncated, or an older copy of the database)`);
      return;
    }
    const from = firstDifferent(cp.seq);
    if (have.hash !== cp.head) add(from, stored(from)?.id, `the chain up to #${cp.seq} differs from what ${where} checkpoint #${cp.seq} signed: events at or before #${cp.seq} were rewritten`);
    else if (pub) signedThrough = Math.max(signedThrough, cp.seq);
  };
  // With a rewritten chain, the earliest event the checkpoint cannot vouch for is the one after the last
  // checkpoint that still matches.
  const firstDifferent = (seq: number) => {
    let good = base.seq;
    for (const c of cps) if (c.seq < seq && stored(c.seq)?.hash === c.head) good = Math.max(good, c.seq);
    return good + 1;
  };
  if (base.seq > 0 && !cps.some((c) => c.seq === base.seq)) add(base.seq + 1, undefined, `the prune base #${base.seq} has no signed checkpoint`);
  // Every log has signed checkpoints: one at the base says nothing about who removed the events before it. Only
  // prune's own signed record does (someone who can write the database, without the key, can delete the first
  // events up to any checkpoint and set the base there).
  if (base.seq > 0 && pub) {
    if (base.signature === undefined) add(base.seq, undefined, `the events up to #${base.seq} were removed without a signed prune record: deleted by someone without the signing key, or pruned by an mcp-warden older than this one (if you pruned it, \`mcp-warden audit prune --sign-base\` with the key vouches for it)`);
    else if (!verifyNote(pub, pruneNote(store.origin, base.seq, base.hash), base.signature))
      add(
        base.seq,
        undefined,
        base.keyId !== undefined && base.keyId !== givenKeyId
          ? `the prune record of base #${base.seq} names key id ${base.keyId}, not the key given (${givenKeyId}): signed by another key (verify with it), or forged`
          : `the prune record of base #${base.seq} has an invalid signature: the events before it were removed by someone without the signing key`,
      );
  }
  for (const cp of inDb) checkCp(cp, 'database');

  // 3. The anchor file.
  let anchored = 0;
  /** Origins of the other logs the anchor file holds checkpoints of. */
  const others = new Set<string>();
  if (opts.anchorFile) {
    if (anchorError !== undefined) add(headSeq + 1, undefined, `cannot read the anchor file ${opts.anchorFile}: ${errnoText(anchorError)}`);
    for (const line of anchorText.split('\n')) {
      if (!line.trim()) continue;
      let cp: AnchorLine;
      try {
        cp = JSON.parse(line) as AnchorLine;
      } catch {
        cp = undefined as unknown as AnchorLine;
      }
      if (cp === null || typeof cp !== 'object' || Array.isArray(cp)) {
        add(headSeq + 1, undefined, 'the anchor file has a line that is not a JSON object');
        continue;
      }
      if (cp.origin !== store.origin) {
        // Another log sharing the anchor file, or this one under another name (see below).
        if (typeof cp.origin === 'string' && others.size < 100) others.add(cp.origin);
        continue;
      }
      anchored++;
      checkCp(cp, 'anchored');
    }
    // The origin is a row of the database: whoever can write it can rename the log, and every line of its anchor
    // would then read as another log's. An anchor file that vouches for other logs only, given for a trail with
    // events, is that or the wrong file; either way it vouches for nothing here.
    if (anchored === 0 && others.size > 0 && (count > 0 || base.seq > 0)) {
      const names = [...others].slice(0, 3).join(', ') + (others.size > 3 ? ', …' : '');
      add(base.seq + 1, undefined, `the anchor file holds no checkpoint of this log (origin ${store.origin}), only of ${names}: the database's origin was changed, or this is another log's anchor file`);
    }
  }

  // 4. The off-machine copy.
  let copied = 0;
  if (opts.copyFile) {
    const text = readFileSync(opts.copyFile, 'utf8');
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let rec: Partial<StoredEvent> & { type?: string; origin?: string };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        continue;
      }
      if (rec === null || typeof rec !== 'object') continue;
      if (rec.type === 'checkpoint') {
        if (rec.origin === store.origin) checkCp(rec as unknown as Checkpoint, 'off-machine');
        continue;
      }
      if (typeof rec.seq !== 'number' || typeof rec.hash !== 'string' || rec.seq <= base.seq) continue;
      copied++;
      const have = stored(rec.seq);
      if (!have) chainProblem(rec.seq, rec.id, `event #${rec.seq} is in the off-machine copy but not in the database`);
      else if (have.hash !== rec.hash || have.id !== rec.id) chainProblem(rec.seq, rec.id, `event #${rec.seq} differs from the off-machine copy`);
    }
  }

  problems.sort((a, b) => a.seq - b.seq);
  // The earliest exact finding wins; a checkpoint or copy mismatch only bounds where the damage starts.
  const firstBad = exact.length ? [...exact].sort((a, b) => a.seq - b.seq)[0] : problems[0];
  return {
    ok: problems.length === 0,
    events: count,
    head: headSeq,
    read: lastRead,
    base: base.seq,
    checkpoints: inDb.length,
    anchored,
    copied,
    macChecked: opts.key !== undefined,
    signaturesChecked: pub !== undefined,
    signedThrough,
    firstBad,
    problems,
  };
}
