/**
 * The redactor: applies the detector to JSON values (MCP payloads) and carries out each finding's action.
 *
 * A payload's strings (and numbers, as their decimal text) are joined with a separator and scanned once — per
 * string scanning costs 10–50× more in Node. Base64 blobs are decoded and scanned when they hold text, re-encoded
 * when changed, and left alone when binary; with `decodeBase64`, so are runs of base64 inside strings (base64.ts).
 * Protocol fields (types, MIME types, cursors, tokens the protocol uses to route) are not scanned. Offsets are mapped
 * back to the string they fall in.
 *
 * Actions: mask → `[REDACTED:<rule>]`; partial → `[REDACTED:<rule>:****<last 4>]`; hash → `[REDACTED:<rule>:<12
 * hex of HMAC-SHA256(key, value)>]` (stable for correlation, not reversible without the key); block → the caller
 * withholds the whole message; detect → counted only. Findings never carry the matched value.
 */
import { createHmac } from 'node:crypto';
import { isObject } from '../protocol/jsonrpc.js';
import { base64Runs, base64Text, encodeLike, withoutShortLastLine } from './base64.js';
import { Detector, resolveOverlaps, SEPARATOR, type RawFinding } from './detector.js';
import type { Action, Rule } from './rules.js';

/** Fields the protocol owns: never personal data, and changing them would break the exchange. */
const SKIP_KEYS = new Set(['type', 'mimeType', 'role', 'progressToken', 'cursor', 'nextCursor', 'requestState', 'taskId', 'resultType', 'cacheScope', 'jsonrpc', 'protocolVersion', 'ttl', 'pollInterval', 'lastUpdatedAt', 'createdAt', 'progress', 'total', 'priority', 'isError']);

const TEXT_MIME = /^(?:text\/|application\/(?:json|ld\+json|xml|yaml|x-yaml|toml|javascript|x-sh|x-www-form-urlencoded|sql|graphql)|[^;]*\+(?:json|xml|yaml))/i;

export interface RedactOptions {
  /** The action for a rule (already resolved from rule, category and config). */
  actionOf(rule: Rule): Action;
  hashKey(): Buffer;
  /** Stop after this many findings in one payload (the rest is blocked: fail closed). */
  maxFindings: number;
}

export interface Finding {
  rule: string;
  category: string;
  start: number;
  end: number;
  /** Found in the decoded text of a base64 run (`decodeBase64`); start and end are the run's. */
  base64?: true;
}

export interface RedactOutcome {
  /** Whether the value was changed in place. */
  changed: boolean;
  /** Findings per rule (all actions, detect included). */
  counts: Record<string, number>;
  /** Set when a finding's action is block (or too many findings): the payload must not leave. */
  blocked: { rule: string; category: string } | undefined;
}

/** A base64 run in a text (offsets in it) whose decoded text held findings (offsets in the decoded text). */
interface RunEdit {
  start: number;
  end: number;
  /** The run encoded again with its text changed; undefined when nothing in it was rewritten. */
  text: string | undefined;
  findings: Finding[];
}

/**
 * `text` with each run whose text changed in place of the original (the same string when none did), and where each
 * such run lies in the result: `edits` in order, as base64Edits gives them.
 */
function spliceRuns(text: string, edits: RunEdit[]): { text: string; placed: { edit: RunEdit; start: number; end: number }[] } {
  const placed: { edit: RunEdit; start: number; end: number }[] = [];
  let out = '';
  let at = 0;
  for (const edit of edits) {
    if (edit.text === undefined) continue;
    out += text.slice(at, edit.start);
    placed.push({ edit, start: out.length, end: out.length + edit.text.length });
    out += edit.text;
    at = edit.end;
  }
  return { text: placed.length === 0 ? text : out + text.slice(at), placed };
}

interface Leaf {
  holder: Record<string, unknown> | unknown[];
  key: string | number;
  /** The property name the value sits under (array elements inherit their array's). */
  prop: string | undefined;
  text: string;
  kind: 'string' | 'number' | 'blob';
  /** A blob's text encoding, to write it back in the same one. */
  encoding?: BlobEncoding;
}

