/**
 * Runs the rules over parsed inputs and returns findings with their file positions, sorted most severe first.
 */
import { CAP_RULES } from './rules/cap.js';
import { FORMAT_RULES } from './rules/formats.js';
import { NM_RULES } from './rules/nm.js';
import { SQ_RULES } from './rules/sq.js';
import { maskFindings, SECRET_RULES } from './rules/secrets.js';
import { TP_RULES } from './rules/tp.js';
import { UI_RULES } from './rules/ui.js';
import { parseInput, type Parsed } from './inputs.js';
import { SEVERITY_RANK, type Finding, type LintContext, type LintDocument, type Rule, type ServerModel, type Severity } from './types.js';

const DR_RULES: Rule[] = [
  {
    id: 'DR010',
    title: 'Incomplete snapshot',
    severity: 'INFO',
    family: 'DR',
    help: 'A saved list with a nextCursor is one page: pins and diffs need every page (fetch them, or lint the live server).',
    check: (ctx) => ctx.servers.filter((s) => s.partial).map((s) => ({ rule: 'DR010', severity: 'INFO' as Severity, target: s.name, message: 'the list has a nextCursor: it is partial; fetch all pages before pinning', location: { file: s.file, pointer: `${s.pointer}/nextCursor` }, server: s.name })),
  },
  {
    id: 'DR012',
    title: 'Nothing listed',
    severity: 'INFO',
    family: 'DR',
    help: 'A saved list, or a live server, with no tools, prompts or resources: no definition was reviewed, so "0 findings" says nothing about the server. A snapshot taken before the server was ready, or of the wrong method, looks like this.',
    check: (ctx) =>
      ctx.servers
        .filter((s) => (s.format === 'tools-list' || s.format === 'live' || s.format === 'docker-catalog') && s.tools.length + s.prompts.length + s.resources.length === 0 && !s.instructions)
        .map((s) => ({ rule: 'DR012', severity: 'INFO' as Severity, target: s.name, message: 'no tools, prompts or resources are listed: nothing was reviewed', location: { file: s.file, pointer: s.pointer }, server: s.name })),
  },
];

export const RULES: Rule[] = [...TP_RULES, ...SECRET_RULES, ...NM_RULES, ...SQ_RULES, ...UI_RULES, ...CAP_RULES, ...FORMAT_RULES, ...DR_RULES];

export interface LintResult {
  findings: Finding[];
  servers: ServerModel[];
  documents: LintDocument[];
}

export interface LintOptions {
  ignore?: string[];
  /** Extra rules (drift against a lock file). */
  extra?: Rule[];
}

function ignored(rule: string, ignore: string[]): boolean {
  return ignore.some((i) => (i.endsWith('*') ? rule.startsWith(i.slice(0, -1)) : rule === i));
}

export function lintParsed(parsed: Parsed[], opts: LintOptions = {}): LintResult {
  const ctx: LintContext = { servers: parsed.flatMap((p) => p.servers), documents: parsed.map((p) => p.document) };
  const findings: Finding[] = [];
  for (const p of parsed) for (const pr of p.problems) findings.push({ rule: pr.rule, severity: 'ERROR', target: p.document.file, message: pr.message, location: { file: p.document.file, pointer: pr.pointer } });
  for (const rule of [...RULES, ...(opts.extra ?? [])]) {
    try {
      findings.push(...rule.check(ctx));
    } catch (e) {
      findings.push({ rule: rule.id, severity: 'ERROR', target: 'lint', message: `rule ${rule.id} failed: ${(e as Error).message}`, location: { pointer: '' } });
    }
  }
  const byFile = new Map(ctx.documents.map((d) => [d.file, d]));
  const ignore = opts.ignore ?? [];
  const out = findings.filter((f) => !ignored(f.rule, ignore));
  for (const f of out) {
    const pos = f.location.file ? byFile.get(f.location.file)?.position(f.location.pointer) : undefined;
    if (pos) {
      f.location.line = pos.line;
      f.location.column = pos.column;
    }
  }
  maskFindings(ctx, out);
  out.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.rule.localeCompare(b.rule) || a.target.localeCompare(b.target));
  return { findings: out, servers: ctx.servers, documents: ctx.documents };
}

export function lintTexts(inputs: { file: string; text: string }[], opts: LintOptions = {}): LintResult {
  return lintParsed(
    inputs.map((i) => parseInput(i.file, i.text)),
    opts,
  );
}

export function summary(findings: Finding[]): Record<Severity, number> & { total: number } {
  const s = { CRIT: 0, HIGH: 0, ERROR: 0, MED: 0, WARN: 0, LOW: 0, INFO: 0, total: findings.length };
  for (const f of findings) s[f.severity]++;
  return s;
}

export function ruleById(id: string): Rule | undefined {
  return RULES.find((r) => r.id === id) ?? RULES.find((r) => id.startsWith(r.id));
}
