/**
 * TOML host configs (Codex CLI's `config.toml`): read with smol-toml, and edited in place the way install edits a
 * JSON config — only the values it changes are rewritten, so comments, order, spacing and every other table stay as
 * the person wrote them. The parser gives no positions, so a small scanner finds each statement (table header, or
 * key and value) with its offsets; it reads only what a valid document can hold (the parser has accepted the text
 * before it runs) and stops with an error on anything else. Callers check an edit by reading the result again.
 */
import { parse, TomlError } from 'smol-toml';
import { applyEdits, InPlaceEditError, type Edit } from './edits.js';
import { lineFinder } from './lines.js';

/** Deeper than any host config: arrays and inline tables nested past this are refused, not followed. */
const MAX_TOML_DEPTH = 64;

/** Text that is not TOML: the line, and the parser's reason (its first line only: the rest quotes the file). */
export class TomlSyntaxError extends Error {
  constructor(
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** The document as plain values (tables have no prototype; dates are TomlDate objects). */
export function parseToml(text: string): Record<string, unknown> {
  try {
    const doc = parse(text.replace(/^\uFEFF/, ''), { maxDepth: MAX_TOML_DEPTH }) as Record<string, unknown>;
    // The parser's limit counts arrays and inline tables only: `[a.a.a.…]` (or a dotted key) thousands of parts long
    // nests tables as deep, and every later reader (JSON.stringify among them) recursed past the stack.
    if (deeperThan(doc, MAX_TOML_DEPTH)) throw new TomlSyntaxError(undefined, `nested deeper than ${MAX_TOML_DEPTH} levels, which no host config is`);
    return doc;
  } catch (e) {
    if (e instanceof TomlSyntaxError) throw e;
    if (e instanceof TomlError) throw new TomlSyntaxError(e.line, e.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, ''));
    // The parser recursing past what the stack holds, or anything else it throws: not a document it could read.
    throw new TomlSyntaxError(undefined, e instanceof RangeError ? 'nested too deep' : String((e as Error).message ?? e).split('\n')[0]!);
  }
}

/** Whether tables and arrays nest deeper than `max` (walked with a list, not by recursion). */
function deeperThan(root: unknown, max: number): boolean {
  const todo: [unknown, number][] = [[root, 0]];
  while (todo.length) {
    const [v, depth] = todo.pop()!;
    if (!v || typeof v !== 'object' || v instanceof Date) continue;
    if (depth > max) return true;
    for (const c of Object.values(v)) todo.push([c, depth + 1]);
  }
  return false;
}

/** A `[table]` or `[[array of tables]]` header, with the path it opens (an array's element as its index). */
export interface TomlTable {
  path: string[];
  /** Offset of the `[`, and its line (1-based). */
  start: number;
  line: number;
}

/** A `key = value` line: its dotted key, the whole path it sets, and where each part is. */
export interface TomlValue {
  keys: string[];
  path: string[];
  /** Start of the line, of the key, of the value and just past it; the end of the line (past its newline). */
  lineStart: number;
  keyStart: number;
  valueStart: number;
  valueEnd: number;
  lineEnd: number;
  line: number;
}

class ScanError extends Error {}

const BARE = /[A-Za-z0-9_-]+/y;
const SCALAR = /[^\s,\]}#]+/y;

function spaces(s: string, i: number): number {
  while (s[i] === ' ' || s[i] === '\t') i++;
  return i;
}

/** Past spaces, newlines and comments (between statements, and inside arrays and inline tables). */
function blank(s: string, i: number): number {
  for (;;) {
    i = spaces(s, i);
    if (s[i] === '#') {
      const nl = s.indexOf('\n', i);
      i = nl < 0 ? s.length : nl;
    } else if (s[i] === '\n') i++;
    else if (s[i] === '\r' && s[i + 1] === '\n') i += 2;
    else return i;
  }
}

function fail(s: string, i: number): never {
  throw new ScanError(`unexpected ${i >= s.length ? 'end' : JSON.stringify(s[i])} at offset ${i}`);
}

const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', e: '\u001b', '"': '"', '\\': '\\' };

/** A basic string ("…") starting at `i`: its text and the offset past its closing quote. */
function basic(s: string, i: number): [string, number] {
  let out = '';
  let j = i + 1;
  for (;;) {
    const c = s[j];
    if (c === undefined || c === '\n') fail(s, j);
    if (c === '"') return [out, j + 1];
    if (c !== '\\') {
      out += c;
      j++;
      continue;
    }
    const e = s[j + 1]!;
    if (ESCAPES[e] !== undefined) {
      out += ESCAPES[e];
      j += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      out += String.fromCodePoint(parseInt(s.slice(j + 2, j + 2 + n), 16));
      j += 2 + n;
    } else fail(s, j);
  }
}

