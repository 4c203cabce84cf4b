/**
 * Secrets a server hands out in its own definitions (TP020), and the detector the host-config rules share: the
 * bundled secrets pack, built once, on first use.
 */
import { buildRedaction, DEFAULT_SETTINGS, type Redaction } from '../../redact/setup.js';
import { esc, visibleTexts } from '../text.js';
import type { Finding, LintContext, Rule, ServerModel, Severity } from '../types.js';

let detectors: Redaction | undefined;
export function secretsDetector(): Redaction {
  detectors ??= buildRedaction({ ...DEFAULT_SETTINGS, packs: ['secrets'] });
  return detectors;
}

/** Strings of a `_meta` object, with their pointers (bounded: a definition's `_meta` is small; a hostile one is not read whole). */
function metaStrings(v: unknown, pointer: string, out: { text: string; pointer: string }[], depth = 0): void {
  if (out.length >= 1000 || depth > 16) return;
  if (typeof v === 'string') out.push({ text: v, pointer });
  else if (Array.isArray(v)) v.forEach((x, i) => metaStrings(x, `${pointer}/${i}`, out, depth + 1));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) metaStrings(x, `${pointer}/${esc(k)}`, out, depth + 1);
}

/**
 * Where the proxy cannot mask a secret on its way to the model: a name, a URI, what a schema accepts (`enum`,
 * `const`) and `_meta` are passed as the server wrote them (changing them would change the tool), while
 * descriptions, titles, a schema's `default` and `examples` and the instructions are masked (docs/redaction.md).
 */
function unmasked(kind: string, pointer: string): boolean {
  return kind === 'tool-name' || kind === 'param-name' || /\/(name|uri|uriTemplate|const)$|\/enum\/\d+$|\/_meta(\/|$)/.test(pointer);
}

/** Per lint run: the secrets TP020 found in definitions (as written and as a pointer segment) → the rule that found each. */
const foundValues = new WeakMap<LintContext, Map<string, string>>();

/**
 * Masks secrets in what a lint run reports (targets, messages, evidence, pointers), after its findings have been
 * placed: a definition is named by what can itself be a secret (a tool or a parameter named after a token, a URI that
 * carries one), and other rules quote definitions. Each value TP020 found in the run is replaced wherever it appears,
 * and whatever the secrets pack finds in the finding's own text; so no finding shows a value, in any output format.
 */
export function maskFindings(ctx: LintContext, findings: Finding[]): void {
  const det = secretsDetector().detector;
  const values = [...(foundValues.get(ctx) ?? new Map<string, string>())].sort((x, y) => y[0].length - x[0].length);
  const mask = (s: string): string => {
    let out = s;
    for (const [value, rule] of values) if (out.includes(value)) out = out.split(value).join(`[REDACTED:${rule}]`);
    for (const f of det.scan(out, 100).reverse()) out = `${out.slice(0, f.start)}[REDACTED:${f.rule.id}]${out.slice(f.end)}`;
    return out;
  };
  for (const f of findings) {
    f.target = mask(f.target);
    f.message = mask(f.message);
    f.location.pointer = mask(f.location.pointer);
    if (f.evidence) f.evidence = mask(f.evidence);
  }
}

function check(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const det = secretsDetector().detector;
  const values = new Map<string, string>();
  foundValues.set(ctx, values);
  const report = (server: ServerModel, kind: string, text: string, pointer: string, target: string) => {
    const found = det.scan(text, 100);
    const first = found[0];
    if (!first) return;
    for (const f of found) {
      const value = text.slice(f.start, f.end);
      if (value) for (const v of [value, esc(value)]) values.set(v, f.rule.id);
    }
    const hard = unmasked(kind, pointer);
    const severity: Severity = hard ? 'HIGH' : 'MED';
    const where = hard ? 'mcp-warden passes it as written (masking it would change what the tool is or accepts): rotate it and remove it from the definition' : 'mcp-warden masks it on its way to the model, but every other client reads it: rotate it and remove it from the definition';
    out.push({ rule: 'TP020', severity, target: `${server.name}/${target}`, message: `a ${first.rule.id} in the definition, handed to every model and everyone who lists it; ${where}`, location: { file: server.file, pointer }, evidence: `[REDACTED:${first.rule.id}]`, server: server.name });
  };
  for (const server of ctx.servers) {
    for (const vt of visibleTexts(server)) report(server, vt.kind, vt.text, vt.pointer, vt.target);
    const owners = [
      ...server.tools.map((t) => ({ target: t.name, def: t })),
      ...server.prompts.map((p) => ({ target: `prompt ${p.name}`, def: p })),
      ...server.resources.map((r) => ({ target: `resource ${r.uri}`, def: r })),
    ];
    for (const { target, def } of owners) {
      const strings: { text: string; pointer: string }[] = [];
      metaStrings(def.raw['_meta'], `${def.pointer}/_meta`, strings);
      for (const s of strings) report(server, 'meta', s.text, s.pointer, `${target}._meta`);
    }
  }
  return out;
}

/**
 * Lint only: pinning on first use does not run it (the proxy's own screen would need a second detector in memory,
 * and it already masks what it can); `lint --live` and a manifest in CI report it.
 */
export const SECRET_RULES: Rule[] = [
  {
    id: 'TP020',
    title: 'Secret in a definition',
    severity: 'HIGH',
    family: 'TP',
    help: 'A token or key from the secrets pack in a tool, prompt, resource or resource template definition (a name, a description, a schema\'s enum, const or default, a URI or URI template, _meta) or the server instructions: every client that lists the server, and every model it is shown to, reads it. HIGH where mcp-warden passes it as written (names, URIs, enum, const, _meta), MED where it masks it (descriptions, titles, default, examples, instructions). No finding shows the value (TP020 masks each one it found in every finding of the run).',
    check,
  },
];
