/**
 * Detector packs: YAML files checked against schemas/redaction.schema.json, every pattern compiled with RE2.
 * A pattern RE2 cannot compile (look-around, back-references, …) is refused at load with its file, line and rule
 * id: a detector that silently does not run is worse than a config that does not start.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isPair, isScalar, isSeq } from 'yaml';
import RE2 from 're2';
import { packagePath } from '../config/paths.js';
import { shippedSchema } from '../config/config.js';
import { lineOf, parseYaml, validateYaml, type LoadedYaml } from '../config/yaml.js';
import { ConfigError, errnoText } from '../errors.js';
import { isObject } from '../protocol/jsonrpc.js';
import { VALIDATORS, type ValidatorName } from './validators.js';

export type Action = 'mask' | 'partial' | 'hash' | 'block' | 'detect';

export interface RuleSpec {
  id: string;
  description?: string;
  category?: string;
  pattern?: string;
  key?: string;
  keywords?: string[];
  trigger?: string;
  exclude?: string;
  entropy?: number;
  min_length?: number;
  validate?: ValidatorName;
  allow?: string[];
  action?: Action;
  generic?: boolean;
  enabled?: boolean;
}

export interface Rule {
  id: string;
  pack: string;
  category: string;
  description: string | undefined;
  /** Global, with indices. */
  re: RE2 | undefined;
  /** Applies to values of properties whose name matches. */
  key: RE2 | undefined;
  /** Lower-cased literals; empty with no trigger = always runs. */
  keywords: string[];
  trigger: string | undefined;
  /** Tested on the match and the 24 characters before it: a hit means the match is not reported. */
  exclude: RE2 | undefined;
  entropy: number | undefined;
  minLength: number;
  validate: ((s: string) => boolean) | undefined;
  /** Anchored: a value matching one of these in full is not reported (the rule's and its pack's lists, combined into one). */
  allow: RE2[];
  action: Action | undefined;
  generic: boolean;
  enabled: boolean;
}

export class RedactionRuleError extends ConfigError {
  override readonly code: string = 'REDACTION_RULE_INVALID';
}

export function redactionSchema(): object {
  return shippedSchema('redaction.schema.json');
}

export const BUNDLED_PACKS = ['secrets', 'pii'] as const;

export function bundledPackFile(name: string): string {
  return packagePath('rules', 'redaction', `${name}.yaml`);
}

function compile(source: string, flags: string, what: string): RE2 {
  try {
    return new RE2(source, flags);
  } catch (e) {
    throw new Error(`${what} is not a valid RE2 pattern (${(e as Error).message}); RE2 has no look-around or back-references`);
  }
}

/** What a pack gives every rule in it. */
interface PackDefaults {
  category: string;
  /** Allow-list patterns (sources) for every rule of the pack. */
  allow: string[];
  /** Combined allow-lists already compiled, by source: rules with the same list share one. */
  allowCache: Map<string, RE2[]>;
}

/**
 * One anchored RE2 for a whole allow-list: a value is allowed when it matches one pattern in full, which is exactly
 * when it matches their alternation in full — one test per candidate instead of one per pattern. Each pattern
 * stays in its own group, so an inline flag such as `(?i)` applies to that pattern only.
 */
function anchoredAny(patterns: string[], what: string, cache: Map<string, RE2[]>): RE2[] {
  if (!patterns.length) return [];
  const source = `^(?:${patterns.map((p) => `(?:${p})`).join('|')})$`;
  let list = cache.get(source);
  if (!list) {
    try {
      list = [new RE2(source)];
    } catch {
      // One pattern is at fault (named here), or the alternation is too large for RE2: then one test each.
      list = patterns.map((p, i) => compile(`^(?:${p})$`, '', `${what}[${i}]`));
    }
    cache.set(source, list);
  }
  return list;
}

/**
 * Compiles one rule. `where` prefixes every error ("file:line: rule <id>").
 * Throws plain Errors; callers turn them into RedactionRuleError with their location.
 */
export function compileRule(spec: RuleSpec, pack: string, defaults: PackDefaults, where: string): Rule {
  if (spec.pattern === undefined && spec.key === undefined) throw new Error(`${where}: needs a pattern, a key, or both`);
  if (spec.trigger !== undefined && /^\^|(?<!\\)\$$/.test(spec.trigger)) throw new Error(`${where}: trigger must not be anchored with ^ or $ (it runs over the whole message)`);
  const re = spec.pattern !== undefined ? compile(spec.pattern, 'gd', `${where}: pattern`) : undefined;
  if (re && re.test('')) throw new Error(`${where}: pattern matches the empty string`);
  if (re) re.lastIndex = 0;
  const key = spec.key !== undefined ? compile(spec.key, '', `${where}: key`) : undefined;
  if (spec.trigger !== undefined) compile(spec.trigger, 'i', `${where}: trigger`);
  return {
    id: spec.id,
    pack,
    category: spec.category ?? defaults.category,
    description: spec.description,
    re,
    key,
    keywords: (spec.keywords ?? []).map((k) => k.toLowerCase()),
    trigger: spec.trigger,
    exclude: spec.exclude !== undefined ? compile(spec.exclude, '', `${where}: exclude`) : undefined,
    entropy: spec.entropy,
    minLength: spec.min_length ?? 1,
    validate: spec.validate ? VALIDATORS[spec.validate] : undefined,
    allow: anchoredAny([...(spec.allow ?? []), ...defaults.allow], `${where}: allow`, defaults.allowCache),
    action: spec.action,
    generic: spec.generic ?? false,
    enabled: spec.enabled ?? true,
  };
}

