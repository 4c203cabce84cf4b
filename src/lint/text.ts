/**
 * Every string a model sees, and the normalisation each is scanned through: NFKC, hidden characters removed (and
 * Unicode tag characters decoded into the ASCII they shadow), ANSI escapes rendered visibly, whitespace
 * collapsed. Rules match the normalised text, so a zero-width space cannot split a keyword; hidden characters,
 * escapes and padding are reported on the raw text. Manifests are hostile input, so every pattern is RE2.
 */
import RE2 from 're2';
import { HIDDEN_CHARS, HIDDEN_RANGES } from '../protocol/escape.js';
import type { ServerModel } from './types.js';

export type TextKind =
  | 'instructions'
  | 'tool-name'
  | 'tool-title'
  | 'tool-description'
  | 'param-name'
  | 'param-text'
  | 'prompt'
  | 'prompt-text'
  | 'resource';

export interface VisibleText {
  server: ServerModel;
  /** The tool, prompt or resource the text belongs to. */
  owner?: string;
  kind: TextKind;
  text: string;
  /** JSON Pointer of the string in its file. */
  pointer: string;
  /** Dotted target for findings: tool.inputSchema.properties.x.description */
  target: string;
}

/** One segment of a JSON Pointer (RFC 6901: ~ as ~0, / as ~1). */
export const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** Walks a JSON Schema: property names, descriptions, titles, defaults, examples, enum and const values. */
function schemaTexts(schema: unknown, pointer: string, target: string, push: (kind: TextKind, text: string, p: string, t: string) => void, depth = 0): void {
  if (depth > 32 || schema === null || typeof schema !== 'object' || Array.isArray(schema)) return;
  const s = schema as Record<string, unknown>;
  for (const k of ['description', 'title']) if (typeof s[k] === 'string') push('param-text', s[k] as string, `${pointer}/${k}`, `${target}.${k}`);
  for (const k of ['default', 'const']) if (typeof s[k] === 'string') push('param-text', s[k] as string, `${pointer}/${k}`, `${target}.${k}`);
  for (const k of ['enum', 'examples']) {
    const list = s[k];
    if (Array.isArray(list)) list.forEach((v, i) => typeof v === 'string' && push('param-text', v, `${pointer}/${k}/${i}`, `${target}.${k}[${i}]`));
  }
  const props = s['properties'];
  if (props && typeof props === 'object' && !Array.isArray(props)) {
    for (const [name, sub] of Object.entries(props as Record<string, unknown>)) {
      const p = `${pointer}/properties/${esc(name)}`;
      push('param-name', name, p, `${target}.properties.${name}`);
      schemaTexts(sub, p, `${target}.properties.${name}`, push, depth + 1);
    }
  }
  for (const k of ['items', 'additionalProperties', 'not', 'if', 'then', 'else']) schemaTexts(s[k], `${pointer}/${k}`, `${target}.${k}`, push, depth + 1);
  for (const k of ['anyOf', 'oneOf', 'allOf', 'prefixItems']) {
    const list = s[k];
    if (Array.isArray(list)) list.forEach((sub, i) => schemaTexts(sub, `${pointer}/${k}/${i}`, `${target}.${k}[${i}]`, push, depth + 1));
  }
  for (const k of ['$defs', 'definitions']) {
    const defs = s[k];
    if (defs && typeof defs === 'object' && !Array.isArray(defs)) for (const [n, sub] of Object.entries(defs as Record<string, unknown>)) schemaTexts(sub, `${pointer}/${k}/${esc(n)}`, `${target}.${k}.${n}`, push, depth + 1);
  }
}

export function visibleTexts(server: ServerModel): VisibleText[] {
  const out: VisibleText[] = [];
  const push = (owner: string | undefined) => (kind: TextKind, text: string, pointer: string, target: string) => out.push({ server, owner, kind, text, pointer, target });
  if (server.instructions) out.push({ server, kind: 'instructions', text: server.instructions.text, pointer: server.instructions.pointer, target: 'instructions' });
  for (const t of server.tools) {
    const p = push(t.name);
    p('tool-name', t.name, `${t.pointer}/name`, `${t.name}.name`);
    if (t.title) p('tool-title', t.title, `${t.pointer}/title`, `${t.name}.title`);
    if (t.description) p('tool-description', t.description, `${t.pointer}/description`, `${t.name}.description`);
    const at = t.annotations?.['title'];
    if (typeof at === 'string') p('tool-title', at, `${t.pointer}/annotations/title`, `${t.name}.annotations.title`);
    schemaTexts(t.inputSchema, `${t.pointer}/inputSchema`, `${t.name}.inputSchema`, p);
    schemaTexts(t.outputSchema, `${t.pointer}/outputSchema`, `${t.name}.outputSchema`, p);
  }
  for (const pr of server.prompts) {
    const p = push(pr.name);
    p('prompt', pr.name, `${pr.pointer}/name`, `prompt ${pr.name}.name`);
    if (pr.title) p('prompt', pr.title, `${pr.pointer}/title`, `prompt ${pr.name}.title`);
    if (pr.description) p('prompt', pr.description, `${pr.pointer}/description`, `prompt ${pr.name}.description`);
    if (pr.text) p('prompt-text', pr.text, `${pr.pointer}/text`, `prompt ${pr.name}.text`);
    for (const a of pr.arguments) {
      p('prompt', a.name, `${a.pointer}/name`, `prompt ${pr.name}.arguments.${a.name}`);
      if (a.description) p('prompt', a.description, `${a.pointer}/description`, `prompt ${pr.name}.arguments.${a.name}.description`);
    }
  }
  for (const r of server.resources) {
    const p = push(r.uri);
    p('resource', r.uri, `${r.pointer}/${r.template ? 'uriTemplate' : 'uri'}`, `resource ${r.uri}`);
    if (r.name) p('resource', r.name, `${r.pointer}/name`, `resource ${r.uri}.name`);
    if (r.description) p('resource', r.description, `${r.pointer}/description`, `resource ${r.uri}.description`);
  }
  return out;
}

