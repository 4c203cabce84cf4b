/**
 * What pinning runs on a definition seen for the first time with no lock file: the poisoning (TP) and naming (NM)
 * rules. Findings at HIGH or above block the definition until a person approves it.
 */
import { NM_RULES } from './rules/nm.js';
import { TP_RULES } from './rules/tp.js';
import { SEVERITY_RANK, type LintContext, type ServerModel } from './types.js';

/**
 * A definition larger than this is held for a person without running the rules: no real tool comes near it (the
 * largest in the corpus is under 8 KB), the rules would hold the proxy's event loop for seconds on it, and text
 * that size floods a model's context by itself (TP017, here at HIGH).
 */
export const SCREEN_MAX_CHARS = 256 * 1024;

export function screenDefinition(kind: 'tools' | 'prompts', def: Record<string, unknown>): string[] {
  if (JSON.stringify(def).length > SCREEN_MAX_CHARS) return ['TP017 HIGH'];
  const name = typeof def['name'] === 'string' ? def['name'] : '';
  const server: ServerModel = { name: 'server', file: '', format: 'live', tools: [], prompts: [], resources: [], partial: false, schemas: true, pointer: '' };
  if (kind === 'tools') server.tools.push({ name, title: typeof def['title'] === 'string' ? def['title'] : undefined, description: typeof def['description'] === 'string' ? def['description'] : undefined, inputSchema: def['inputSchema'], outputSchema: def['outputSchema'], annotations: undefined, raw: def, pointer: '' });
  else server.prompts.push({ name, description: typeof def['description'] === 'string' ? def['description'] : undefined, arguments: Array.isArray(def['arguments']) ? def['arguments'].flatMap((a) => (a && typeof a === 'object' && typeof (a as { name?: unknown }).name === 'string' ? [{ name: (a as { name: string }).name, description: (a as { description?: string }).description, pointer: '' }] : [])) : [], raw: def, pointer: '' });
  const ctx: LintContext = { servers: [server], documents: [] };
  const out = new Set<string>();
  for (const r of [...TP_RULES, ...NM_RULES]) for (const f of r.check(ctx)) if (SEVERITY_RANK[f.severity] >= SEVERITY_RANK.HIGH) out.add(`${f.rule} ${f.severity}`);
  return [...out];
}