function ruleLine(loaded: LoadedYaml, path: string[], index: number): number {
  let node = loaded.doc.contents as unknown;
  for (const seg of path) {
    if (!isMap(node)) return 1;
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === seg);
    node = pair && isPair(pair) ? pair.value : undefined;
  }
  if (isSeq(node) && node.items[index]) return lineOf(loaded, node.items[index] as never);
  return 1;
}

function compileAll(specs: RuleSpec[], pack: string, defaults: PackDefaults, where: (i: number) => string): Rule[] {
  const problems: string[] = [];
  const rules: Rule[] = [];
  const seen = new Set<string>();
  specs.forEach((spec, i) => {
    const at = `${where(i)}: rule ${spec.id}`;
    if (seen.has(spec.id)) problems.push(`${at}: the id is used twice`);
    seen.add(spec.id);
    try {
      rules.push(compileRule(spec, pack, defaults, at));
    } catch (e) {
      problems.push((e as Error).message);
    }
  });
  if (problems.length) {
    const m = /:(\d+):/.exec(problems[0]!);
    throw new RedactionRuleError(problems.join('\n'), undefined, m ? Number(m[1]) : undefined);
  }
  return rules;
}

export interface Pack {
  name: string;
  file: string;
  rules: Rule[];
}

/**
 * A bundled pack as the build left it (scripts/build-assets.mjs): the SHA-256 of its YAML text and the parsed,
 * schema-checked value. Parsing the YAML and compiling its schema cost most of `wrap`'s start-up; a prebuilt pack
 * is used only while its hash matches the file next to it, so an edited pack is read from its YAML again.
 */
export interface PrebuiltPack {
  sha256: string;
  value: unknown;
}

function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function packFrom(v: { pack: string; category?: string; allow?: string[]; rules: RuleSpec[] }, file: string, where: (i: number) => string): Pack {
  const allow = v.allow ?? [];
  const allowCache = new Map<string, RE2[]>();
  try {
    anchoredAny(allow, `${file}: allow`, allowCache);
  } catch (e) {
    throw new RedactionRuleError((e as Error).message, file);
  }
  const rules = compileAll(v.rules, v.pack, { category: v.category ?? v.pack, allow, allowCache }, where);
  return { name: v.pack, file, rules };
}

/** Parses, checks and compiles a pack; with a `prebuilt` copy of exactly this text, skips the parse and the schema check. */
export function parsePackText(text: string, file: string, prebuilt?: PrebuiltPack): Pack {
  if (prebuilt && prebuilt.sha256 === textHash(text)) {
    try {
      return packFrom(prebuilt.value as never, file, () => file);
    } catch {
      // Not what the build checked (another RE2, a damaged file): the full load below says where and why.
    }
  }
  return checkedPack(text, file).pack;
}

/** The full load: parse, schema check, compile; errors name file and line. */
function checkedPack(text: string, file: string): { value: unknown; pack: Pack } {
  // A pack's patterns are what the file says: no ${ENV} (a `${TOKEN}` in a pattern is text to find).
  const loaded = parseYaml(text, file, null);
  if (loaded.value === null || loaded.value === undefined) throw new RedactionRuleError(`${file}:1: empty redaction pack (it needs version: 1, pack and rules)`, file, 1);
  validateYaml(loaded, redactionSchema(), RedactionRuleError);
  return { value: loaded.value, pack: packFrom(loaded.value as never, file, (i) => `${file}:${ruleLine(loaded, ['rules'], i)}`) };
}

/** What the build stores for a bundled pack; throws as a load would if the pack is not valid. */
export function prebuildPack(text: string, file: string): PrebuiltPack {
  return { sha256: textHash(text), value: checkedPack(text, file).value };
}

/** Where the build put the prebuilt copy of a bundled pack (beside this module in dist/). */
export function prebuiltPackFile(name: string): string {
  return fileURLToPath(new URL(`./packs/${name}.json`, import.meta.url));
}

/** The build's copy of a bundled pack file (never of a user's pack), if it is there and readable. */
export function prebuiltPack(file: string): PrebuiltPack | undefined {
  const name = BUNDLED_PACKS.find((n) => bundledPackFile(n) === file);
  if (!name) return undefined;
  try {
    const p = JSON.parse(readFileSync(prebuiltPackFile(name), 'utf8')) as PrebuiltPack;
    return typeof p.sha256 === 'string' && isObject(p.value) ? p : undefined;
  } catch {
    return undefined;
  }
}

export function loadPackFile(file: string): Pack {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RedactionRuleError(`${file}: cannot read: ${errnoText(e)}`, file);
  }
  return parsePackText(text, file, prebuiltPack(file));
}

/** Rules a config file adds (`redaction.rules`); they were schema-checked with the config. */
export function compileUserRules(specs: RuleSpec[], file: string, lineOfRule: (i: number) => number): Rule[] {
  return compileAll(specs, 'config', { category: 'custom', allow: [], allowCache: new Map() }, (i) => `${file}:${lineOfRule(i)}`);
}