// ── Hidden characters ──────────────────────────────────────────────────────────────────────────────

export interface Hidden {
  /** Code points found, in order (capped). */
  chars: number[];
  count: number;
  /** ASCII shadowed by Unicode tag characters (U+E0020–E007E). */
  tagShadow: string;
}

const HIDDEN_ONE = new RegExp(`^[${HIDDEN_RANGES}]$`, 'u');

export function isHidden(cp: number): boolean {
  return HIDDEN_ONE.test(String.fromCodePoint(cp));
}

/** The hidden characters, VS16 and ESC: what `normalize` removes or renders. */
export const HIDDEN_OR_ESC = new RegExp(`[${HIDDEN_RANGES}\\ufe0f\\x1b]`, 'gu');

/** The code point that ends just before index `i`, if any. */
function codePointBefore(text: string, i: number): number | undefined {
  if (i <= 0) return undefined;
  const c = text.charCodeAt(i - 1);
  if (c < 0xdc00 || c > 0xdfff || i < 2) return c;
  const h = text.charCodeAt(i - 2);
  return h >= 0xd800 && h <= 0xdbff ? text.codePointAt(i - 2) : c;
}

const EMOJI = /\p{Extended_Pictographic}/u;

/** Hidden, format and bidi characters (ZWJ and VS16 inside emoji sequences are allowed). */
export function hiddenChars(text: string): Hidden {
  const chars: number[] = [];
  let count = 0;
  let tagShadow = '';
  // Only the matches are visited (a per-character walk of a 4 MB description made four million strings).
  for (const m of text.matchAll(HIDDEN_CHARS)) {
    const cp = m[0].codePointAt(0)!;
    if (cp === 0x200d) {
      const prev = codePointBefore(text, m.index);
      const after = text.codePointAt(m.index + 1);
      if (prev !== undefined && after !== undefined && (prev === 0xfe0f || EMOJI.test(String.fromCodePoint(prev))) && EMOJI.test(String.fromCodePoint(after))) continue;
    }
    count++;
    if (chars.length < 16) chars.push(cp);
    if (cp >= 0xe0020 && cp <= 0xe007e) tagShadow += String.fromCharCode(cp - 0xe0000);
  }
  return { chars, count, tagShadow };
}

/** ANSI escape sequences and C0/C1 controls other than tab, newline and carriage return. */
export function controlChars(text: string): { count: number; sample: string } {
  let count = 0;
  let sample = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127 || (c >= 0x80 && c <= 0x9f)) {
      count++;
      if (sample.length < 60) sample += c === 27 ? 'ESC' + text.slice(i + 1, i + 5).replace(/[^\x20-\x7e]/g, '?') + ' ' : `\\x${c.toString(16).padStart(2, '0')} `;
    }
  }
  return { count, sample: sample.trim() };
}

/** The text rules match: NFKC, hidden characters removed, tag shadow appended, ANSI rendered, spaces collapsed. */
export function normalize(text: string): string {
  let shadow = '';
  // One replace over the text instead of a string built a character at a time (garbage: 3 s for 4 MB).
  const out = text.normalize('NFKC').replace(HIDDEN_OR_ESC, (ch) => {
    const cp = ch.codePointAt(0)!;
    if (cp === 27) return 'ESC';
    if (cp >= 0xe0020 && cp <= 0xe007e) shadow += String.fromCharCode(cp - 0xe0000);
    return '';
  });
  return (shadow ? `${out} ${shadow}` : out).replace(/[\s\u00a0]+/g, ' ').trim();
}

/** Terminal-safe excerpt: no control, bidi or hidden characters survive (they are shown as code points). */
export function safeExcerpt(text: string, max = 120): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 32 || cp === 127 || (cp >= 0x80 && cp <= 0x9f) || isHidden(cp)) out += cp === 10 ? ' ' : `<U+${cp.toString(16).toUpperCase().padStart(4, '0')}>`;
    else out += ch;
    if (out.length >= max) return `${out.slice(0, max)}…`;
  }
  return out.replace(/\s+/g, ' ').trim();
}

// ── Matching ─────────────────────────────────────────────────────────────────────────────────────

const cache = new Map<string, RE2>();

/** An RE2 pattern, case-insensitive unless `flags` says otherwise, compiled once. */
export function re(source: string, flags = 'i'): RE2 {
  const key = `${flags}/${source}`;
  let r = cache.get(key);
  if (!r) cache.set(key, (r = new RE2(source, flags)));
  return r;
}

/** The first match's text, or undefined. */
export function first(text: string, pattern: string, flags = 'i'): string | undefined {
  const r = re(pattern, flags);
  r.lastIndex = 0;
  const m = r.exec(text);
  return m ? m[0] : undefined;
}

export function count(text: string, pattern: string, flags = 'gi'): number {
  const r = re(pattern, flags.includes('g') ? flags : `${flags}g`);
  r.lastIndex = 0;
  let n = 0;
  while (r.exec(text)) n++;
  return n;
}

/** snake_case, camelCase and kebab-case names as lower-case tokens. */
export function nameTokens(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((t) => t.toLowerCase());
}
