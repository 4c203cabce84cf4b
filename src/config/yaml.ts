/**
 * YAML files checked against a JSON Schema, with errors that name the file, the line and the key.
 * Used for the config file and for policy files. `${VAR}` is replaced from the environment in string values
 * (`$${` writes a literal `${`); a variable that is not set is an error, not an empty string.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import YAML, { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node, type Scalar } from 'yaml';
import { ConfigError, errnoText } from '../errors.js';

export interface LoadedYaml {
  file: string;
  value: unknown;
  doc: Document;
  lines: LineCounter;
  /** The environment variables `${VAR}` took values from, each with the keys of the value that named it. */
  envRefs: { name: string; at: string[] }[];
}

const ENV_RE = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function substituteEnv(text: string, env: NodeJS.ProcessEnv, where: () => string): string {
  return text.replace(ENV_RE, (_m, escaped: string, name: string) => {
    if (escaped) return `\${${name}}`;
    const v = env[name];
    if (v === undefined) throw new ConfigError(`${where()}: environment variable ${name} is not set`);
    return v;
  });
}

/**
 * `env`: where `${VAR}` takes its value (the config file), or null to replace none (policy files, packs, policy test
 * cases, lint: the text as written). No default: `undefined` meaning process.env is how policy files came to expand.
 */
export function parseYaml(text: string, file: string, env: NodeJS.ProcessEnv | null): LoadedYaml {
  const lines = new LineCounter();
  // Keys written twice are found below, in one pass: the parser's own check (uniqueKeys) compares each key with every
  // key before it, and a lint input of 80,000 servers took a minute to read.
  const doc = YAML.parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
    throw new ConfigError(`${file}:${line}: ${readable(e.message.split('\n')[0]!)}`, file, line);
  }
  const twice = keyWrittenTwice(doc);
  if (twice) {
    const line = twice.range ? lines.linePos(twice.range[0]).line : undefined;
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: Map keys must be unique (${JSON.stringify(String(twice.value).slice(0, 80))} is written twice)`, file, line);
  }
  const envRefs: LoadedYaml['envRefs'] = [];
  if (env) {
    YAML.visit(doc, {
      Scalar(key, node, ancestors) {
        if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
        const line = node.range ? lines.linePos(node.range[0]).line : 0;
        const at = ancestors.flatMap((a) => (isPair(a) && isScalar(a.key) ? [String(a.key.value)] : []));
        for (const m of node.value.matchAll(ENV_RE)) if (!m[1]) envRefs.push({ name: m[2]!, at });
        node.value = substituteEnv(node.value, env, () => `${file}:${line}`);
      },
    });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // An alias expanded past the cap ("billion laughs"): a file error with the line of the first alias, not a crash.
    let line: number | undefined;
    YAML.visit(doc, {
      Alias(_key, node) {
        line = node.range ? lines.linePos(node.range[0]).line : undefined;
        return YAML.visit.BREAK;
      },
    });
    const why = /alias/i.test((e as Error).message) ? 'its *aliases expand too far (past the cap that stops YAML alias bombs); write the values out' : `cannot be read: ${readable((e as Error).message)}`;
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: ${why}`, file, line);
  }
  return { file, value, doc, lines, envRefs };
}

/**
 * The first map key written a second time in its map, compared as the text it becomes in an object (`1` and `"1"` are
 * one key there, and the last would silently win), or undefined.
 */
