/**
 * `evaluate(policy, input) → decision`: pure, no I/O.
 *
 * A rule applies when every matcher holds. Each matcher answers yes, no or unknown ("can't decide": a missing or
 * mistyped argument, a value that normalises ambiguously, an absent claim, arguments that fail the tool's
 * inputSchema). Unknown never makes an allow rule apply and always makes a deny (and an ask) rule apply.
 * Precedence: deny > ask > allow > default. Rules from shadow-mode files are evaluated separately: their verdict
 * is recorded, never enforced.
 */
import RE2 from 're2';
import { HIDDEN_CHARS } from '../protocol/escape.js';
import { isObject, printable } from '../protocol/jsonrpc.js';
import type { Principal } from '../pipeline/types.js';
import { matchName, matchUriTri } from './glob.js';
import { pathNotUnder, pathUnder, type Tri } from './paths.js';
import type { Constraint, Effect, Policy, Rule } from './types.js';
import { urlHostIn, urlSchemeIn } from './urls.js';

export interface PolicyInput {
  server: string;
  method: string;
  tool?: string;
  resource?: string;
  prompt?: string;
  /** The values `args` selectors read: tool or prompt arguments, or the params of other requests. */
  args?: unknown;
  principal: Principal;
  /** The tool's annotations from the server's tools/list (undefined when unknown). */
  annotations?: Record<string, unknown> | undefined;
  /** False when the arguments failed the tool's inputSchema: every argument constraint is then undecidable. */
  argsValid?: boolean;
  argsProblem?: string;
}

export interface Decision {
  effect: Effect;
  rule: string | undefined;
  reason: string;
  /** Scopes that an allow rule needs and the principal lacks (HTTP answers 403 insufficient_scope). */
  missingScopes?: string[];
  /** All applicable allow or ask rules (for rate limits). */
  rules: Rule[];
  /** The verdict had shadow-mode rules been enforced, when it differs. */
  shadow?: { effect: Effect; rule: string | undefined; reason: string };
}

interface Verdict {
  result: Tri;
  why: string;
}

const YES: Verdict = { result: 'yes', why: '' };

function or(vs: Verdict[], selector: string): Verdict {
  const yes = vs.find((v) => v.result === 'yes');
  if (yes) return yes;
  const unknown = vs.find((v) => v.result === 'unknown');
  return unknown ?? vs.find((v) => v.result === 'no') ?? { result: 'no', why: `\`${selector}\` names no value` };
}

function and(vs: Verdict[]): Verdict {
  const no = vs.find((v) => v.result === 'no');
  if (no) return no;
  const unknown = vs.find((v) => v.result === 'unknown');
  return unknown ?? YES;
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return JSON.stringify(printable(s, 120));
}

// ───────────── selectors ─────────────

interface Found {
  present: boolean;
  value: unknown;
  /** The selector met something of the wrong shape on the way (a non-object, a non-array before [*]). */
  mistyped: boolean;
}

const SEGMENT = /^([^[\]]+)(\[\*\])?$/;

/** Every value a selector names: one for a key or dotted path, one per element for `name[*]`. */
export function select(args: unknown, selector: string): Found[] {
  let cur: Found[] = [{ present: true, value: args, mistyped: false }];
  for (const part of selector.split('.')) {
    const m = SEGMENT.exec(part);
    if (!m) return [{ present: false, value: undefined, mistyped: true }];
    const key = m[1]!;
    const next: Found[] = [];
    for (const f of cur) {
      if (!f.present || f.mistyped) {
        next.push(f);
        continue;
      }
      if (!isObject(f.value)) {
        next.push({ present: false, value: undefined, mistyped: f.value !== undefined && f.value !== null });
        continue;
      }
      if (!Object.hasOwn(f.value, key)) {
        next.push({ present: false, value: undefined, mistyped: false });
        continue;
      }
      const v = f.value[key];
      if (m[2]) {
        if (!Array.isArray(v)) next.push({ present: false, value: undefined, mistyped: true });
        else for (const el of v) next.push({ present: true, value: el, mistyped: false });
      } else next.push({ present: true, value: v, mistyped: false });
    }
    cur = next;
  }
  return cur;
}

