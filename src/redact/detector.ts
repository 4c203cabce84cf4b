/**
 * The detector: which rules run, where they match.
 *
 * One pass of an RE2.Set over the text finds every keyword (case-insensitive) and trigger present; only the rules
 * they name run, each once over the whole text. Everything is RE2, so the cost is linear in the input whatever the
 * patterns or the text (no backtracking, no ReDoS). Candidates then pass the rule's checks: minimum length,
 * entropy, validator, allow lists.
 */
import RE2 from 're2';
import { hasBase64Run } from './base64.js';
import { entropy } from './validators.js';
import type { Rule } from './rules.js';

export interface RawFinding {
  rule: Rule;
  /** UTF-16 offsets in the scanned text. */
  start: number;
  end: number;
}

/** Characters that render as nothing and can be slipped into a secret (linear-time character classes). */
const INVISIBLE = /[\u00ad\u200b-\u200d\u2060\ufeff]/;
const INVISIBLE_ALL = /[\u00ad\u200b-\u200d\u2060\ufeff]+/g;

/** Separator between the strings of one message when they are scanned together. */
export const SEPARATOR = '\u0000';

const META = /[\\^$.*+?()[\]{}|]/g;

/** What one anchored try costs besides the bytes it reads, in bytes of scanning (measured: ~0.4 µs per call). */
const TRY_COST = 256;

