/**
 * Policy files: YAML, checked against schemas/policy.schema.json, composed in the order given.
 * Every problem is reported with file:line. Composition: rules are concatenated; `default: deny` in any enforcing
 * file wins over `allow`; a file with `mode: shadow` contributes rules that are evaluated and audited only.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq } from 'yaml';
import { packagePath } from '../config/paths.js';
import { errnoText, PolicyError } from '../errors.js';
import { keyNode, lineOf, parseYaml, validateYaml, type LoadedYaml } from '../config/yaml.js';
import { compilePattern } from './evaluate.js';
import type { Policy, Rule } from './types.js';

let schemaCache: object | undefined;
export function policySchema(): object {
  schemaCache ??= JSON.parse(readFileSync(packagePath('schemas', 'policy.schema.json'), 'utf8')) as object;
  return schemaCache;
}

export function bundledPolicy(name: string): string {
  return packagePath('rules', 'policies', `${name}.yaml`);
}

interface ParsedFile {
  file: string;
  text: string;
  default: 'allow' | 'deny' | undefined;
  mode: 'enforce' | 'shadow';
  askTimeoutMs: number | undefined;
  rules: Rule[];
}

/** Line of the n-th rule in the document. */
function ruleLine(loaded: LoadedYaml, index: number, key?: string): number {
  const rules = loaded.doc.get('rules', true);
  if (isSeq(rules)) {
    const item = rules.items[index];
    if (key && isMap(item)) {
      const pair = item.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      if (pair && isPair(pair)) return lineOf(loaded, (pair.value ?? pair.key) as never);
    }
    if (item) return lineOf(loaded, item as never);
  }
  return lineOf(loaded, keyNode(loaded.doc, [], 'rules'));
}

export function parsePolicyText(text: string, file: string): ParsedFile {
  // Policy files do not take ${ENV}: what they allow must be visible in the file.
  const loaded = parseYaml(text, file, null);
  if (loaded.value === null || loaded.value === undefined) throw new PolicyError(`${file}:1: empty policy file (it needs version: 1 and rules)`, file, 1);
  validateYaml(loaded, policySchema(), PolicyError);
  const v = loaded.value as { default?: 'allow' | 'deny'; mode?: 'enforce' | 'shadow'; ask_timeout_s?: number; rules: Omit<Rule, 'file' | 'line' | 'mode'>[] };
  const mode = v.mode ?? 'enforce';
  const problems: string[] = [];
  const rules: Rule[] = v.rules.map((r, i) => {
    const line = ruleLine(loaded, i);
    for (const [sel, c] of Object.entries(r.args ?? {})) {
      if (!/^[^.[\]]+(\[\*\])?(\.[^.[\]]+(\[\*\])?)*$/.test(sel)) problems.push(`${file}:${ruleLine(loaded, i, 'args')}: rules[${i}].args: "${sel}" is not a selector (key, dotted.path or name[*])`);
      if (c.pattern !== undefined) {
        try {
          compilePattern(c.pattern);
        } catch (e) {
          problems.push(`${file}:${ruleLine(loaded, i, 'args')}: rules[${i}] (${r.id}).args.${sel}.pattern: not a linear-time (RE2) expression: ${(e as Error).message}`);
        }
      }
      if (c.min !== undefined && c.max !== undefined && c.min > c.max) problems.push(`${file}:${ruleLine(loaded, i, 'args')}: rules[${i}] (${r.id}).args.${sel}: min is greater than max`);
    }
    if (r.rate && r.rate.per_second === undefined && r.rate.per_minute === undefined && r.rate.per_hour === undefined) problems.push(`${file}:${ruleLine(loaded, i, 'rate')}: rules[${i}] (${r.id}).rate: give per_second, per_minute or per_hour`);
    if (r.rate && r.effect === 'deny') problems.push(`${file}:${ruleLine(loaded, i, 'rate')}: rules[${i}] (${r.id}): a deny rule cannot have a rate`);
    return { ...r, file, line, mode };
  });
  if (problems.length) throw new PolicyError(problems.join('\n'), file, Number(/:(\d+):/.exec(problems[0]!)?.[1]));
  return { file, text, default: v.default, mode, askTimeoutMs: v.ask_timeout_s !== undefined ? v.ask_timeout_s * 1000 : undefined, rules };
}

export function composePolicy(files: ParsedFile[]): Policy {
  const seen = new Map<string, Rule>();
  const problems: string[] = [];
  for (const f of files) {
    for (const r of f.rules) {
      const prev = seen.get(r.id);
      if (prev) problems.push(`${r.file}:${r.line}: rule id "${r.id}" is already used at ${prev.file}:${prev.line}`);
      else seen.set(r.id, r);
    }
  }
  if (problems.length) throw new PolicyError(problems.join('\n'), files[0]?.file);
  const enforcing = files.filter((f) => f.mode === 'enforce');
  const votes = enforcing.map((f) => f.default).filter((d): d is 'allow' | 'deny' => d !== undefined);
  const shadowVotes = files.filter((f) => f.mode === 'shadow').map((f) => f.default).filter((d): d is 'allow' | 'deny' => d !== undefined);
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${path.basename(f.file)}\0${f.text}\0`);
  return {
    rules: files.flatMap((f) => f.rules),
    // Only shadow files: nothing is enforced. Enforcing files that do not say: fail closed.
    default: enforcing.length === 0 ? 'allow' : votes.length === 0 ? 'deny' : votes.includes('deny') ? 'deny' : 'allow',
    shadowDefault: shadowVotes.length ? (shadowVotes.includes('deny') ? 'deny' : 'allow') : undefined,
    askTimeoutMs: Math.min(...files.map((f) => f.askTimeoutMs ?? 120_000)),
    files: files.map((f) => f.file),
    version: hash.digest('hex').slice(0, 16),
  };
}

export function loadPolicyFiles(paths: string[]): Policy {
  const parsed = paths.map((p) => {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (e) {
      throw new PolicyError(`${p}: cannot read: ${errnoText(e)}`, p);
    }
    return parsePolicyText(text, p);
  });
  if (parsed.length === 0) throw new PolicyError('no policy files given');
  return composePolicy(parsed);
}