// ───────────── constraints ─────────────

const patternCache = new Map<string, RE2>();
export function compilePattern(p: string): RE2 {
  let re = patternCache.get(p);
  if (!re) {
    re = new RE2(p, 'u');
    patternCache.set(p, re);
  }
  return re;
}

/** A value as a lenient reader might take it: text, NFKC, hidden characters removed, trimmed, lower case. */
function looseValue(v: unknown): string {
  return String(v).normalize('NFKC').replace(HIDDEN_CHARS, '').trim().toLowerCase();
}

function checkValue(c: Constraint, selector: string, f: Found): Verdict {
  if (f.mistyped) return { result: 'unknown', why: `argument \`${selector}\` does not have the expected shape` };
  if (!f.present) {
    if (c.required === false) return YES;
    if (c.required === true) return { result: 'no', why: `argument \`${selector}\` is required` };
    return { result: 'unknown', why: `argument \`${selector}\` is missing` };
  }
  if (c.required === false) return { result: 'no', why: `argument \`${selector}\` must not be given` };
  const v = f.value;
  const out: Verdict[] = [];
  const str = (name: string) => (typeof v === 'string' ? undefined : { result: 'unknown' as Tri, why: `argument \`${selector}\` must be a string for \`${name}\`` });
  if (c.under) {
    const bad = str('under');
    if (bad) out.push(bad);
    else {
      const r = pathUnder(v, c.under);
      out.push({ result: r, why: r === 'yes' ? '' : r === 'no' ? `\`${selector}\` must be under ${c.under.join(' or ')} (got ${show(v)})` : `\`${selector}\` is not a plain absolute path (got ${show(v)}); use an absolute path under ${c.under.join(' or ')}` });
    }
  }
  if (c.not_under) {
    const bad = str('not_under');
    if (bad) out.push(bad);
    else {
      const r = pathNotUnder(v, c.not_under);
      out.push({ result: r, why: r === 'yes' ? '' : r === 'no' ? `\`${selector}\` must not be under ${c.not_under.join(' or ')} (got ${show(v)})` : `\`${selector}\` is not a plain absolute path (got ${show(v)})` });
    }
  }
  if (c.hosts) {
    const bad = str('hosts');
    if (bad) out.push(bad);
    else {
      const r = urlHostIn(v, c.hosts);
      out.push({ result: r, why: r === 'yes' ? '' : r === 'no' ? `\`${selector}\` must be a URL on ${c.hosts.join(', ')} (got ${show(v)})` : `\`${selector}\` is not an unambiguous URL (got ${show(v)}); use a plain URL on ${c.hosts.join(', ')}` });
    }
  }
  if (c.schemes) {
    const bad = str('schemes');
    if (bad) out.push(bad);
    else {
      const r = urlSchemeIn(v, c.schemes);
      out.push({ result: r, why: r === 'yes' ? '' : `\`${selector}\` must use ${c.schemes.join(' or ')} (got ${show(v)})` });
    }
  }
  if (c.pattern !== undefined) {
    if (typeof v !== 'string' && typeof v !== 'number') out.push({ result: 'unknown', why: `\`${selector}\` must be text for its pattern` });
    else {
      const ok = compilePattern(c.pattern).test(typeof v === 'number' ? String(v) : v);
      out.push(ok ? YES : { result: 'no', why: `\`${selector}\` must match /${c.pattern}/ (got ${show(v)})` });
    }
  }
  if (c.max_length !== undefined) {
    const len = typeof v === 'string' ? [...v].length : Array.isArray(v) ? v.length : undefined;
    if (len === undefined) out.push({ result: 'unknown', why: `\`${selector}\` must be text or a list for max_length` });
    else out.push(len <= c.max_length ? YES : { result: 'no', why: `\`${selector}\` must be at most ${c.max_length} long (got ${len})` });
  }
  if (c.one_of) {
    if (v !== null && typeof v === 'object') out.push({ result: 'unknown', why: `\`${selector}\` must be a single value` });
    else if (c.one_of.some((x) => x === v)) out.push(YES);
    else {
      // A value that is a listed one but for case, spacing, look-alike or hidden characters, or type ("Delete",
      // "delete\u200b", "ｄｅｌｅｔｅ", "1" for 1) may be read as that value by a lenient server: undecidable.
      const loose = looseValue(v);
      const near = c.one_of.find((x) => looseValue(x) === loose);
      const list = c.one_of.map((x) => JSON.stringify(x)).join(', ');
      out.push(near !== undefined ? { result: 'unknown', why: `\`${selector}\` is ${show(v)}, which is not ${JSON.stringify(near)} but could be read as it; use exactly one of ${list}` } : { result: 'no', why: `\`${selector}\` must be one of ${list} (got ${show(v)})` });
    }
  }
  if (c.min !== undefined || c.max !== undefined) {
    if (typeof v !== 'number' || !Number.isFinite(v)) out.push({ result: 'unknown', why: `\`${selector}\` must be a number` });
    else if ((c.min !== undefined && v < c.min) || (c.max !== undefined && v > c.max)) out.push({ result: 'no', why: `\`${selector}\` must be between ${c.min ?? '-∞'} and ${c.max ?? '∞'} (got ${v})` });
    else out.push(YES);
  }
  return and(out);
}

