/**
 * What a server says about itself reaches the model too: the descriptions and titles of its tools, prompts, resources
 * and resource templates (their schemas' included), its `instructions`, the title and description in its
 * `serverInfo`, and any string in its `capabilities` (`experimental` is free-form). Secrets and personal data in them
 * are masked like any other text the server sends (a rule whose action is `detect` counts and leaves them; `block`
 * masks, since a list cannot be withheld for one description).
 *
 * The stage sits above pinning, so its response hook runs after it: pins hash the definitions exactly as the server
 * sent them (a lock file written from the server itself still matches), and the session's own copy of the tool
 * list (argument checks, pins at call time) is never changed. A definition with something to mask is copied and the
 * copy masked; names, URIs, schema shapes and validation keywords (`enum`, `const`) are never touched.
 */
import { isObject, type JsonRpcResultResponse } from '../protocol/jsonrpc.js';
import { markDirty, type Exchange, type Stage } from '../pipeline/types.js';
import { mergeCounts } from './redactor.js';
import type { Redaction } from './setup.js';
import { pretest } from './stage.js';

/** List results and the key their items are under. */
const LISTS = new Map([
  ['tools/list', 'tools'],
  ['prompts/list', 'prompts'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
]);
/** Keys whose string values are prose written for a reader. */
const PROSE = new Set(['description', 'title']);
/**
 * JSON Schema annotations whose values are examples for a reader, not rules: every string in them is masked like
 * prose. A server that declares `z.string().default(process.env.API_KEY)` lists its key as the schema's `default`,
 * and the model reads the list. Validation keywords (`enum`, `const`) are left: they say what the server accepts.
 */
const ANNOTATIONS = new Set(['default', 'examples']);
/** Schema keywords whose members are names the server chose (a property may be called `default`), not keywords. */
const NAME_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** Nesting past which a definition is not searched further (a schema deeper than this is the policy stage's business). */
const MAX_DEPTH = 64;

type Path = (string | number)[];

/**
 * Where the prose of a definition is: the path of every `description` and `title` string, and of every string inside
 * a schema's `default` or `examples`, in a fixed order. `names`: `v`'s keys are names (the members of `properties`).
 */
function prosePaths(v: unknown, path: Path, out: Path[], depth: number, names = false): void {
  if (depth > MAX_DEPTH) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === 'object') prosePaths(v[i], [...path, i], out, depth + 1);
  } else if (isObject(v)) {
    for (const k of Object.keys(v)) {
      const x = v[k];
      if (!names && ANNOTATIONS.has(k)) stringPaths(x, [...path, k], out, depth + 1);
      else if (typeof x === 'string') {
        if (!names && PROSE.has(k)) out.push([...path, k]);
      } else if (x !== null && typeof x === 'object') prosePaths(x, [...path, k], out, depth + 1, !names && NAME_MAPS.has(k));
    }
  }
}

/** The path of every string in `v` (an annotation's value: a string, or strings anywhere in an array or object). */
function stringPaths(v: unknown, path: Path, out: Path[], depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (typeof v === 'string') out.push(path);
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) stringPaths(v[i], [...path, i], out, depth + 1);
  else if (isObject(v)) for (const k of Object.keys(v)) stringPaths(v[k], [...path, k], out, depth + 1);
}

function at(root: unknown, path: Path): unknown {
  let v = root;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

function setAt(root: unknown, path: Path, value: string): void {
  const parent = at(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
}

export function definitionsStage(redaction: Redaction): Stage {
  const red = redaction.outbound;

  /** One text masked with every rule that is not `detect`; the counts of everything found. */
  function mask(text: string, counts: Record<string, number>): string {
    const { text: masked, findings } = red.redactText(text, { blockMasks: true });
    for (const f of findings) counts[f.rule] = (counts[f.rule] ?? 0) + 1;
    return masked;
  }

  /**
   * A copy of `item` with its prose masked, or the item itself when there is nothing to mask. `nested`: prose at any
   * depth (a definition); false: the item's own description and title; 'all': every string at any depth.
   */
  function maskItem(item: unknown, counts: Record<string, number>, nested: boolean | 'all' = true): unknown {
    if (!isObject(item)) return item;
    const paths: Path[] = [];
    if (nested === 'all') stringPaths(item, [], paths, 0);
    else if (nested) prosePaths(item, [], paths, 0);
    else for (const k of PROSE) if (typeof item[k] === 'string') paths.push([k]);
    let copy: Record<string, unknown> | undefined;
    for (const p of paths) {
      const text = at(item, p) as string;
      const masked = mask(text, counts);
      if (masked === text) continue;
      copy ??= structuredClone(item);
      setAt(copy, p, masked);
    }
    return copy ?? item;
  }

  return {
    name: 'redaction-definitions',
    response(ex: Exchange) {
      if (ex.direction !== 'to-server' || !ex.response || ex.answeredBy) return;
      const key = LISTS.get(ex.method);
      const isHello = ex.method === 'initialize' || ex.method === 'server/discover';
      if (!key && !isHello) return;
      const result = (ex.response.message as Partial<JsonRpcResultResponse>).result;
      if (!isObject(result)) return;
      // Nothing any rule could find in the whole answer: nothing to look at item by item.
      if (pretest(redaction.detector, ex.response) === 'clean') return;
      const counts: Record<string, number> = {};
      let changed = false;
      if (isHello && typeof result['instructions'] === 'string') {
        const masked = mask(result['instructions'], counts);
        if (masked !== result['instructions']) {
          result['instructions'] = masked;
          changed = true;
        }
      }
      // The server's own name card: its title and description are prose a host shows (its name and version are not).
      if (isHello && isObject(result['serverInfo'])) {
        const info = result['serverInfo'];
        const masked = maskItem(info, counts, false);
        if (masked !== info) {
          result['serverInfo'] = masked;
          changed = true;
        }
      }
      // What the server says it can do: the standard capabilities hold no text, but `experimental` (and anything else
      // a server adds) is its own and free-form, so every string in them is masked; keys are left. The session keeps
      // the server's own copy.
      if (isHello && isObject(result['capabilities'])) {
        const caps = result['capabilities'];
        const masked = maskItem(caps, counts, 'all');
        if (masked !== caps) {
          result['capabilities'] = masked;
          changed = true;
        }
      }
      const list = key ? result[key] : undefined;
      if (Array.isArray(list)) {
        const masked = list.map((item) => maskItem(item, counts));
        if (masked.some((m, i) => m !== list[i])) {
          result[key!] = masked;
          changed = true;
        }
      }
      if (Object.keys(counts).length) ex.notes.redactions = mergeCounts(ex.notes.redactions ?? {}, counts);
      if (changed) markDirty(ex.response);
    },
  };
}
