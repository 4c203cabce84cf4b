/**
 * Schema quality (SQ): what helps a model fill arguments correctly and a client validate them. Tools described
 * only by name and text (MCPB, some catalogs) skip the schema rules.
 */
import { headerDeclarations } from '../../protocol/headers.js';
import { isObject } from '../../protocol/jsonrpc.js';
import { first, nameTokens, normalize } from '../text.js';
import type { Finding, LintContext, Rule, ServerModel, Severity, ToolModel } from '../types.js';
import { capabilities } from './cap.js';
import { props } from './tp.js';

function f(rule: string, severity: Severity, s: ServerModel, t: ToolModel | undefined, message: string, pointer?: string, target?: string): Finding {
  return { rule, severity, target: target ?? (t ? `${s.name}/${t.name}` : s.name), message, location: { file: s.file, pointer: pointer ?? t?.pointer ?? s.pointer }, server: s.name };
}

function eachTool(ctx: LintContext, schemas: boolean, fn: (s: ServerModel, t: ToolModel, out: Finding[]) => void): Finding[] {
  const out: Finding[] = [];
  for (const s of ctx.servers) if (!schemas || s.schemas) for (const t of s.tools) fn(s, t, out);
  return out;
}

const typed = (sch: unknown) => isObject(sch) && ['type', 'enum', 'const', '$ref', 'anyOf', 'oneOf', 'allOf'].some((k) => sch[k] !== undefined);
const isNumeric = (sch: Record<string, unknown>) => sch['type'] === 'number' || sch['type'] === 'integer' || (Array.isArray(sch['type']) && (sch['type'].includes('number') || sch['type'].includes('integer')));
const COUNTISH = /(^|_)(count|limit|lines?|page|pages|head|tail|max|min|offset|index|size|depth|number|num|n|top|per_page|page_size|retries|timeout|days|hours|minutes|seconds)($|_)/i;

function words(s: string): Set<string> {
  return new Set(normalize(s).toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 2));
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let inter = 0;
  for (const w of a) if (b.has(w)) inter++;
  return inter / (a.size + b.size - inter || 1);
}

function countSubschemas(s: unknown, depth = 0, acc = { n: 0, depth: 0, netRef: undefined as string | undefined }): typeof acc {
  if (acc.n > 10_000 || depth > 64) return acc;
  if (Array.isArray(s)) {
    for (const x of s) countSubschemas(x, depth, acc);
    return acc;
  }
  if (!isObject(s)) return acc;
  acc.n++;
  acc.depth = Math.max(acc.depth, depth);
  if (typeof s['$ref'] === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(s['$ref'])) acc.netRef ??= s['$ref'];
  for (const [k, v] of Object.entries(s)) if (k !== 'enum' && k !== 'const' && k !== 'examples' && k !== 'default') countSubschemas(v, depth + 1, acc);
  return acc;
}