/** A dotted key starting at `i` (bare, "basic" and 'literal' parts): its parts and the offset past it. */
function key(s: string, i: number): [string[], number] {
  const keys: string[] = [];
  for (;;) {
    i = spaces(s, i);
    if (s[i] === '"') {
      const [k, j] = basic(s, i);
      keys.push(k);
      i = j;
    } else if (s[i] === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) fail(s, i);
      keys.push(s.slice(i + 1, end));
      i = end + 1;
    } else {
      BARE.lastIndex = i;
      const m = BARE.exec(s);
      if (!m) fail(s, i);
      keys.push(m[0]);
      i += m[0].length;
    }
    i = spaces(s, i);
    if (s[i] !== '.') return [keys, i];
    i++;
  }
}

/** The offset just past the value that starts at `i`. */
function skipValue(s: string, i: number, depth = 0): number {
  if (depth > MAX_TOML_DEPTH) fail(s, i);
  if (s.startsWith('"""', i)) {
    let j = i + 3;
    for (;;) {
      if (j >= s.length) fail(s, j);
      if (s[j] === '\\') j += 2;
      else if (s.startsWith('"""', j)) {
        j += 3;
        // Up to two quotes right before the closing three belong to the text.
        for (let extra = 0; extra < 2 && s[j] === '"'; extra++) j++;
        return j;
      } else j++;
    }
  }
  if (s.startsWith("'''", i)) {
    const end = s.indexOf("'''", i + 3);
    if (end < 0) fail(s, i);
    let j = end + 3;
    for (let extra = 0; extra < 2 && s[j] === "'"; extra++) j++;
    return j;
  }
  if (s[i] === '"') return basic(s, i)[1];
  if (s[i] === "'") {
    const end = s.indexOf("'", i + 1);
    if (end < 0) fail(s, i);
    return end + 1;
  }
  if (s[i] === '[') {
    let j = i + 1;
    for (;;) {
      j = blank(s, j);
      if (s[j] === ']') return j + 1;
      j = blank(s, skipValue(s, j, depth + 1));
      if (s[j] === ',') j++;
      else if (s[j] !== ']') fail(s, j);
    }
  }
  if (s[i] === '{') {
    let j = i + 1;
    for (;;) {
      j = blank(s, j);
      if (s[j] === '}') return j + 1;
      j = spaces(s, key(s, j)[1]);
      if (s[j] !== '=') fail(s, j);
      j = blank(s, skipValue(s, blank(s, j + 1), depth + 1));
      if (s[j] === ',') j++;
      else if (s[j] !== '}') fail(s, j);
    }
  }
  SCALAR.lastIndex = i;
  const m = SCALAR.exec(s);
  if (!m) fail(s, i);
  let j = i + m[0].length;
  // A date and a time may be separated by a space (1979-05-27 07:32:00Z).
  if (/^\d{4}-\d{2}-\d{2}$/.test(m[0]) && s[j] === ' ' && /^\d{2}:/.test(s.slice(j + 1, j + 4))) {
    SCALAR.lastIndex = j + 1;
    j += 1 + SCALAR.exec(s)![0].length;
  }
  return j;
}

/**
 * Every statement of a document the parser accepted: table headers and `key = value` lines, in order, each value with
 * the whole path it sets (`[mcp_servers.x]` then `command = …` sets mcp_servers.x.command). Throws on text it cannot
 * follow.
 */