/** Characters that stand for themselves in a pattern outside a class, and punctuation an escape makes literal. */
const LITERAL_CHAR = /^[A-Za-z0-9_\-@:/=~!%&'",<> ]$/;
const ESCAPED_LITERAL = /^[.\-_/+*?()[\]{}|^$\\]$/;

/**
 * Index of the `]` closing the character class opened at `open`, or -1. A class whose first member is ']' reads
 * differently in JS and RE2 syntax: not worth the doubt (-1).
 */
function classEnd(source: string, open: number): number {
  let j = open + 1;
  if (source[j] === '^') j++;
  if (source[j] === ']') return -1;
  for (; j < source.length && source[j] !== ']'; j++) if (source[j] === '\\') j++;
  return j < source.length ? j : -1;
}

/** Index of the `)` closing the group opened at `open`, or -1 (escapes and character classes skipped). */
function groupEnd(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') {
      i = classEnd(source, i);
      if (i < 0) return -1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/**
 * An upper bound on the bytes a match of a pattern spans (every character counted as four, UTF-8's longest), or
 * Infinity when a repetition is unbounded or the syntax is not one this reads. Alternation takes the longest branch.
 */
export function maxMatchBytes(source: string): number {
  let i = 0;
  const seq = (): number => {
    let best = 0;
    let cur = 0;
    while (i < source.length && source[i] !== ')') {
      const c = source[i]!;
      if (c === '|') {
        best = Math.max(best, cur);
        cur = 0;
        i++;
        continue;
      }
      let atom: number;
      if (c === '(') {
        i++;
        if (source[i] === '?') {
          const flags = /^\?([a-zA-Z-]*)([:)])/.exec(source.slice(i));
          const named = /^\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(source.slice(i));
          if (named) i += named[0].length;
          else if (flags) {
            i += flags[0].length;
            if (flags[2] === ')') continue; // (?i): sets flags, matches nothing
          } else return Infinity;
        }
        atom = seq();
        if (source[i] !== ')') return Infinity;
        i++;
      } else if (c === '[') {
        const end = classEnd(source, i);
        if (end < 0) return Infinity;
        i = end + 1;
        atom = 4;
      } else if (c === '\\') {
        const e = source[i + 1];
        if (e === undefined || /[0-9kcpPxu]/.test(e)) return Infinity; // references, \x, \u, \p: not read here
        i += 2;
        atom = 'bB'.includes(e) ? 0 : 4;
      } else {
        i++;
        atom = c === '^' || c === '$' ? 0 : 4;
      }
      let times = 1;
      const q = source[i];
      if (q === '*' || q === '+') {
        if (atom > 0) return Infinity;
        i++;
      } else if (q === '?') i++;
      else if (q === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
        if (!m) return Infinity;
        i += m[0].length;
        times = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
        if (!Number.isFinite(times) && atom > 0) return Infinity;
      }
      if (q !== undefined && '*+?{'.includes(q) && source[i] === '?') i++; // lazy
      cur += atom === 0 ? 0 : atom * times;
    }
    return Math.max(best, cur);
  };
  const n = seq();
  return i === source.length ? n : Infinity;
}

/**
 * The literal text every match of a pattern starts with, or undefined when its shape does not show one. Only one
 * shape qualifies, so the answer is sound without a regex parser: an optional leading \b; groups opened with ( or
 * (?: that are not optional (no ?, * or {0 after their close); then literal characters, followed by a class, an
 * escape, a group or a dot (a quantifier takes the last character back). No alternation anywhere, no inline flags
 * before the literal, at least three characters. A match can then only start where the literal occurs.
 */
export function literalPrefix(source: string): string | undefined {
  if (source.includes('|')) return undefined;
  let i = source.startsWith('\\b') ? 2 : 0;
  const opened: number[] = [];
  while (source[i] === '(') {
    opened.push(i);
    if (source[i + 1] === '?') {
      if (source[i + 2] !== ':') return undefined;
      i += 3;
    } else i++;
  }
  let lit = '';
  for (;;) {
    const c = source[i];
    if (c !== undefined && LITERAL_CHAR.test(c)) {
      lit += c;
      i++;
    } else if (c === '\\' && ESCAPED_LITERAL.test(source[i + 1] ?? '')) {
      lit += source[i + 1];
      i += 2;
    } else break;
  }
  const next = source[i];
  if (next === '?' || next === '*' || next === '+' || next === '{') lit = lit.slice(0, -1);
  else if (next === undefined ? opened.length > 0 : !'[\\(.'.includes(next)) return undefined;
  for (const open of opened) {
    const close = groupEnd(source, open);
    if (close < 0) return undefined;
    const after = source[close + 1];
    if (after === '?' || after === '*') return undefined;
    if (after === '{') {
      const min = /^\{(\d*)/.exec(source.slice(close + 1))![1]!;
      if (min === '' || Number(min) === 0) return undefined;
    }
  }
  return lit.length >= 3 ? lit : undefined;
}

/**
 * Whether a pattern's group 1 is its whole match: one capturing group, with nothing around it but a \b on either side
 * (which matches no characters). An anchored `test` then tells where the value ends, and returns no groups: a match
 * costs a tenth of an `exec`, which builds an array, a copy of each group and their offsets (measured: 0.3 against
 * 3.5 µs).
 */
export function wholeGroup(source: string): boolean {
  const open = source.startsWith('\\b') ? 2 : 0;
  if (source[open] !== '(' || source[open + 1] === '?') return false;
  const close = groupEnd(source, open);
  if (close < 0) return false;
  const rest = source.slice(close + 1);
  return rest === '' || rest === '\\b';
}

/**
 * Whether JSON text holds an escape other than \n, \r and \t (what `/\\[^nrt]/` finds, a lone trailing backslash
 * included), by jumping from backslash to backslash: the regular expression took 1 ms on a 1.4 MB result.
 */
function unsafeEscape(raw: string): boolean {
  for (let i = raw.indexOf('\\'); i >= 0; i = raw.indexOf('\\', i + 2)) {
    const c = raw.charCodeAt(i + 1);
    if (c !== 110 && c !== 114 && c !== 116) return true;
  }
  return false;
}

/** Whether a trigger can never match a newline, CR or tab: no dot, negated class, \s, \W, \D, \x, \p or \C. */
export function controlSafe(source: string): boolean {
  const stripped = source
    .replace(/\\(.)/g, (_m, c: string) => ('sWDxpPCnrtvfaU'.includes(c) ? '\u0001' : 'x'))
    .replace(/\[(?!\^)[^\]]*\]/g, (cls) => (cls.includes('\u0001') ? '\u0001' : 'x'));
  return !/[.\u0001]|\[\^/.test(stripped);
}

/**
 * Byte offset → UTF-16 offset for a UTF-8 buffer, in time proportional to the distance from a checkpoint
 * (every 1 KiB). Offsets handed in are always at character boundaries (RE2 matches whole characters).
 */
function utf16Offsets(buf: Buffer): (byte: number) => number {
  const STEP = 1024;
  const marks = new Array<number>(Math.floor(buf.length / STEP) + 1);
  let units = 0;
  for (let i = 0; i < buf.length; i++) {
    if (i % STEP === 0) marks[i / STEP] = units;
    const c = buf[i]!;
    if ((c & 0xc0) !== 0x80) units += c >= 0xf0 ? 2 : 1;
  }
  if (buf.length % STEP === 0) marks[buf.length / STEP] = units;
  return (byte) => {
    const k = Math.floor(byte / STEP);
    let u = marks[k]!;
    for (let i = k * STEP; i < byte; i++) {
      const c = buf[i]!;
      if ((c & 0xc0) !== 0x80) u += c >= 0xf0 ? 2 : 1;
    }
    return u;
  };
}

function escapeLiteral(s: string): string {
  return s.replace(META, '\\$&');
}

/**
 * Whether a pattern matches texts of many lengths by repeating a class (`{23,27}`, `{8,}`, `+`, `*`). Searched for
 * anywhere in a text, such a pattern keeps a partial match alive from every position where one could start, and in
 * one RE2.Set with the keywords the automaton's states multiply: the set's scan of 1.4 MB of base64 (a file a tool
 * returned) took 700 ms with the Discord token's trigger in it and 6 ms without.
 */
export function variableLength(pattern: string): boolean {
  return /(?<!\\)(?:\{\d+,\d*\}|[+*])/.test(pattern.replace(/\\./g, '').replace(/\[(?:\\.|[^\]])*\]/g, 'C'));
}

/**
 * An RE2.Set, split into several if one would exceed RE2's memory budget. The patterns from `aloneFrom` on get a set
 * each (variableLength): each costs one more pass over the text, and keeps the others' automaton small.
 */
class PatternSets {
  private readonly sets: { set: ReturnType<typeof RE2.Set>; offset: number }[] = [];
  private readonly flags: string;

  constructor(patterns: string[], flags = '', aloneFrom = patterns.length) {
    this.flags = flags;
    this.build(patterns.slice(0, aloneFrom), 0);
    for (let i = aloneFrom; i < patterns.length; i++) this.build([patterns[i]!], i);
  }

  // RE2 works on UTF-8: callers hand in a Buffer made once, which costs far less than the string conversion
  // node-re2 does per call (measured: 0.7 µs instead of 1.7 µs for a 90-byte message; 1 ms less for a 1.4 MB one).
  test(bytes: Buffer): boolean {
    for (const { set } of this.sets) if (set.test(bytes)) return true;
    return false;
  }

  private build(patterns: string[], offset: number): void {
    if (patterns.length === 0) return;
    try {
      this.sets.push({ set: new RE2.Set(patterns, this.flags), offset });
    } catch (e) {
      if (patterns.length === 1) throw e;
      const half = patterns.length >> 1;
      this.build(patterns.slice(0, half), offset);
      this.build(patterns.slice(half), offset + half);
    }
  }

  match(bytes: Buffer): number[] {
    if (this.sets.length === 1) return this.sets[0]!.set.match(bytes);
    const out: number[] = [];
    for (const { set, offset } of this.sets) for (const i of set.match(bytes)) out.push(i + offset);
    return out;
  }
}

/**
 * Texts of at least this many UTF-16 units are encoded into the detector's scratch buffer, not a fresh one: a fresh
 * copy of a large text is memory the process has not touched before, and each of its pages costs a fault (a 1 MiB
 * copy: 0.3 ms where a fault costs 1.2 µs, 2.8 ms on a machine where it costs 10.6 µs; writing into the scratch
 * buffer again: 0.05 ms). Smaller ones come from Node's pool.
 */
const SCRATCH_MIN = 16 * 1024;
/** Texts longer than this are encoded afresh, so the scratch buffer never holds more than 12 MiB. */
const SCRATCH_MAX_UNITS = 4 * 1024 * 1024;

/** A pattern tried at each occurrence of its literal prefix (Detector.prefixOf). */
interface Prefixed {
  bytes: Buffer;
  /** The pattern anchored where it is tried: with offsets (flag d), or without when `whole`. */
  sticky: RE2;
  bound: number;
  /** Group 1 is the whole match (wholeGroup): `test` finds the value. */
  whole: boolean;
}

export class Detector {
  readonly rules: readonly Rule[];
  /** Rules with a pattern and neither keywords nor trigger: they always run. */
  private readonly always: Rule[];
  readonly keyRules: readonly Rule[];
  private readonly sets: PatternSets | undefined;
  /** For each set entry, the rules it enables. */
  private readonly entryRules: Rule[][];
  /** No trigger can match a newline, CR or tab, so raw text with those escapes can stand in for the decoded text. */
  private readonly controlSafe: boolean;
  private readonly keyCache = new Map<string, Rule[]>();

  /** Per pattern rule: its literal prefix and an anchored copy of its pattern, or null (computed at first use). */
  private readonly prefixes = new Map<Rule, Prefixed | null>();
  private readonly usePrefixes: boolean;
  /** Where large texts are encoded (utf8): grows to three bytes per unit of the longest text up to the cap. */
  private scratch: Buffer | undefined;
  /** Base64 inside text strings is decoded and what it holds scanned (the redactor does it; `redaction.decode_base64`). */
  readonly decodeBase64: boolean;

  /** `literalPrefixes: false` scans every rule over the whole text (the tests compare both ways). */
  constructor(rules: readonly Rule[], opts: { literalPrefixes?: boolean; decodeBase64?: boolean } = {}) {
    this.usePrefixes = opts.literalPrefixes ?? true;
    this.decodeBase64 = opts.decodeBase64 ?? false;
    this.rules = rules.filter((r) => r.enabled);
    this.always = this.rules.filter((r) => r.re && !r.key && r.keywords.length === 0 && r.trigger === undefined);
    this.keyRules = this.rules.filter((r) => r.key);
    // One set, one pass: keywords as case-insensitive literals, triggers as written (a case-insensitive [A-Z]
    // trigger would fire on every lower-case hex string).
    const entries = new Map<string, Rule[]>();
    const add = (p: string, r: Rule) => {
      let list = entries.get(p);
      if (!list) entries.set(p, (list = []));
      list.push(r);
    };
    for (const r of this.rules) {
      // Key rules' keywords matter only where property names are part of the scanned text (the raw message).
      for (const k of r.keywords) add(`(?i)${escapeLiteral(k)}`, r);
      if (r.trigger !== undefined && !r.key) add(r.trigger, r);
    }
    // A trigger of variable length (`{23,27}`, `+`) goes last, in a set of its own: see PatternSets.
    const keys = [...entries.keys()];
    const fixed = keys.filter((p) => !variableLength(p));
    const order = [...fixed, ...keys.filter(variableLength)];
    this.entryRules = order.map((p) => entries.get(p)!);
    this.sets = entries.size ? new PatternSets(order, '', fixed.length) : undefined;
    this.controlSafe = this.rules.every((r) => r.trigger === undefined || controlSafe(r.trigger));
  }

  /**
   * The text's UTF-8 bytes, for `enabled` and `scanRules`. A large text's bytes are a view of the scratch buffer:
   * valid until the next call, so nothing may keep them (findings hold offsets, never bytes).
   */
  utf8(text: string): Buffer {
    if (text.length < SCRATCH_MIN || text.length > SCRATCH_MAX_UNITS) return Buffer.from(text, 'utf8');
    // Three bytes per UTF-16 unit is UTF-8's most (a surrogate pair: four bytes for two units), so write never
    // stops short.
    const need = text.length * 3;
    if (this.scratch === undefined || this.scratch.length < need) this.scratch = Buffer.allocUnsafe(need);
    return this.scratch.subarray(0, this.scratch.write(text, 0, 'utf8'));
  }

  /**
   * The rules this text's keywords and triggers enable (key rules included when their keywords appear), empty when
   * nothing can be found. One UTF-8 copy serves both passes, and most texts enable nothing, so a yes/no pass over
   * the set comes first (cheaper than collecting which entries match).
   */
  enabled(text: string, utf8?: Buffer): Set<Rule> {
    const bytes = utf8 ?? this.utf8(text);
    if (this.always.length === 0 && !(this.sets?.test(bytes) ?? false)) return new Set();
    const out = new Set<Rule>(this.always);
    if (this.sets) for (const i of this.sets.match(bytes)) for (const r of this.entryRules[i]!) out.add(r);
    return out;
  }

  /**
   * The rules a message's raw JSON text enables, when that stands in for its decoded strings; undefined when it
   * cannot. JSON escapes could hide a keyword (`\u0067hp_`, `\/`, `\"`), so only text whose escapes are \n, \r
   * and \t qualifies — and only when no trigger could match those characters. Messages with base64 fields
   * (blobs, image and audio data: decoded and scanned when they hold text) never qualify, nor, with
   * `decodeBase64`, messages with a run of base64 characters in them. Raw text holds the
   * property names too, so this is a superset of what the decoded strings enable. An empty set is the fast
   * path: nothing can be found, forward the original bytes. `utf8`: the bytes `raw` was received as, when the
   * transport kept them (a large message is then not encoded again).
   */
  rawTriggered(raw: string, utf8?: Buffer): Set<Rule> | undefined {
    if (raw.indexOf('"blob"') >= 0 || (raw.indexOf('"data"') >= 0 && (raw.indexOf('"image"') >= 0 || raw.indexOf('"audio"') >= 0))) return undefined;
    if (raw.indexOf('\\') >= 0 && (!this.controlSafe || unsafeEscape(raw))) return undefined;
    if (this.decodeBase64 && hasBase64Run(raw)) return undefined;
    return this.enabled(raw, utf8);
  }

  /** Key rules whose `key` matches this property name (cached: property names repeat). */
  keyRulesFor(prop: string): Rule[] {
    let list = this.keyCache.get(prop);
    if (!list) {
      list = this.keyRules.filter((r) => r.key!.test(prop));
      if (this.keyCache.size > 4096) this.keyCache.clear();
      this.keyCache.set(prop, list);
    }
    return list;
  }

  /** Whether a candidate value passes the rule's checks. */
  accepts(rule: Rule, value: string): boolean {
    if (value.length < rule.minLength) return false;
    if (rule.entropy !== undefined && entropy(value) < rule.entropy) return false;
    if (rule.validate && !rule.validate(value)) return false;
    for (const a of rule.allow) if (a.test(value)) return false;
    return true;
  }

  /**
   * A pattern that can only match where a literal occurs (literalPrefix) and whose matches are bounded in length
   * (maxMatchBytes) is tried at each occurrence, anchored: RE2 cannot skip ahead to a literal behind a leading \b,
   * so a full scan costs ~2 ms per MiB per rule, while the occurrences of a literal are found at memory speed. The
   * matches are the same: the leftmost match from a position starts at the first occurrence, from there on, where
   * the anchored pattern matches. Each try reads at most the bound; once the tries could have cost as much as a
   * plain scan of the text (a text dense with the literal), the rest is scanned the plain way: never much more than
   * twice a plain scan, and linear.
   */
  private prefixOf(rule: Rule): Prefixed | null {
    const have = this.prefixes.get(rule);
    if (have !== undefined) return have;
    const re = rule.re!;
    const lit = this.usePrefixes && !re.flags.includes('i') ? literalPrefix(re.source) : undefined;
    const bound = lit ? maxMatchBytes(re.source) : Infinity;
    const whole = wholeGroup(re.source);
    const p = lit && Number.isFinite(bound) ? { bytes: Buffer.from(lit), sticky: new RE2(re.source, whole ? 'y' : 'dy'), bound, whole } : null;
    this.prefixes.set(rule, p);
    return p;
  }

  /**
   * Runs `rules` (pattern rules) over `text`. Matches never extend past a SEPARATOR. `utf8`: the text's bytes, when
   * the caller has them (from `utf8`).
   */
  scanRules(text: string, rules: Iterable<Rule>, out: RawFinding[], limit: number, utf8?: Buffer): void {
    // RE2 works on UTF-8: hand it one Buffer for all rules (a JS string would be converted on every exec, and
    // each exec would re-count offsets from the start: quadratic in the number of matches).
    let buf: Buffer | undefined;
    let toChar: (byte: number) => number = (b) => b;
    // Separator positions, found once: indexOf per finding would rescan long strings (quadratic).
    let seps: number[] | undefined;
    const nextSeparator = (from: number): number => {
      if (!seps) {
        seps = [];
        for (let i = text.indexOf(SEPARATOR); i >= 0; i = text.indexOf(SEPARATOR, i + 1)) seps.push(i);
      }
      let lo = 0;
      let hi = seps.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seps[mid]! < from) lo = mid + 1;
        else hi = mid;
      }
      return lo < seps.length ? seps[lo]! : Infinity;
    };
    for (const rule of rules) {
      const re = rule.re;
      if (!re || rule.key) continue;
      if (!buf) {
        buf = utf8 ?? this.utf8(text);
        if (buf.length !== text.length) toChar = utf16Offsets(buf);
      }
      let lit = this.prefixOf(rule);
      // What the anchored tries may cost before a plain scan takes over: one scan's worth of bytes, each try
      // counted as its bound plus TRY_COST (a call into RE2 costs about as much as scanning that many bytes).
      let budget = buf.length;
      let resume = 0;
      for (;;) {
        // Byte offsets of the match and of the value (group 1, else the match): from `m`, or from an anchored test.
        let m: RegExpExecArray | null = null;
        let mStart = 0;
        let mEnd = 0;
        if (lit && budget < 0) lit = null;
        if (lit) {
          // Every match starts where the literal does: try the pattern there only (anchored), not everywhere.
          const at = buf.indexOf(lit.bytes, resume);
          if (at < 0) break;
          budget -= lit.bound + TRY_COST;
          lit.sticky.lastIndex = at;
          const found = lit.whole ? lit.sticky.test(buf as unknown as string) : (m = lit.sticky.exec(buf as unknown as string)) !== null;
          if (!found) {
            resume = at + 1;
            continue;
          }
          mStart = at;
          mEnd = lit.sticky.lastIndex;
        } else {
          re.lastIndex = resume;
          m = re.exec(buf as unknown as string);
          if (!m) break;
        }
        if (m) {
          mStart = m.index;
          mEnd = m.indices![0]![1];
        }
        const [bStart, bEnd] = m ? (m.indices![1] ?? m.indices![0]!) : [mStart, mEnd];
        // Resume right after the value, not after the match: the boundary a pattern consumed after one value
        // may be the boundary the next value needs before it ("a@b.io c@d.io").
        resume = Math.max(bEnd, mStart + 1);
        if (bStart === bEnd) continue;
        const start = toChar(bStart);
        let end = toChar(bEnd);
        const sep = nextSeparator(start);
        if (sep < end) end = sep;
        if (!this.accepts(rule, text.slice(start, end))) continue;
        // The label may be the tail of a longer name (nextPageToken): look a little before the match too.
        if (rule.exclude) {
          const from = toChar(mStart);
          if (rule.exclude.test(text.slice(Math.max(0, from - 24), toChar(mEnd)))) continue;
        }
        out.push({ rule, start, end });
        if (out.length >= limit) return;
      }
    }
  }

  /**
   * Scans one text: prefilter, then the enabled rules. Invisible characters (zero-width spaces and joiners, word
   * joiner, BOM, soft hyphen) inserted into a secret would hide it from every pattern, so a text holding any is
   * scanned a second time without them and those findings are mapped back onto the original (covering the
   * inserted characters too).
   */
  scan(text: string, limit = 100_000): RawFinding[] {
    const out: RawFinding[] = [];
    this.scanEnabled(text, out, limit);
    if (!INVISIBLE.test(text)) return out;
    const keep: number[] = [];
    const parts: string[] = [];
    let from = 0;
    INVISIBLE_ALL.lastIndex = 0;
    for (let m = INVISIBLE_ALL.exec(text); m; m = INVISIBLE_ALL.exec(text)) {
      parts.push(text.slice(from, m.index));
      for (let i = from; i < m.index; i++) keep.push(i);
      from = m.index + m[0].length;
    }
    parts.push(text.slice(from));
    for (let i = from; i < text.length; i++) keep.push(i);
    const stripped = parts.join('');
    const inner: RawFinding[] = [];
    this.scanEnabled(stripped, inner, limit);
    for (const f of inner) if (f.end > f.start) out.push({ rule: f.rule, start: keep[f.start]!, end: keep[f.end - 1]! + 1 });
    return out;
  }

  /** The prefilter, then the rules it enables, on one encoding of the text. */
  private scanEnabled(text: string, out: RawFinding[], limit: number): void {
    const bytes = this.utf8(text);
    const rules = this.enabled(text, bytes);
    if (rules.size) this.scanRules(text, rules, out, limit, bytes);
  }

  /** Runs a key rule on the value of a matching property; returns the span or undefined. */
  scanKeyed(rule: Rule, value: string): [number, number] | undefined {
    if (!rule.re) return this.accepts(rule, value) ? [0, value.length] : undefined;
    rule.re.lastIndex = 0;
    const m = rule.re.exec(value);
    if (!m) return undefined;
    const span = m.indices![1] ?? m.indices![0]!;
    return this.accepts(rule, value.slice(span[0], span[1])) ? [span[0], span[1]] : undefined;
  }
}

/**
 * Picks the findings to act on: where two overlap, a specific rule beats a generic one, then the earlier, then the
 * longer. Returns them sorted by start.
 */
export function resolveOverlaps(findings: RawFinding[]): RawFinding[] {
  if (findings.length <= 1) return findings;
  const ranked = [...findings].sort((a, b) => Number(a.rule.generic) - Number(b.rule.generic) || a.start - b.start || b.end - b.start - (a.end - a.start));
  const kept: RawFinding[] = [];
  for (const f of ranked) {
    // kept is sorted by start; find the neighbours of f.
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[mid]!.start < f.start) lo = mid + 1;
      else hi = mid;
    }
    const prev = kept[lo - 1];
    const next = kept[lo];
    if (prev && prev.end > f.start) continue;
    if (next && next.start < f.end) continue;
    kept.splice(lo, 0, f);
  }
  return kept;
}
