/**
 * Output formats: text (grouped by server, terminal-safe), JSON (`{findings, summary}`, versioned), and SARIF
 * 2.1.0 that GitHub code scanning accepts (a region on every location, stable ruleIds, security-severity,
 * partial fingerprints).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { VERSION } from '../version.js';
import { ruleInfo } from './catalog.js';
import { summary } from './run.js';
import { safeExcerpt } from './text.js';
import { SEVERITY_RANK, type Finding, type Severity } from './types.js';

export function toJson(findings: Finding[], files: string[]): string {
  return `${JSON.stringify(
    {
      tool: 'mcp-warden lint',
      version: VERSION,
      schema: 1,
      inputs: files,
      findings: findings.map((f) => ({ rule: f.rule, severity: f.severity, target: f.target, message: f.message, location: f.location, ...(f.evidence ? { evidence: f.evidence } : {}), ...(f.capabilities ? { capabilities: f.capabilities } : {}) })),
      summary: summary(findings),
    },
    null,
    2,
  )}\n`;
}

const COLOR: Record<Severity, string> = { CRIT: '35', HIGH: '31', ERROR: '31', MED: '33', WARN: '33', LOW: '36', INFO: '2' };

export function toText(findings: Finding[], opts: { color: boolean; minShown?: Severity }): string {
  const paint = (sev: Severity, s: string) => (opts.color ? `\x1b[${COLOR[sev]}m${s}\x1b[0m` : s);
  const shown = findings.filter((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[opts.minShown ?? 'INFO']);
  const groups = new Map<string, Finding[]>();
  for (const f of shown) {
    const key = f.server ?? f.location.file ?? '';
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const lines: string[] = [];
  for (const [server, list] of groups) {
    lines.push(safeExcerpt(server, 200));
    for (const f of list) {
      const where = f.location.file ? `${path.basename(f.location.file)}${f.location.line ? `:${f.location.line}:${f.location.column ?? 1}` : ''}` : '';
      lines.push(`  ${paint(f.severity, f.severity.padEnd(5))} ${f.rule.padEnd(19)} ${safeExcerpt(f.target, 80)}  ${safeExcerpt(f.message, 200)}${where ? `  (${where})` : ''}`);
      if (f.evidence) lines.push(`        evidence: ${safeExcerpt(f.evidence, 160)}`);
    }
  }
  const s = summary(findings);
  lines.push('');
  lines.push(`${s.total} findings: ${(['CRIT', 'HIGH', 'ERROR', 'MED', 'WARN', 'LOW', 'INFO'] as Severity[]).map((k) => `${s[k]} ${k}`).join(', ')}${shown.length < findings.length ? ` (${findings.length - shown.length} below ${opts.minShown} not shown)` : ''}`);
  return `${lines.join('\n')}\n`;
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { CRIT: 'error', HIGH: 'error', ERROR: 'error', MED: 'warning', WARN: 'warning', LOW: 'note', INFO: 'note' };
const SECURITY_SEVERITY: Record<Severity, string> = { CRIT: '9.5', HIGH: '8.0', ERROR: '7.5', MED: '5.5', WARN: '5.0', LOW: '3.0', INFO: '0.5' };

/** SARIF 2.1.0. `baseDir` makes artifact URIs repository-relative. */
export function toSarif(findings: Finding[], baseDir: string): string {
  const ids = [...new Set(findings.map((f) => f.rule))].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  const worst = new Map<string, Severity>();
  for (const f of findings) if (!worst.has(f.rule) || SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst.get(f.rule)!]) worst.set(f.rule, f.severity);
  const rules = ids.map((id) => {
    const info = ruleInfo(id);
    const sev = worst.get(id)!;
    return {
      id,
      name: info.title.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')).replace(/^./, (c) => c.toUpperCase()),
      shortDescription: { text: info.title },
      fullDescription: { text: info.help || info.title },
      help: { text: info.help || info.title, markdown: `**${info.title}**\n\n${info.help || ''}\n\nSee docs/lint.md in mcp-warden.` },
      helpUri: `https://github.com/mcp-warden/mcp-warden/blob/main/docs/lint.md#${id.toLowerCase()}`,
      defaultConfiguration: { level: LEVEL[sev] },
      properties: { tags: info.tags.slice(0, 10), precision: id.startsWith('CAP-') || id === 'TP012' ? 'medium' : 'high', 'problem.severity': LEVEL[sev] === 'note' ? 'recommendation' : LEVEL[sev], 'security-severity': SECURITY_SEVERITY[sev] },
    };
  });
  const rel = (file: string | undefined) => {
    if (!file) return 'mcp-warden-lint';
    const r = path.isAbsolute(file) ? path.relative(baseDir, file) : file;
    return r.split(path.sep).join('/');
  };
  const results = findings.slice(0, 25_000).map((f) => ({
    ruleId: f.rule,
    ruleIndex: index.get(f.rule)!,
    level: LEVEL[f.severity],
    message: { text: `${safeExcerpt(f.target, 120)}: ${safeExcerpt(f.message, 800)}${f.evidence ? ` (evidence: ${safeExcerpt(f.evidence, 160)})` : ''}` },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri: rel(f.location.file) }, region: { startLine: f.location.line ?? 1, startColumn: f.location.column ?? 1 } },
        logicalLocations: [{ fullyQualifiedName: safeExcerpt(f.target, 300), kind: 'member' }],
      },
    ],
    partialFingerprints: { 'mcpWardenFinding/v1': createHash('sha256').update(`${f.rule}\n${f.target}\n${f.location.pointer}`).digest('hex') },
    properties: { severity: f.severity, jsonPointer: f.location.pointer, ...(f.capabilities ? { capabilities: f.capabilities } : {}) },
  }));
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'mcp-warden', semanticVersion: VERSION, informationUri: 'https://github.com/mcp-warden/mcp-warden', rules } }, results }],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