export const NOTHING: RedactOutcome = Object.freeze({ changed: false, counts: Object.freeze({}) as Record<string, number>, blocked: undefined });

function isBinaryBlock(holder: Record<string, unknown>): boolean {
  return holder['type'] === 'image' || holder['type'] === 'audio';
}

export type BlobEncoding = 'utf8' | 'latin1' | 'utf16le' | 'utf16be';

/** Base64 characters decoded to sniff a blob (4,098 bytes) before the whole of it is. */
const SNIFF_B64 = 5464;

/**
 * How a blob's bytes hold text, judged from its first 4 KiB: UTF-16 (a byte order mark, or ASCII with every other
 * byte zero), text (no NUL, few control bytes: UTF-8 or a legacy 8-bit encoding), or binary (undefined).
 */
function sniffText(head: Buffer, textual: boolean): 'utf16le' | 'utf16be' | 'bytes' | undefined {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'utf16le';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'utf16be';
  let nul = 0;
  let nulOdd = 0;
  let ctl = 0;
  for (let i = 0; i < head.length; i++) {
    const c = head[i]!;
    if (c === 0) {
      nul++;
      if (i & 1) nulOdd++;
    } else if (c < 9 || (c > 13 && c < 32)) ctl++;
  }
  if (nul > 0) {
    // ASCII-range text in UTF-16 without a byte order mark: the high byte of every character is zero.
    const pairs = head.length >> 1;
    if (pairs >= 2 && nul * 10 >= pairs * 9 && nul <= pairs) return nulOdd * 10 >= nul * 9 ? 'utf16le' : nulOdd * 10 <= nul ? 'utf16be' : undefined;
    return undefined;
  }
  return textual || ctl * 100 <= head.length ? 'bytes' : undefined;
}

/** Share of bytes at or above 0x80, in per mille: text in an 8-bit encoding has few; compressed data half. */
function highShare(buf: Buffer): number {
  let high = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i]! >= 0x80) high++;
  return (high * 1000) / buf.length;
}

/**
 * The text a base64 field holds, and its encoding, or undefined when it is binary (or not base64). A server cannot
 * hide text behind a MIME type, a size, or an encoding: text is found by sniffing the bytes, whatever the type says,
 * and read as UTF-8, as UTF-16, or byte for byte (Latin-1) when it is 8-bit text that is not UTF-8, so an ASCII
 * secret inside is found and written back without touching the other bytes.
 */
export function blobText(b64: string, mimeType: unknown): { text: string; encoding: BlobEncoding } | undefined {
  if (b64.length === 0) return undefined;
  const textual = typeof mimeType === 'string' && TEXT_MIME.test(mimeType);
  // Sniff from the head first, so a large image is not decoded whole only to be left alone.
  const kind = sniffText(Buffer.from(b64.length > SNIFF_B64 ? b64.slice(0, SNIFF_B64) : b64, 'base64'), textual);
  if (kind === undefined) return undefined;
  const buf = Buffer.from(b64, 'base64');
  if (buf.length === 0) return undefined;
  if (kind === 'utf16le') return { text: buf.toString('utf16le'), encoding: 'utf16le' };
  if (kind === 'utf16be') return { text: swapped(buf).toString('utf16le'), encoding: 'utf16be' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf), encoding: 'utf8' };
  } catch {
    // Not UTF-8: 8-bit text (Latin-1, Windows-1252, …) when the type says text or the bytes read as text throughout.
    if (!textual && (buf.includes(0) || highShare(buf) > 100)) return undefined;
    return { text: buf.toString('latin1'), encoding: 'latin1' };
  }
}

/** A copy of UTF-16BE bytes as UTF-16LE (an odd last byte dropped). */
function swapped(buf: Buffer): Buffer {
  const even = Buffer.from(buf.subarray(0, buf.length & ~1));
  return even.swap16();
}

/** The bytes of a blob's text, in the encoding it was read in. */
function blobBytes(text: string, encoding: BlobEncoding): Buffer {
  if (encoding === 'utf16be') return Buffer.from(text, 'utf16le').swap16();
  return Buffer.from(text, encoding);
}

export class Redactor {
  readonly detector: Detector;
  private readonly opts: RedactOptions;

