/**
 * Issue 7, done-when 2: ../shared/corpus/manifests/expected-findings.json is the gate, read from there (never
 * copied): every MUST finding at its minimum severity, no MUST NOT finding, every file understood.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintTexts } from '../../src/lint/run.js';
import { SEVERITY_RANK, type Finding, type Severity } from '../../src/lint/types.js';
import { ROOT } from '../helpers/cli.js';

const CORPUS = path.resolve(ROOT, '../shared/corpus/manifests');

interface Expectation {
  format?: string;
  must?: { rule: string; min_severity?: Severity; target?: string | string[]; evidence?: string }[];
  must_not?: { rule: string; max_severity?: Severity; target?: string | string[] }[];
}

/** The identifiers a target names: "calculate_sum.inputSchema.properties.{a,b}" → calculate_sum, a, b. */
function identifiers(target: string): string[] {
  const braces = /\{([^}]+)\}/.exec(target);
  const parts = target.replace(/\{[^}]+\}/, '').split(/[./]/).filter((p) => p && !['inputSchema', 'outputSchema', 'properties', 'description', 'icons[]', 'src', 'data:', 'URIs'].includes(p) && !p.includes(' '));
  const ids = parts.length ? [parts[0]!, ...(parts.length > 1 ? [parts[parts.length - 1]!] : [])] : [];
  if (braces) ids.push(...braces[1]!.split(','));
  return [...new Set(ids.flatMap((p) => p.split('/')))];
}

function segmentsOf(f: Finding): string[] {
  return f.target.split(/[/.\s]/).filter(Boolean);
}

function ruleMatches(pattern: string, rule: string): boolean {
  return pattern.split('|').some((p) => (p === '*' ? true : p.endsWith('*') ? rule.startsWith(p.slice(0, -1)) : rule === p));
}

function onTarget(f: Finding, target: string): boolean {
  const segs = segmentsOf(f);
  const ids = identifiers(target);
  return ids.length === 0 || ids.some((id) => segs.includes(id));
}

const expectations = existsSync(path.join(CORPUS, 'expected-findings.json')) ? (JSON.parse(readFileSync(path.join(CORPUS, 'expected-findings.json'), 'utf8')) as Record<string, Expectation>) : {};
const files = Object.keys(expectations).filter((k) => !k.startsWith('_'));

describe('the public manifest corpus', () => {
  it('is present beside the repository (../shared/corpus/manifests)', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
    for (const f of readdirSync(CORPUS).filter((x) => x.endsWith('.json') && x !== 'expected-findings.json')) expect(files, `${f} has expectations`).toContain(f);
  });

  const report: Record<string, unknown> = {};
  let mustMet = 0;
  let mustTotal = 0;
  let mustNotHeld = 0;
  let mustNotTotal = 0;

  it.each(files)('%s', (file) => {
    const exp = expectations[file]!;
    const text = readFileSync(path.join(CORPUS, file), 'utf8');
    const { findings, documents, servers } = lintTexts([{ file, text }]);
    const problems: string[] = [];
    // Every file understood: detected, normalised, no unknown-shape error.
    if (findings.some((f) => f.rule === 'CF001')) problems.push('not understood (CF001)');
    for (const m of exp.must ?? []) {
      mustTotal++;
      let ok: boolean;
      if (m.rule === 'FORMAT_DETECT') ok = documents[0]!.format === 'docker-catalog' && servers[0]!.tools.length > 0;
      else if (m.rule === 'MB001_PASS') ok = documents[0]!.format === 'mcpb' && !findings.some((f) => f.rule === 'MB001' || (f.rule === 'MB002' && f.severity === 'ERROR'));
      else {
        const targets = Array.isArray(m.target) ? m.target : [m.target ?? ''];
        ok = targets.every((t) => findings.some((f) => ruleMatches(m.rule, f.rule) && (!m.min_severity || SEVERITY_RANK[f.severity] >= SEVERITY_RANK[m.min_severity]) && onTarget(f, t)));
      }
      if (ok) mustMet++;
      else problems.push(`MUST ${m.rule}${m.min_severity ? ` ≥ ${m.min_severity}` : ''}${m.target ? ` on ${JSON.stringify(m.target)}` : ''} missing`);
    }
    for (const n of exp.must_not ?? []) {
      mustNotTotal++;
      const targets = n.target === undefined ? [''] : Array.isArray(n.target) ? n.target : [n.target];
      const bad = findings.filter((f) => ruleMatches(n.rule, f.rule) && targets.some((t) => onTarget(f, t)) && (n.max_severity ? SEVERITY_RANK[f.severity] > SEVERITY_RANK[n.max_severity] : true));
      if (bad.length === 0) mustNotHeld++;
      else problems.push(`MUST NOT ${n.rule}${n.max_severity ? ` above ${n.max_severity}` : ''}: ${bad.slice(0, 3).map((b) => `${b.rule} ${b.severity} ${b.target}: ${b.message}`).join(' | ')}`);
    }
    report[file] = { format: documents[0]!.format, findings: findings.length, problems };
    mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(path.join(ROOT, 'test-artifacts/lint-corpus.json'), JSON.stringify({ mustMet, mustTotal, mustNotHeld, mustNotTotal, files: report }, null, 2));
    expect(problems).toEqual([]);
  });
});