export const SQ_RULES: Rule[] = [
  {
    id: 'SQ001',
    title: 'Description missing, too short or restating the name',
    severity: 'WARN',
    family: 'SQ',
    help: 'The description is what a model chooses tools by: say what the tool does and when to use it.',
    check: (ctx) =>
      eachTool(ctx, false, (s, t, out) => {
        const d = (t.description ?? '').trim();
        if (!d) out.push(f('SQ001', 'WARN', s, t, 'no description'));
        else if (d.length < 20) out.push(f('SQ001', 'WARN', s, t, `description of ${d.length} characters`, `${t.pointer}/description`));
        else {
          const nw = nameTokens(t.name).join(' ');
          if (normalize(d).toLowerCase().replace(/[^a-z0-9 ]/g, ' ').replace(/\s+/g, ' ').trim() === nw) out.push(f('SQ001', 'WARN', s, t, 'the description only restates the name', `${t.pointer}/description`));
        }
      }),
  },
  {
    id: 'SQ002',
    title: 'Parameters without a description',
    severity: 'WARN',
    family: 'SQ',
    help: 'A parameter a model has to guess is a parameter it fills wrongly.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        const p = props(t.inputSchema);
        const names = Object.keys(p);
        const missing = names.filter((n) => !isObject(p[n]) || typeof (p[n] as Record<string, unknown>)['description'] !== 'string' || !((p[n] as Record<string, unknown>)['description'] as string).trim());
        if (missing.length) out.push(f('SQ002', names.length === 1 ? 'LOW' : 'WARN', s, t, `${missing.length}/${names.length} parameters have no description: ${missing.slice(0, 8).join(', ')}`, `${t.pointer}/inputSchema/properties`, `${s.name}/${t.name}.inputSchema.properties`));
      }),
  },
  {
    id: 'SQ003',
    title: 'Untyped parameter',
    severity: 'WARN',
    family: 'SQ',
    help: 'Without a type (or enum, const, $ref, composition) nothing checks what the model sends.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        for (const [n, sch] of Object.entries(props(t.inputSchema))) if (!typed(sch)) out.push(f('SQ003', 'WARN', s, t, `parameter "${n}" has no type`, `${t.pointer}/inputSchema/properties/${n}`, `${s.name}/${t.name}.inputSchema.properties.${n}`));
      }),
  },
  {
    id: 'SQ004',
    title: 'Allowed values in prose, not in an enum',
    severity: 'INFO',
    family: 'SQ',
    help: 'When the description lists the values a parameter takes, an enum lets clients and models check them.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        for (const [n, sch] of Object.entries(props(t.inputSchema))) {
          if (!isObject(sch) || sch['enum'] !== undefined || typeof sch['description'] !== 'string') continue;
          const d = sch['description'];
          if (/\be\.g\.|\bfor example\b/i.test(d)) continue;
          const literals = [...d.matchAll(/['"\x60]([A-Za-z_][A-Za-z0-9_-]{0,30})['"\x60]/g)].map((m) => m[1]);
          const oneOf = first(d, String.raw`\b(one of|either|whether|possible values|allowed values|options are|valid values)\b`);
          if (new Set(literals).size >= 2 && (oneOf || /\(['"\x60]/.test(d))) out.push(f('SQ004', 'INFO', s, t, `"${n}" lists ${[...new Set(literals)].join(', ')} in its description but has no enum`, `${t.pointer}/inputSchema/properties/${n}`, `${s.name}/${t.name}.inputSchema.properties.${n}`));
        }
      }),
  },
  {
    id: 'SQ005',
    title: 'Numeric parameter without bounds, or a count typed as number',
    severity: 'INFO',
    family: 'SQ',
    help: 'Counts, limits, lines and pages are integers with a lower bound; unbounded numbers invite huge or negative values.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        for (const [n, sch] of Object.entries(props(t.inputSchema))) {
          if (!isObject(sch) || !isNumeric(sch)) continue;
          const bounded = sch['minimum'] !== undefined || sch['exclusiveMinimum'] !== undefined;
          const countish = COUNTISH.test(n) || /\bN lines\b|\bnumber of\b/i.test(String(sch['description'] ?? ''));
          if (sch['type'] === 'number' && countish) out.push(f('SQ005', 'INFO', s, t, `"${n}" counts something but is typed number, not integer`, `${t.pointer}/inputSchema/properties/${n}`, `${s.name}/${t.name}.inputSchema.properties.${n}`));
          else if (!bounded) out.push(f('SQ005', 'INFO', s, t, `"${n}" has no lower bound`, `${t.pointer}/inputSchema/properties/${n}`, `${s.name}/${t.name}.inputSchema.properties.${n}`));
        }
      }),
  },
  {
    id: 'SQ006',
    title: 'required missing, or naming an undefined property',
    severity: 'WARN',
    family: 'SQ',
    help: 'Say which parameters are required; a required name that is not a property can never be satisfied.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        if (!isObject(t.inputSchema)) return;
        const p = props(t.inputSchema);
        const req = t.inputSchema['required'];
        if (Array.isArray(req)) {
          for (const r of req) if (typeof r === 'string' && !(r in p) && t.inputSchema['additionalProperties'] !== true && !t.inputSchema['patternProperties']) out.push(f('SQ006', 'ERROR', s, t, `required "${r}" is not a property`, `${t.pointer}/inputSchema/required`));
        } else if (Object.keys(p).length > 0 && !['oneOf', 'anyOf', 'allOf'].some((k) => t.inputSchema && (t.inputSchema as Record<string, unknown>)[k])) out.push(f('SQ006', 'WARN', s, t, 'parameters but no "required" list', `${t.pointer}/inputSchema`));
      }),
  },
  {
    id: 'SQ007',
    title: 'Open object schema',
    severity: 'INFO',
    family: 'SQ',
    help: 'additionalProperties: false at the root lets clients reject arguments the tool does not define (a side channel otherwise).',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        if (!isObject(t.inputSchema)) return;
        if (t.inputSchema['additionalProperties'] === false) return;
        out.push(f('SQ007', 'INFO', s, t, 'the input schema does not set additionalProperties: false', `${t.pointer}/inputSchema`));
      }),
  },
  {
    id: 'SQ008',
    title: 'Too many parameters or too deep',
    severity: 'WARN',
    family: 'SQ',
    help: 'Models fill long and nested argument lists badly; split the tool.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        const n = Object.keys(props(t.inputSchema)).length;
        const depth = countSubschemas(t.inputSchema).depth;
        if (n > 20) out.push(f('SQ008', 'HIGH', s, t, `${n} parameters`));
        else if (n > 10) out.push(f('SQ008', 'WARN', s, t, `${n} parameters`));
        else if (depth > 8) out.push(f('SQ008', 'WARN', s, t, `schema nested ${depth} levels deep`));
      }),
  },
  {
    id: 'SQ009',
    title: 'Root composition, network $ref or a huge schema',
    severity: 'INFO',
    family: 'SQ',
    help: 'Several function-calling APIs reject oneOf/anyOf/allOf at the root; $ref to a network URI must not be dereferenced; thousands of subschemas are a denial of service.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        for (const key of ['inputSchema', 'outputSchema'] as const) {
          const sch = t[key];
          if (!isObject(sch)) continue;
          const root = ['oneOf', 'anyOf', 'allOf'].find((k) => sch[k] !== undefined);
          if (root && key === 'inputSchema') out.push(f('SQ009', 'INFO', s, t, `${root} at the root of the input schema`, `${t.pointer}/${key}/${root}`, `${s.name}/${t.name}.${key}`));
          const c = countSubschemas(sch);
          if (c.netRef) out.push(f('SQ009', 'ERROR', s, t, `$ref to a network URI (${c.netRef.slice(0, 80)}), which must not be dereferenced`, `${t.pointer}/${key}`, `${s.name}/${t.name}.${key}`));
          if (c.n > 500) out.push(f('SQ009', 'ERROR', s, t, `${c.n} subschemas`, `${t.pointer}/${key}`, `${s.name}/${t.name}.${key}`));
        }
      }),
  },
  {
    id: 'SQ011',
    title: 'Annotations missing or contradictory',
    severity: 'INFO',
    family: 'SQ',
    help: 'Without annotations clients assume the worst (not read-only, destructive, open world); contradictory ones mislead.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        const a = t.annotations;
        if (!a) {
          out.push(f('SQ011', 'INFO', s, t, 'no annotations (clients assume: not read-only, destructive, open world)'));
          return;
        }
        if (a['readOnlyHint'] === true && a['destructiveHint'] === true) out.push(f('SQ011', 'WARN', s, t, 'readOnlyHint and destructiveHint are both true', `${t.pointer}/annotations`));
        if (a['readOnlyHint'] === true && /^(delete|remove|drop|destroy|write|create|update)/i.test(t.name)) out.push(f('SQ011', 'WARN', s, t, `"${t.name}" is marked read-only`, `${t.pointer}/annotations`));
      }),
  },
  {
    id: 'SQ012',
    title: 'Annotations contradict what the tool does',
    severity: 'WARN',
    family: 'SQ',
    help: 'A tool classified as running commands, writing files, reaching the network or returning credentials but annotated read-only or closed-world.',
    check(ctx) {
      const caps = capabilities(ctx);
      return eachTool(ctx, true, (s, t, out) => {
        const a = t.annotations;
        if (!a) return;
        const c = caps.get(t)!;
        const risky = (['CAP-EXEC', 'CAP-FS-WRITE', 'CAP-CRED', 'CAP-DESTRUCTIVE', 'CAP-NET-SEND'] as const).filter((x) => c.has(x));
        const net = (['CAP-NET-EGRESS', 'CAP-NET-SEND'] as const).filter((x) => c.has(x));
        if (a['readOnlyHint'] === true && risky.length) out.push(f('SQ012', 'WARN', s, t, `readOnlyHint: true, but the tool is ${risky.join(', ')}`, `${t.pointer}/annotations`));
        else if (a['openWorldHint'] === false && (net.length || c.has('CAP-CRED'))) out.push(f('SQ012', 'WARN', s, t, `openWorldHint: false, but the tool is ${[...net, ...(c.has('CAP-CRED') ? ['CAP-CRED'] : [])].join(', ')}`, `${t.pointer}/annotations`));
      });
    },
  },
  {
    id: 'SQ013',
    title: 'Duplicate descriptions',
    severity: 'WARN',
    family: 'SQ',
    help: 'Tools with the same (or nearly the same) description leave the model guessing which to call.',
    check(ctx) {
      const out: Finding[] = [];
      for (const s of ctx.servers) {
        const ws = s.tools.map((t) => ({ t, w: words(t.description ?? '') }));
        for (let i = 0; i < ws.length; i++) {
          const a = ws[i]!;
          if (a.w.size < 3) continue;
          const twin = ws.find((b, j) => j !== i && b.w.size >= 3 && jaccard(a.w, b.w) >= 0.9);
          if (twin) out.push(f('SQ013', 'WARN', s, a.t, `"${a.t.name}" and "${twin.t.name}" have the same description`, `${a.t.pointer}/description`));
        }
      }
      return out;
    },
  },
  {
    id: 'SQ014',
    title: 'Tool count and context budget',
    severity: 'WARN',
    family: 'SQ',
    help: 'Every tool definition costs context tokens on every turn; past ~40 tools or ~20k tokens models choose worse.',
    check(ctx) {
      const out: Finding[] = [];
      for (const s of ctx.servers) {
        if (!s.tools.length) continue;
        const tokens = Math.round(s.tools.reduce((n, t) => n + JSON.stringify(t.raw).length, 0) / 4);
        if (s.tools.length > 40 || tokens > 20_000) out.push({ rule: 'SQ014', severity: s.tools.length > 80 || tokens > 40_000 ? 'WARN' : 'LOW', target: s.name, message: `${s.tools.length} tools, about ${Math.round(tokens / 1000)}k tokens of definitions`, location: { file: s.file, pointer: s.pointer }, server: s.name });
      }
      return out;
    },
  },
  {
    id: 'SQ015',
    title: 'outputSchema not an object before 2026-07-28',
    severity: 'INFO',
    family: 'SQ',
    help: 'Until protocol 2025-11-25 outputSchema must be type "object"; 2026-07-28 allows any schema. A client on an older version will reject the tool.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        const o = t.outputSchema;
        if (!isObject(o) || o['type'] === 'object') return;
        const legacy = s.protocolVersion !== undefined && s.protocolVersion < '2026-07-28';
        out.push(f('SQ015', legacy ? 'ERROR' : 'INFO', s, t, `outputSchema is ${o['type'] !== undefined ? `type ${JSON.stringify(o['type'])}` : 'not type object'}: legal only from protocol 2026-07-28`, `${t.pointer}/outputSchema`, `${s.name}/${t.name}.outputSchema`));
      }),
  },
  {
    id: 'SQ016',
    title: 'Deprecated tool still offered',
    severity: 'INFO',
    family: 'SQ',
    help: 'A deprecated tool competes with its replacement for the model\'s choice.',
    check: (ctx) =>
      eachTool(ctx, false, (s, t, out) => {
        if (/\bDEPRECATED\b/.test(t.description ?? '') || t.annotations?.['deprecated'] === true) out.push(f('SQ016', 'INFO', s, t, `${t.name} is marked deprecated`, `${t.pointer}/description`));
      }),
  },
  {
    id: 'SQ017',
    title: 'Multi-action dispatcher',
    severity: 'INFO',
    family: 'SQ',
    help: 'One tool with an action/method enum of many verbs hides what each call does from policy and from the model.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        for (const [n, sch] of Object.entries(props(t.inputSchema))) {
          if (!/^(action|method|operation|op|command|mode)$/i.test(n) || !isObject(sch) || !Array.isArray(sch['enum'])) continue;
          if (sch['enum'].length >= 4) out.push(f('SQ017', 'INFO', s, t, `"${n}" selects among ${sch['enum'].length} actions`, `${t.pointer}/inputSchema/properties/${n}`));
        }
      }),
  },
  {
    id: 'SQ018',
    title: 'Unclear parameter names',
    severity: 'INFO',
    family: 'SQ',
    help: 'Single letters and names like data, input or value say nothing without a description.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        for (const [n, sch] of Object.entries(props(t.inputSchema))) {
          if (!/^([a-z]|data|input|value|arg|args|param|params|x|y|val|obj|item)$/i.test(n)) continue;
          if (isObject(sch) && typeof sch['description'] === 'string' && sch['description'].trim()) continue;
          out.push(f('SQ018', 'INFO', s, t, `parameter "${n}" has an unclear name and no description`, `${t.pointer}/inputSchema/properties/${n}`, `${s.name}/${t.name}.inputSchema.properties.${n}`));
        }
      }),
  },
  {
    id: 'SQ019',
    title: 'x-mcp-header misuse',
    severity: 'ERROR',
    family: 'SQ',
    help: '2026-07-28: x-mcp-header needs an RFC 9110 token, unique case-insensitively, on a string, integer or boolean property reached through "properties"; clients on Streamable HTTP must drop tools that break this.',
    check: (ctx) =>
      eachTool(ctx, true, (s, t, out) => {
        const { fault } = headerDeclarations(t.inputSchema);
        if (fault) out.push(f('SQ019', 'ERROR', s, t, fault, `${t.pointer}/inputSchema`));
      }),
  },
];