  constructor(detector: Detector, opts: RedactOptions) {
    this.detector = detector;
    this.opts = opts;
  }

  /** Collects the scannable leaves of `value` (strings, numbers, text blobs) under their holders. */
  private collect(root: unknown, skip: Set<unknown> | undefined): Leaf[] {
    const leaves: Leaf[] = [];
    const stack: { v: unknown; prop: string | undefined }[] = [{ v: root, prop: undefined }];
    while (stack.length) {
      const { v, prop } = stack.pop()!;
      if (skip?.has(v)) continue;
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) {
          const x = v[i];
          if (typeof x === 'string') leaves.push({ holder: v, key: i, prop, text: x, kind: 'string' });
          else if (typeof x === 'number') leaves.push({ holder: v, key: i, prop, text: String(x), kind: 'number' });
          else if (x !== null && typeof x === 'object') stack.push({ v: x, prop });
        }
      } else if (isObject(v)) {
        for (const k of Object.keys(v)) {
          if (SKIP_KEYS.has(k)) continue;
          const x = v[k];
          if (typeof x === 'string') {
            if (k === 'blob' || (k === 'data' && isBinaryBlock(v))) {
              const blob = blobText(x, v['mimeType']);
              if (blob !== undefined) leaves.push({ holder: v, key: k, prop: k, text: blob.text, kind: 'blob', encoding: blob.encoding });
            } else leaves.push({ holder: v, key: k, prop: k, text: x, kind: 'string' });
          } else if (typeof x === 'number') leaves.push({ holder: v, key: k, prop: k, text: String(x), kind: 'number' });
          else if (x !== null && typeof x === 'object') stack.push({ v: x, prop: k });
        }
      }
    }
    return leaves;
  }

  /**
   * Scans `root` in place. `raw`, when given, is the message's original JSON text: if it rules out any finding
   * (Detector.rawTriggered), nothing is walked; `rawUtf8`: the bytes it was received as. `rules`: the rules a caller
   * already found enabled (a superset).
   * `skip`: objects not to descend into.
   */
  redact(root: unknown, opts: { raw?: string | undefined; rawUtf8?: Buffer | undefined; rules?: Set<Rule> | undefined; skip?: Set<unknown> | undefined } = {}): RedactOutcome {
    const det = this.detector;
    let pre = opts.rules;
    if (pre === undefined && opts.raw !== undefined) pre = det.rawTriggered(opts.raw, opts.rawUtf8);
    if (pre !== undefined && pre.size === 0) return NOTHING;
    if (root === null || typeof root !== 'object') return NOTHING;
    const skip = opts.skip;
    const leaves = this.collect(root, skip);
    if (leaves.length === 0) return NOTHING;
    const limit = this.opts.maxFindings;
    const counts: Record<string, number> = {};
    let blocked: RedactOutcome['blocked'];
    // Base64 inside strings (redaction.decode_base64): what it holds is acted on first, and the string keeps the
    // run encoded again, so the rules below see the string as it will leave.
    let total = 0;
    const recoded: number[] = [];
    if (det.decodeBase64) {
      for (let i = 0; i < leaves.length; i++) {
        const leaf = leaves[i]!;
        if (leaf.kind !== 'string') continue;
        const r = this.inBase64(leaf.text, counts);
        if (r === undefined) continue;
        total += r.findings;
        blocked ??= r.blocked;
        if (r.text !== leaf.text) {
          leaf.text = r.text;
          recoded.push(i);
        }
      }
    }
    // Findings per leaf, in leaf-local offsets.
    const perLeaf = new Map<number, RawFinding[]>();
    const add = (i: number, f: RawFinding) => {
      let list = perLeaf.get(i);
      if (!list) perLeaf.set(i, (list = []));
      list.push(f);
      total++;
    };
    // Key rules: by property name.
    if (det.keyRules.length) {
      for (let i = 0; i < leaves.length; i++) {
        const leaf = leaves[i]!;
        if (leaf.prop === undefined || leaf.kind !== 'string') continue;
        for (const rule of det.keyRulesFor(leaf.prop)) {
          const span = det.scanKeyed(rule, leaf.text);
          if (span) add(i, { rule, start: span[0], end: span[1] });
        }
      }
    }
    // Pattern rules: over the joined text.
    const texts = leaves.map((l) => l.text);
    const joined = texts.length === 1 ? texts[0]! : texts.join(SEPARATOR);
    // Encoded here only for the prefilter; with the caller's rules, scanRules encodes it if a pattern rule runs.
    const bytes = pre ? undefined : det.utf8(joined);
    const rules = pre ?? det.enabled(joined, bytes);
    if (rules.size) {
      const found: RawFinding[] = [];
      det.scanRules(joined, rules, found, limit + 1, bytes);
      if (found.length) {
        const starts = new Array<number>(leaves.length);
        let off = 0;
        for (let i = 0; i < texts.length; i++) {
          starts[i] = off;
          off += texts[i]!.length + 1;
        }
        for (const f of found) {
          let lo = 0;
          let hi = starts.length - 1;
          while (lo < hi) {
            const mid = (lo + hi + 1) >> 1;
            if (starts[mid]! <= f.start) lo = mid;
            else hi = mid - 1;
          }
          const base = starts[lo]!;
          add(lo, { rule: f.rule, start: f.start - base, end: Math.min(f.end - base, texts[lo]!.length) });
        }
      }
    }
    if (total === 0) return NOTHING;
    if (total > limit) blocked = { rule: 'too-many-findings', category: 'limit' };
    let changed = false;
    // A string whose base64 was encoded again leaves as such; one with findings of its own is written below.
    if (!blocked) {
      for (const i of recoded) {
        const leaf = leaves[i]!;
        (leaf.holder as Record<string | number, unknown>)[leaf.key] = leaf.text;
        changed = true;
      }
    }
    for (const [i, list] of perLeaf) {
      const leaf = leaves[i]!;
      const kept = resolveOverlaps(list);
      let out = '';
      let at = 0;
      let edits = 0;
      for (const f of kept) {
        counts[f.rule.id] = (counts[f.rule.id] ?? 0) + 1;
        const action = this.opts.actionOf(f.rule);
        if (action === 'block') blocked ??= { rule: f.rule.id, category: f.rule.category };
        if (action === 'detect' || action === 'block') continue;
        out += leaf.text.slice(at, f.start) + this.replacement(f.rule, action, leaf.text.slice(f.start, f.end));
        at = f.end;
        edits++;
      }
      if (edits === 0 || blocked) continue;
      out += leaf.text.slice(at);
      const value = leaf.kind === 'blob' ? blobBytes(out, leaf.encoding!).toString('base64') : out;
      (leaf.holder as Record<string | number, unknown>)[leaf.key] = value;
      changed = true;
    }
    return { changed, counts, blocked };
  }

  /**
   * The base64 runs in one string that decode to text, scanned and acted on as any text is: the string with each run
   * whose text changed encoded again (as it was: alphabet, padding, line width), the findings counted into `counts`,
   * and a block finding's rule. Undefined when no run held a finding.
   */
  private inBase64(text: string, counts: Record<string, number>): { text: string; findings: number; blocked: RedactOutcome['blocked'] } | undefined {
    const { edits, blocked } = this.base64Edits(text);
    if (edits.length === 0) return undefined;
    let findings = 0;
    for (const e of edits) {
      findings += e.findings.length;
      for (const f of e.findings) counts[f.rule] = (counts[f.rule] ?? 0) + 1;
    }
    return { text: spliceRuns(text, edits).text, findings, blocked };
  }

  /**
   * Each base64 run in `text` (offsets in it) whose decoded text holds findings: those findings (offsets in the decoded
   * text), and the run encoded again when its text changed (undefined when it did not). One level deep.
   */
  private base64Edits(text: string): { edits: RunEdit[]; blocked: RedactOutcome['blocked'] } {
    const edits: RunEdit[] = [];
    let blocked: RedactOutcome['blocked'];
    for (let run of base64Runs(text)) {
      let decoded = base64Text(run);
      if (decoded === undefined) {
        const shorter = withoutShortLastLine(run);
        if (shorter === undefined || (decoded = base64Text(shorter)) === undefined) continue;
        run = shorter;
      }
      const r = this.redactText(decoded);
      if (r.findings.length === 0) continue;
      blocked ??= r.blocked;
      edits.push({ start: run.start, end: run.end, text: r.text === decoded ? undefined : encodeLike(run, r.text), findings: r.findings });
    }
    return { edits, blocked };
  }

  /**
   * `redactText` as the proxy treats a text string, for `mcp-warden redact`: with `decodeBase64`, base64 runs are
   * decoded and acted on first, then the rules run over the text with those runs encoded again. Findings carry offsets
   * in the input: one inside a run spans the whole run and is marked `base64`.
   */
  redactTextAsSent(text: string): { text: string; findings: Finding[]; blocked: RedactOutcome['blocked'] } {
    if (!this.detector.decodeBase64) return this.redactText(text);
    const { edits, blocked } = this.base64Edits(text);
    if (edits.length === 0) return this.redactText(text);
    // The text as the rules see it, and where each changed run lies in it (and, through its edit, in the input).
    const { text: sent, placed } = spliceRuns(text, edits);
    // An offset in `sent` → the input's: inside a changed run, the run's own start (or end); past one, shifted back.
    const toInput = (p: number, isEnd: boolean): number => {
      let lo = 0;
      let hi = placed.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (placed[mid]!.end <= p) lo = mid + 1;
        else hi = mid;
      }
      // `lo`: the first changed run that ends after p; p is inside it past its first character (at the run's edges
      // both ways give the same offset).
      const run = placed[lo];
      if (run && run.start < p) return isEnd ? run.edit.end : run.edit.start;
      const before = placed[lo - 1];
      return before ? p - before.end + before.edit.end : p;
    };
    const r = this.redactText(sent);
    const findings: Finding[] = r.findings.map((f) => ({ ...f, start: toInput(f.start, false), end: toInput(f.end, true) }));
    for (const e of edits) for (const f of e.findings) findings.push({ rule: f.rule, category: f.category, start: e.start, end: e.end, base64: true });
    findings.sort((a, b) => a.start - b.start || a.end - b.end);
    return { text: r.text, findings, blocked: blocked ?? r.blocked };
  }

  /** Findings in one text, for `mcp-warden redact` and tests. */
  findings(text: string): Finding[] {
    const raw = this.detector.scan(text, this.opts.maxFindings + 1);
    return resolveOverlaps(raw).map((f) => ({ rule: f.rule.id, category: f.rule.category, start: f.start, end: f.end }));
  }

  /**
   * Applies actions to one text; returns the new text and the findings (positions in the input). `blockMasks`: a
   * `block` finding is masked in place (for text that cannot be withheld on its own, such as a tool's description).
   */
  redactText(text: string, o: { blockMasks?: boolean } = {}): { text: string; findings: Finding[]; blocked: RedactOutcome['blocked'] } {
    const kept = resolveOverlaps(this.detector.scan(text, this.opts.maxFindings + 1));
    let out = '';
    let at = 0;
    let blocked: RedactOutcome['blocked'];
    for (const f of kept) {
      let action = this.opts.actionOf(f.rule);
      if (action === 'block' && o.blockMasks) action = 'mask';
      if (action === 'block') blocked ??= { rule: f.rule.id, category: f.rule.category };
      if (action === 'detect' || action === 'block') continue;
      out += text.slice(at, f.start) + this.replacement(f.rule, action, text.slice(f.start, f.end));
      at = f.end;
    }
    out += text.slice(at);
    return { text: out, findings: kept.map((f) => ({ rule: f.rule.id, category: f.rule.category, start: f.start, end: f.end })), blocked };
  }

  replacement(rule: Rule, action: Action, value: string): string {
    if (action === 'partial') return value.length > 8 ? `[REDACTED:${rule.id}:****${value.slice(-4)}]` : `[REDACTED:${rule.id}]`;
    if (action === 'hash') return `[REDACTED:${rule.id}:${createHmac('sha256', this.opts.hashKey()).update(value).digest('hex').slice(0, 12)}]`;
    return `[REDACTED:${rule.id}]`;
  }
}

export function mergeCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
  return into;
}