export function tomlStatements(text: string): { tables: TomlTable[]; values: TomlValue[] } {
  const s = text;
  const tables: TomlTable[] = [];
  const values: TomlValue[] = [];
  const find = lineFinder(s);
  const lineOf = (at: number): number => find(at).line;
  // Arrays of tables seen so far (by their written path) and how many elements each has: a path through one goes
  // to its last element, as TOML reads `[a.b]` after `[[a]]`.
  const arrays = new Map<string, number>();
  const resolve = (keys: string[], array: boolean): string[] => {
    const out: string[] = [];
    keys.forEach((k, n) => {
      out.push(k);
      const id = JSON.stringify(keys.slice(0, n + 1));
      if (n === keys.length - 1 && array) {
        const count = (arrays.get(id) ?? 0) + 1;
        arrays.set(id, count);
        out.push(String(count - 1));
      } else if (arrays.has(id)) out.push(String(arrays.get(id)! - 1));
    });
    return out;
  };
  let table: string[] = [];
  const first = s.startsWith('\uFEFF') ? 1 : 0;
  let i = first;
  try {
    for (;;) {
      i = blank(s, i);
      if (i >= s.length) break;
      const lineStart = Math.max(first, s.lastIndexOf('\n', i - 1) + 1);
      if (s[i] === '[') {
        const array = s[i + 1] === '[';
        const [keys, j] = key(s, i + (array ? 2 : 1));
        if (array ? !s.startsWith(']]', j) : s[j] !== ']') fail(s, j);
        table = resolve(keys, array);
        tables.push({ path: table, start: i, line: lineOf(i) });
        i = j + (array ? 2 : 1);
        continue;
      }
      const [keys, afterKey] = key(s, i);
      let j = spaces(s, afterKey);
      if (s[j] !== '=') fail(s, j);
      const valueStart = spaces(s, j + 1);
      const valueEnd = skipValue(s, valueStart);
      let end = spaces(s, valueEnd);
      if (s[end] === '#') {
        const nl = s.indexOf('\n', end);
        end = nl < 0 ? s.length : nl;
      }
      if (s[end] === '\r' && s[end + 1] === '\n') end += 2;
      else if (s[end] === '\n') end++;
      else if (end < s.length) fail(s, end);
      values.push({ keys, path: [...table, ...keys], lineStart, keyStart: i, valueStart, valueEnd, lineEnd: end, line: lineOf(i) });
      i = end;
    }
  } catch (e) {
    if (e instanceof ScanError) throw new TomlSyntaxError(lineOf(i), `cannot follow the text (${e.message})`);
    throw e;
  }
  return { tables, values };
}

/** A TOML basic string for any text (JSON's escapes are TOML's, and DEL, which JSON leaves, is escaped too). */
export function tomlString(v: string): string {
  return JSON.stringify(v).replace(/\u007f/g, '\\u007f');
}

/** A key part: bare when it can be, else a basic string. */
function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k);
}

function samePath(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((k, n) => k === b[n]);
}

/** Why an entry cannot be edited in place: what install changes is a `[table]` with `command` on its own line. */
export class TomlEditError extends InPlaceEditError {
  constructor(message: string, entry: string[]) {
    super(message, `a server written as a [${entry.map(tomlKey).join('.')}] table with command = … on a line of its own`);
  }
}

/**
 * Gives the entry at `entry` (a path of keys: `["mcp_servers", "files"]`) this `command` and these `args` (none:
 * the `args` line is removed), changing only those values. The entry must set `command` on a line of its own, as
 * `[mcp_servers.files]` tables do (what `codex mcp add` writes); one written as an inline table is refused.
 */
export function tomlSetEntry(text: string, entry: string[], command: string, args: string[] | undefined): string {
  const { values } = tomlStatements(text);
  const cmd = values.find((v) => samePath(v.path, [...entry, 'command']));
  if (!cmd) throw new TomlEditError('written as an inline table', entry);
  const old = values.find((v) => samePath(v.path, [...entry, 'args']));
  const list = args && `[${args.map(tomlString).join(', ')}]`;
  const edits: Edit[] = [{ offset: cmd.valueStart, length: cmd.valueEnd - cmd.valueStart, content: tomlString(command) }];
  if (old && list !== undefined) edits.push({ offset: old.valueStart, length: old.valueEnd - old.valueStart, content: list });
  else if (old) edits.push({ offset: old.lineStart, length: old.lineEnd - old.lineStart, content: '' });
  else if (list !== undefined) {
    // A new `args` line under `command`, indented alike and with the same dotted prefix (`files.args` under
    // `[mcp_servers]`).
    const eol = text.includes('\r\n') ? '\r\n' : '\n';
    const lead = cmd.lineEnd === text.length && !/\n$/.test(text) ? eol : '';
    const name = [...cmd.keys.slice(0, -1), 'args'].map(tomlKey).join('.');
    edits.push({ offset: cmd.lineEnd, length: 0, content: `${lead}${text.slice(cmd.lineStart, cmd.keyStart)}${name} = ${list}${eol}` });
  }
  return applyEdits(text, edits);
}

/**
 * Finds the line of the statement that sets a path or, for a path no statement sets (inside an inline table, or a
 * key the file lacks), of the nearest table or value above it (for findings). The statements are indexed once:
 * each lookup costs the path's depth, not the file's length.
 */
export function tomlLines(statements: { tables: TomlTable[]; values: TomlValue[] }): (path: string[]) => number | undefined {
  const index = new Map<string, number>();
  for (const st of [...statements.values, ...statements.tables]) {
    const k = JSON.stringify(st.path);
    if (!index.has(k)) index.set(k, st.line);
  }
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const line = index.get(JSON.stringify(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  };
}