/**
 * A constraint over every value its selector names. In an allow rule each value must pass (`paths[*]` all under
 * the folder); in a deny or ask rule one value that matches is enough (a harmless path beside `/etc/passwd` does
 * not step around a deny), so an empty list matches nothing there.
 */
export function checkConstraint(args: unknown, selector: string, c: Constraint, effect: Effect = 'allow'): Verdict {
  const found = select(args, selector);
  const verdicts = found.map((f) => checkValue(c, selector, f));
  return effect === 'allow' ? and(verdicts) : or(verdicts, selector);
}

// ───────────── principal and annotations ─────────────

function claimValues(claims: Record<string, unknown>, name: string): unknown[] | undefined {
  // Entra ID puts `_claim_names: { groups: … }` instead of the groups when there are too many: overage.
  const names = claims['_claim_names'];
  if (isObject(names) && Object.hasOwn(names, name)) return undefined;
  if (name === 'groups' && claims['hasgroups'] === true) return undefined;
  if (!Object.hasOwn(claims, name)) return undefined;
  const v = claims[name];
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return name === 'scp' || name === 'scope' ? v.split(' ') : [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [v];
  return undefined;
}

function matchPrincipal(rule: Rule, p: Principal, ignoreScopes: boolean): { verdict: Verdict; missingScopes: string[] } {
  const spec = rule.principal;
  if (!spec) return { verdict: YES, missingScopes: [] };
  const out: Verdict[] = [];
  if (spec.kind && spec.kind !== p.kind) out.push({ result: 'no', why: `for ${spec.kind} callers only` });
  if (spec.sub && !matchName(spec.sub, p.sub)) out.push({ result: 'no', why: 'not for this caller' });
  const missing = (spec.scopes ?? []).filter((s) => !p.scopes.includes(s));
  if (missing.length && !ignoreScopes) out.push({ result: 'no', why: `needs scope ${missing.join(' ')}` });
  for (const [name, wanted] of Object.entries(spec.claims ?? {})) {
    const have = claimValues(p.claims, name);
    if (have === undefined) out.push({ result: 'unknown', why: `the caller's \`${name}\` claim is absent or incomplete` });
    else if (!have.some((h) => wanted.includes(h as string))) out.push({ result: 'no', why: `needs ${name} ${wanted.join(' or ')}` });
  }
  // A step-up challenge names every scope the operation needs, not only the missing ones (2026-07-28).
  return { verdict: and(out), missingScopes: missing.length ? [...(spec.scopes ?? [])] : [] };
}

/** Spec defaults for absent annotations (2025-06-18 ToolAnnotations). */
const ANNOTATION_DEFAULTS: Record<string, boolean> = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };

function matchAnnotations(rule: Rule, ann: Record<string, unknown> | undefined): Verdict {
  if (!rule.annotations) return YES;
  if (ann === undefined) return { result: 'unknown', why: 'the tool’s annotations are not known' };
  for (const [k, want] of Object.entries(rule.annotations)) {
    const have = typeof ann[k] === 'boolean' ? ann[k] : ANNOTATION_DEFAULTS[k];
    if (have !== want) return { result: 'no', why: `for tools with ${k}: ${want}` };
  }
  return YES;
}

// ───────────── rules ─────────────

/** The methods a rule is about when it names tools, resources or prompts but no methods. */
function impliedMethod(rule: Rule, method: string): boolean {
  if (rule.methods) return matchName(rule.methods, method);
  if (rule.tools) return method === 'tools/call';
  if (rule.prompts) return method === 'prompts/get';
  if (rule.resources) return method === 'resources/read' || method === 'resources/subscribe' || method === 'resources/unsubscribe';
  return true;
}

export interface RuleMatch {
  verdict: Verdict;
  missingScopes: string[];
  /** The verdict was decided only by argument constraints. */
  argsOnly: boolean;
}

export function matchRule(rule: Rule, input: PolicyInput, opts: { ignoreArgs?: boolean; ignoreScopes?: boolean } = {}): RuleMatch {
  const none = (why: string): RuleMatch => ({ verdict: { result: 'no', why }, missingScopes: [], argsOnly: false });
  if (!matchName(rule.servers, input.server)) return none('other server');
  if (!impliedMethod(rule, input.method)) return none('other method');
  if (rule.tools && !matchName(rule.tools, input.tool)) return none('other tool');
  if (rule.prompts && !matchName(rule.prompts, input.prompt)) return none('other prompt');
  let uv: Verdict = YES;
  if (rule.resources) {
    const r = input.resource === undefined ? 'no' : matchUriTri(rule.resources, input.resource);
    if (r === 'no') return none('other resource');
    if (r === 'unknown') uv = { result: 'unknown', why: 'the resource URI reads differently once normalised (dot segments, percent-encoding, repeated slashes, case)' };
  }
  const { verdict: pv, missingScopes } = matchPrincipal(rule, input.principal, opts.ignoreScopes === true);
  const base = and([uv, pv, matchAnnotations(rule, input.annotations)]);
  if (base.result === 'no' || !rule.args || opts.ignoreArgs) return { verdict: base, missingScopes, argsOnly: false };
  let argVerdict: Verdict;
  if (input.argsValid === false) argVerdict = { result: 'unknown', why: `the arguments do not match the tool's inputSchema: ${input.argsProblem ?? 'invalid'}` };
  else argVerdict = and(Object.entries(rule.args).map(([sel, c]) => checkConstraint(input.args, sel, c, rule.effect)));
  return { verdict: and([base, argVerdict]), missingScopes, argsOnly: base.result === 'yes' && argVerdict.result !== 'yes' };
}

function applies(effect: Effect, t: Tri): boolean {
  return effect === 'allow' ? t === 'yes' : t !== 'no';
}

function describe(input: PolicyInput): string {
  if (input.tool !== undefined) return `tool ${JSON.stringify(printable(input.tool))}`;
  if (input.prompt !== undefined) return `prompt ${JSON.stringify(printable(input.prompt))}`;
  if (input.resource !== undefined) return `resource ${JSON.stringify(printable(input.resource))}`;
  return input.method;
}

