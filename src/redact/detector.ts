/**
 * The detector: which rules run, where they match.
 *
 * One pass of an RE2.Set over the text finds every keyword (case-insensitive) and trigger present; only the rules
 * they name run, each once over the whole text. Everything is RE2, so the cost is linear in the input whatever the
 * patterns or the text (no backtracking, no ReDoS). Candidates then pass the rule's checks: minimum length,
 * entropy, validator, allow lists.
 */
import RE2 from 're2';
import { entropy } from './validators.js';
import type { Rule } from './rules.js';

export interface RawFinding {
  rule: Rule;
  /** UTF-16 offsets in the scanned text. */
  start: number;
  end: number;
}

/** Separator between the strings of one message when they are scanned together. */
export const SEPARATOR = '\u0000';

const META = /[\\^$.*+?()[\]{}|]/g;

function escapeLiteral(s: string): string {
  return s.replace(META, '\\$&');
}

/** An RE2.Set, split into several if one would exceed RE2's memory budget. */
class PatternSets {
  private readonly sets: { set: ReturnType<typeof RE2.Set>; offset: number }[] = [];

  constructor(patterns: string[]) {
    this.build(patterns, 0);
  }

  private build(patterns: string[], offset: number): void {
    if (patterns.length === 0) return;
    try {
      this.sets.push({ set: new RE2.Set(patterns, 'i'), offset });
    } catch (e) {
      if (patterns.length === 1) throw e;
      const half = patterns.length >> 1;
      this.build(patterns.slice(0, half), offset);
      this.build(patterns.slice(half), offset + half);
    }
  }

  match(text: string): number[] {
    if (this.sets.length === 1) return this.sets[0]!.set.match(text);
    const out: number[] = [];
    for (const { set, offset } of this.sets) for (const i of set.match(text)) out.push(i + offset);
    return out;
  }
}

export class Detector {
  readonly rules: readonly Rule[];
  /** Rules with a pattern and neither keywords nor trigger: they always run. */
  private readonly always: Rule[];
  readonly keyRules: readonly Rule[];
  private readonly sets: PatternSets | undefined;
  /** For each set entry, the rules it enables. */
  private readonly entryRules: Rule[][];
  private readonly keyCache = new Map<string, Rule[]>();

  constructor(rules: readonly Rule[]) {
    this.rules = rules.filter((r) => r.enabled);
    this.always = this.rules.filter((r) => r.re && !r.key && r.keywords.length === 0 && r.trigger === undefined);
    this.keyRules = this.rules.filter((r) => r.key);
    const entries = new Map<string, Rule[]>();
    for (const r of this.rules) {
      if (r.key) continue;
      const pats = [...r.keywords.map(escapeLiteral), ...(r.trigger !== undefined ? [r.trigger] : [])];
      for (const p of pats) {
        let list = entries.get(p);
        if (!list) entries.set(p, (list = []));
        list.push(r);
      }
    }
    // Key rules' keywords matter only where property names are part of the scanned text (the raw message).
    for (const r of this.keyRules) {
      for (const k of r.keywords) {
        const p = escapeLiteral(k);
        let list = entries.get(p);
        if (!list) entries.set(p, (list = []));
        list.push(r);
      }
    }
    this.entryRules = [...entries.values()];
    this.sets = entries.size ? new PatternSets([...entries.keys()]) : undefined;
  }

  /** The rules the text's keywords and triggers enable (key rules included when their keywords appear). */
  triggered(text: string): Set<Rule> {
    const out = new Set<Rule>(this.always);
    if (this.sets) for (const i of this.sets.match(text)) for (const r of this.entryRules[i]!) out.add(r);
    return out;
  }

  /** Whether anything at all could be found in this text (the fast path's question). */
  anyTriggered(text: string): boolean {
    if (this.always.length) return true;
    return this.sets ? this.sets.match(text).length > 0 : false;
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

  /** Runs `rules` (pattern rules) over `text`. Matches never extend past a SEPARATOR. */
  scanRules(text: string, rules: Iterable<Rule>, out: RawFinding[], limit: number): void {
    for (const rule of rules) {
      const re = rule.re;
      if (!re || rule.key) continue;
      re.lastIndex = 0;
      for (;;) {
        const m = re.exec(text);
        if (!m) break;
        const span = m.indices![1] ?? m.indices![0]!;
        let [start, end] = span;
        // Resume right after the value, not after the match: the boundary a pattern consumed after one value
        // may be the boundary the next value needs before it ("a@b.io c@d.io").
        re.lastIndex = Math.max(end, m.index + 1);
        if (start === end) continue;
        const sep = text.indexOf(SEPARATOR, start);
        if (sep >= 0 && sep < end) end = sep;
        if (!this.accepts(rule, text.slice(start, end))) continue;
        // The label may be the tail of a longer name (nextPageToken): look a little before the match too.
        if (rule.exclude && rule.exclude.test(text.slice(Math.max(0, m.index - 24), m.index + m[0].length))) continue;
        out.push({ rule, start, end });
        if (out.length >= limit) return;
      }
    }
  }

  /** Scans one text: prefilter, then the enabled rules. */
  scan(text: string, limit = 100_000): RawFinding[] {
    const out: RawFinding[] = [];
    if (!this.anyTriggered(text)) return out;
    this.scanRules(text, this.triggered(text), out, limit);
    return out;
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