function keyWrittenTwice(doc: Document): Scalar | undefined {
  let found: Scalar | undefined;
  YAML.visit(doc, {
    Map(_key, node) {
      const seen = new Set<string>();
      for (const p of node.items) {
        if (!isScalar(p.key)) continue;
        const k = String(p.key.value);
        if (seen.has(k)) {
          found = p.key;
          return YAML.visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return found;
}

/** The parser's message, except a stack overflow, which says what the file did to cause it. */
function readable(message: string): string {
  return /Maximum call stack size exceeded/.test(message) ? 'nested too deep to read (no config, policy or manifest nests this far)' : message;
}

export function readYamlFile(file: string, env: NodeJS.ProcessEnv | null): LoadedYaml {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read: ${errnoText(e)}`, file);
  }
  return parseYaml(text, file, env);
}

/** The node at a JSON pointer path, or for a missing/extra key the map that holds it. */
export function nodeAt(doc: Document, segments: string[]): Node | undefined {
  let node: unknown = doc.contents;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) return node as Node;
      node = pair.value ?? pair.key;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) return node as Node;
      node = item;
    } else break;
  }
  return node as Node | undefined;
}

export function keyNode(doc: Document, segments: string[], key: string): Node | undefined {
  const map = nodeAt(doc, segments);
  if (isMap(map)) {
    const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
    if (pair && isScalar(pair.key)) return pair.key as Node;
  }
  return map;
}

export function lineOf(loaded: LoadedYaml, node: Node | undefined): number {
  const r = node?.range;
  return r ? loaded.lines.linePos(r[0]).line : 1;
}

function pointerSegments(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The schemas' patterns in words (a regular expression is not an error message). */
const PATTERN_WORDS: Record<string, string> = {
  '^(/|[A-Za-z]:[\\\\/])': 'must be an absolute path (/… or C:\\…; "~" and relative paths are not read here)',
  '^https?://': 'must be an http:// or https:// URL',
  '^(https?|wss?)://': 'must be an http(s):// or ws(s):// URL',
  '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$': 'must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
};

export function describeErrors(loaded: LoadedYaml, errors: ErrorObject[]): string[] {
  const out: string[] = [];
  for (const e of errors) {
    // Its pattern error (below, with the name) says what is wrong with the name.
    if (e.keyword === 'propertyNames') continue;
    const segs = pointerSegments(e.instancePath);
    const keyPath = segs.join('.') || '(top level)';
    let line: number;
    let msg: string;
    if (e.keyword === 'additionalProperties') {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      line = lineOf(loaded, keyNode(loaded.doc, segs, extra));
      msg = `${segs.length ? `${keyPath}.` : ''}${extra}: unknown key`;
    } else if (e.keyword === 'required') {
      line = lineOf(loaded, nodeAt(loaded.doc, segs));
      msg = `${keyPath}: missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
    } else if (e.keyword === 'enum') {
      line = lineOf(loaded, nodeAt(loaded.doc, segs));
      msg = `${keyPath}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'pattern') {
      const name = (e as ErrorObject & { propertyName?: string }).propertyName;
      const pattern = String((e.params as { pattern: string }).pattern);
      line = lineOf(loaded, name !== undefined ? keyNode(loaded.doc, segs, name) : nodeAt(loaded.doc, segs));
      msg = `${keyPath}${name !== undefined ? `: the name ${JSON.stringify(name)}` : ''}: ${PATTERN_WORDS[pattern] ?? `must match the pattern ${pattern}`}`;
    } else {
      line = lineOf(loaded, nodeAt(loaded.doc, segs));
      msg = `${keyPath}: ${e.message ?? e.keyword}`;
    }
    const text = `${loaded.file}:${line}: ${msg}`;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

const ajvCache = new Map<object, ValidateFunction>();

/** How the shipped schemas are compiled, here and by the build (scripts/build-assets.mjs). */
export const AJV_OPTIONS = { allErrors: true, strict: true, allowUnionTypes: true } as const;

/** Names a schema and the schemas it refers to by content: a prebuilt validator is used only for the same text. */
export function validatorKey(schema: object, refs: object[]): string {
  return createHash('sha256').update(JSON.stringify([schema, ...refs])).digest('hex');
}

/** Where the build puts the shipped schemas' validators, compiled ahead of time (beside this module in dist/). */
export function prebuiltValidatorsFile(): string {
  return fileURLToPath(new URL('./validators.cjs', import.meta.url));
}

interface PrebuiltValidators {
  keys: Record<string, string>;
  [name: string]: unknown;
}

let prebuilt: PrebuiltValidators | null | undefined;

/** The build's validators, or null (tests run from src/, or a build without them). */
function prebuiltValidators(): PrebuiltValidators | null {
  if (prebuilt === undefined) {
    try {
      const m = createRequire(import.meta.url)(prebuiltValidatorsFile()) as PrebuiltValidators;
      prebuilt = m && typeof m.keys === 'object' ? m : null;
    } catch {
      prebuilt = null;
    }
  }
  return prebuilt;
}

/**
 * A validator for `schema`; `refs` are the other shipped schemas it `$ref`s (by their `$id`). The shipped schemas
 * come compiled by the build (compiling the config schema at start-up cost more than a tenth of a second); any
 * other schema, or a shipped one whose text differs from what the build compiled, is compiled here.
 */
export function schemaValidator(schema: object, refs: object[] = []): ValidateFunction {
  let v = ajvCache.get(schema);
  if (!v) {
    const built = prebuiltValidators();
    const name = built?.keys[validatorKey(schema, refs)];
    if (built && name && typeof built[name] === 'function') v = built[name] as ValidateFunction;
    else {
      const ajv = new Ajv(AJV_OPTIONS);
      for (const r of refs) ajv.addSchema(r);
      v = ajv.compile(schema);
    }
    ajvCache.set(schema, v);
  }
  return v;
}

const TYPE_WORDS: Record<string, string> = { string: 'a string', object: 'a map', array: 'a list', boolean: 'true or false', integer: 'a whole number', number: 'a number', null: 'null' };

/**
 * The errors of a value that may take several forms (oneOf/anyOf): a form the value took and failed inside (an
 * object with a bad key) explains it, so the other forms' "must be string", "must be equal to constant" go; a
 * value that took none becomes one line naming every form ("must be false, a string or a map").
 */
function focusAlternatives(errors: ErrorObject[]): ErrorObject[] {
  const out: ErrorObject[] = [];
  const merged = new Map<string, { e: ErrorObject; forms: string[] }>();
  for (const e of errors) {
    const alternative = /\/(oneOf|anyOf)\/\d+\//.test(e.schemaPath) && (e.keyword === 'type' || e.keyword === 'const');
    if (!alternative) {
      out.push(e);
      continue;
    }
    if (errors.some((o) => o.instancePath.startsWith(`${e.instancePath}/`))) continue;
    const p = e.params as { type?: string | string[]; allowedValue?: unknown };
    const forms = e.keyword === 'const' ? [JSON.stringify(p.allowedValue)] : [p.type ?? []].flat().map((t) => TYPE_WORDS[t] ?? t);
    let m = merged.get(e.instancePath);
    if (!m) {
      m = { e: { ...e, keyword: 'alternatives' }, forms: [] };
      merged.set(e.instancePath, m);
      out.push(m.e);
    }
    for (const f of forms) if (!m.forms.includes(f)) m.forms.push(f);
    m.e.message = `must be ${m.forms.length > 1 ? `${m.forms.slice(0, -1).join(', ')} or ${m.forms.at(-1)}` : m.forms[0]}`;
  }
  return out;
}

/** Validates and throws one ConfigError listing every problem, each with file:line. */
export function validateYaml(loaded: LoadedYaml, schema: object, ErrorType: new (m: string, f?: string, l?: number) => ConfigError = ConfigError, refs: object[] = []): void {
  const validate = schemaValidator(schema, refs);
  if (validate(loaded.value)) return;
  // Report the most specific errors: drop oneOf/anyOf summaries when a branch error explains them.
  const errors = focusAlternatives((validate.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if'));
  // In the order of the file, as a person reads it (the validator goes by the schema's order).
  const lineNo = (l: string | undefined) => {
    const m = l === undefined ? null : /^.*?:(\d+):/.exec(l);
    return m ? Number(m[1]) : undefined;
  };
  const lines = describeErrors(loaded, errors.length ? errors : (validate.errors ?? [])).sort((a, b) => (lineNo(a) ?? 0) - (lineNo(b) ?? 0));
  throw new ErrorType(lines.join('\n'), loaded.file, lineNo(lines[0]));
}