function decide(rules: Rule[], dflt: 'allow' | 'deny', input: PolicyInput): Omit<Decision, 'shadow'> {
  let ask: Rule | undefined;
  const allows: Rule[] = [];
  let closest: { rule: Rule; why: string } | undefined;
  let scopeRule: { rule: Rule; missing: string[] } | undefined;
  for (const rule of rules) {
    const m = matchRule(rule, input);
    if (!applies(rule.effect, m.verdict.result)) {
      if (rule.effect !== 'deny' && m.argsOnly && !closest) closest = { rule, why: m.verdict.why };
      if (rule.effect !== 'deny' && !scopeRule && m.verdict.result === 'no' && m.missingScopes.length) {
        const again = matchRule(rule, input, { ignoreScopes: true });
        if (applies(rule.effect, again.verdict.result)) scopeRule = { rule, missing: m.missingScopes };
      }
      continue;
    }
    if (rule.effect === 'deny') {
      const why = m.verdict.result === 'unknown' ? ` (${m.verdict.why}; when in doubt, deny)` : '';
      return { effect: 'deny', rule: rule.id, reason: rule.message ?? `${describe(input)} is denied by rule ${rule.id}${why}`, rules: [] };
    }
    if (rule.effect === 'ask') ask ??= rule;
    else allows.push(rule);
  }
  if (ask) return { effect: 'ask', rule: ask.id, reason: ask.message ?? `${describe(input)} needs a person's approval (rule ${ask.id})`, rules: [ask, ...allows] };
  if (allows.length) return { effect: 'allow', rule: allows[0]!.id, reason: `allowed by rule ${allows[0]!.id}`, rules: allows };
  if (dflt === 'allow') return { effect: 'allow', rule: undefined, reason: 'no rule applies; the default is allow', rules: [] };
  if (scopeRule) {
    return { effect: 'deny', rule: scopeRule.rule.id, reason: `${describe(input)} needs scope ${scopeRule.missing.join(' ')} (rule ${scopeRule.rule.id})`, missingScopes: scopeRule.missing, rules: [] };
  }
  if (closest) return { effect: 'deny', rule: closest.rule.id, reason: closest.rule.message ?? `${describe(input)} is not allowed with these arguments: ${closest.why} (rule ${closest.rule.id})`, rules: [] };
  return { effect: 'deny', rule: undefined, reason: `${describe(input)} is not allowed (no rule allows it; the default is deny)`, rules: [] };
}

export function evaluate(policy: Policy, input: PolicyInput): Decision {
  const enforced = policy.rules.filter((r) => r.mode === 'enforce');
  const d = decide(enforced, policy.default, input);
  if (enforced.length === policy.rules.length && policy.shadowDefault === undefined) return d;
  const s = decide(policy.rules, policy.shadowDefault ?? policy.default, input);
  if (s.effect === d.effect) return d;
  return { ...d, shadow: { effect: s.effect, rule: s.rule, reason: s.reason } };
}

/** For `policy explain`: each rule's verdict on the input and why. */
export function traceRules(policy: Policy, input: PolicyInput): { rule: Rule; result: Tri; why: string; applies: boolean }[] {
  return policy.rules.map((rule) => {
    const m = matchRule(rule, input);
    return { rule, result: m.verdict.result, why: m.verdict.why, applies: applies(rule.effect, m.verdict.result) };
  });
}

/**
 * Could this caller be allowed to use the tool, prompt or resource at all? That decides whether a list shows it.
 * Argument constraints are ignored (some arguments may pass); missing scopes are ignored unless the rule says
 * `hidden: true` (listing it lets the client step up); an unconditional deny hides it.
 */
export function visible(policy: Policy, input: PolicyInput): boolean {
  const rules = policy.rules.filter((r) => r.mode === 'enforce');
  let allowed = false;
  for (const rule of rules) {
    if (rule.effect === 'deny') {
      if (rule.args || rule.rate) continue;
      const m = matchRule(rule, input, { ignoreArgs: true });
      if (m.verdict.result !== 'no') return false;
      continue;
    }
    const m = matchRule(rule, input, { ignoreArgs: true, ignoreScopes: !rule.hidden });
    if (m.verdict.result === 'yes') allowed = true;
  }
  return allowed || policy.default === 'allow';
}
