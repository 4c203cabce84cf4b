/**
 * Inputs, auto-detected and normalised: a tools/prompts/resources list (bare result, JSON-RPC envelope, array of
 * tools, combined snapshot, all pages), an MCP Registry server.json (any dated schema, or the registry API's
 * envelope), an MCPB/DXT manifest.json, a host config (Claude Desktop/Code and Cursor `mcpServers`, VS Code
 * `servers` + `inputs`, `mcp.servers`, opencode `mcp`, flat maps), or a Docker catalog tools.json. YAML files are
 * read too: mcp-warden's own config (`servers:` with command, args, env, url, auth) is a host config of this kind.
 * TOML files as well: Codex CLI's config.toml keeps its servers as `[mcp_servers.<name>]` tables.
 */
import path from 'node:path';
import { parseTree, type Node as JsonNode, type ParseError } from 'jsonc-parser';
import { isMap, isNode, isScalar, isSeq, type Document, type LineCounter, type Pair } from 'yaml';
import { treeValue } from '../config/jsonc.js';
import { lineFinder } from '../config/lines.js';
import { parseToml, tomlLines, tomlStatements, TomlSyntaxError } from '../config/toml.js';
import { parseYaml } from '../config/yaml.js';
import { ConfigError } from '../errors.js';
import { isObject } from '../protocol/jsonrpc.js';
import { MAX_FILE_DEPTH, nestedDeeper } from '../protocol/frame.js';
import { hostMeta } from '../pin/pins.js';
import { esc, safeExcerpt } from './text.js';
import { zedCommand } from '../cli/install.js';
import type { InputFormat, LaunchModel, LintDocument, PromptModel, ResourceModel, ServerModel, ToolModel } from './types.js';

export class LintInputError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

function segments(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/**
 * The node at a pointer, or undefined. Each object's keys are indexed the first time a lookup passes through it, so
 * a lookup costs the pointer's depth: jsonc-parser's findNodeAtLocation scans an object's keys each time, and a host
 * config of 80,000 servers (one finding each) took 90 s to lint. A key written twice finds the last, the value
 * JSON.parse keeps.
 */
function nodeFinder(root: JsonNode): (segs: (string | number)[]) => JsonNode | undefined {
  const keys = new WeakMap<JsonNode, Map<string, JsonNode>>();
  const child = (n: JsonNode, seg: string | number): JsonNode | undefined => {
    if (n.type === 'array') return typeof seg === 'number' ? n.children?.[seg] : undefined;
    if (n.type !== 'object') return undefined;
    let m = keys.get(n);
    if (!m) {
      m = new Map();
      for (const p of n.children ?? []) if (p.children?.[1] && typeof p.children[0]!.value === 'string') m.set(p.children[0]!.value, p.children[1]);
      keys.set(n, m);
    }
    return m.get(String(seg));
  };
  return (segs) => {
    let n: JsonNode | undefined = root;
    for (const seg of segs) if (!(n = n && child(n, seg))) return undefined;
    return n;
  };
}

function positions(text: string, root: JsonNode | undefined): LintDocument['position'] {
  const lineAt = lineFinder(text);
  const find = root && nodeFinder(root);
  return (pointer) => {
    if (!find) return undefined;
    let segs = segments(pointer);
    let node: JsonNode | undefined;
    // A pointer to a missing key falls back to its nearest existing parent.
    while (!(node = find(segs)) && segs.length) segs = segs.slice(0, -1);
    if (!node) return undefined;
    // For a property value, point at the key (what an editor shows).
    return lineAt(node.parent?.type === 'property' && node.parent.children?.[1] === node ? node.parent.offset : node.offset);
  };
}

/**
 * Line and column of a pointer into a YAML document (of the key, for a map's value), as `positions` for JSON. Each
 * map's keys are indexed the first time a lookup passes through it, so a lookup costs the pointer's depth (the
 * document's own getIn scans a map's items each time).
 */
function yamlPositions(doc: Document, lines: LineCounter): LintDocument['position'] {
  const keys = new WeakMap<object, Map<string, Pair>>();
  /** The node at `segs`, and the map pair it is the value of. */
  const find = (segs: (string | number)[]): { node: unknown; pair: Pair | undefined } | undefined => {
    let node: unknown = doc.contents;
    let pair: Pair | undefined;
    for (const seg of segs) {
      if (isSeq(node)) {
        if (typeof seg !== 'number') return undefined;
        node = node.items[seg];
        pair = undefined;
      } else if (isMap(node)) {
        let m = keys.get(node);
        if (!m) {
          m = new Map();
          for (const p of node.items) if (isScalar(p.key) && !m.has(String(p.key.value))) m.set(String(p.key.value), p);
          keys.set(node, m);
        }
        pair = m.get(String(seg));
        node = pair?.value;
      } else return undefined;
      if (node === undefined || node === null) return undefined;
    }
    return { node, pair };
  };
  return (pointer) => {
    let segs = segments(pointer);
    for (;;) {
      const hit = find(segs);
      if (hit && isNode(hit.node) && hit.node.range) {
        const at = hit.pair && isNode(hit.pair.key) && hit.pair.key.range ? hit.pair.key.range[0] : hit.node.range[0];
        const { line, col } = lines.linePos(at);
        return { line, column: col };
      }
      if (!segs.length) return undefined;
      segs = segs.slice(0, -1);
    }
  };
}

/** Lines of a TOML document's statements for pointers into it (the key's line; a missing key: its table's). */
function tomlPositions(text: string): LintDocument['position'] {
  let lineOf: ((path: string[]) => number | undefined) | undefined;
  return (pointer) => {
    try {
      lineOf ??= tomlLines(tomlStatements(text));
    } catch {
      return undefined;
    }
    const line = lineOf(segments(pointer).map(String));
    return line === undefined ? undefined : { line, column: 1 };
  };
}

/**
 * A YAML file, or text that is not JSON and does not look like it (stdin): `.json` files stay JSON, so a broken one
 * is reported as broken JSON rather than read as the YAML it may happen to be.
 */
function readsAsYaml(file: string, text: string): boolean {
  return !/\.jsonc?$/i.test(file) && !/^[\s\uFEFF]*[[{]/.test(text);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * Told about each item of a list that is not what the list holds (a tool without a string name, a number): it is not
 * reviewed, and the linter says so instead of passing a file it could not read.
 */
type Skip = (pointer: string, what: string) => void;

function toolsFrom(list: unknown, base: string, skip: Skip): ToolModel[] {
  if (!Array.isArray(list)) return [];
  const out: ToolModel[] = [];
  list.forEach((t, i) => {
    if (!isObject(t) || typeof t['name'] !== 'string') return skip(`${base}/${i}`, 'a tool (an object with a string name)');
    out.push({
      name: t['name'],
      title: str(t['title']),
      description: str(t['description']),
      inputSchema: t['inputSchema'],
      outputSchema: t['outputSchema'],
      annotations: isObject(t['annotations']) ? t['annotations'] : undefined,
      raw: t,
      pointer: `${base}/${i}`,
    });
  });
  return out;
}

function promptsFrom(list: unknown, base: string, skip: Skip): PromptModel[] {
  if (!Array.isArray(list)) return [];
  const out: PromptModel[] = [];
  list.forEach((p, i) => {
    if (!isObject(p) || typeof p['name'] !== 'string') return skip(`${base}/${i}`, 'a prompt (an object with a string name)');
    const args = Array.isArray(p['arguments']) ? p['arguments'] : [];
    out.push({
      name: p['name'],
      title: str(p['title']),
      description: str(p['description']),
      text: str(p['text']),
      arguments: args.flatMap((a, j) => (isObject(a) && typeof a['name'] === 'string' ? [{ name: a['name'], description: str(a['description']), pointer: `${base}/${i}/arguments/${j}` }] : typeof a === 'string' ? [{ name: a, pointer: `${base}/${i}/arguments/${j}` }] : [])),
      raw: p,
      pointer: `${base}/${i}`,
    });
  });
  return out;
}

function resourcesFrom(list: unknown, base: string, skip: Skip, key = 'uri'): ResourceModel[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((r, i) => {
    if (isObject(r) && typeof r[key] === 'string') {
      const meta = hostMeta(r);
      return [{ uri: r[key] as string, name: str(r['name']), description: str(r['description']), ...(meta ? { meta } : {}), ...(key === 'uri' ? {} : { template: true as const }), raw: r, pointer: `${base}/${i}` }];
    }
    skip(`${base}/${i}`, `a resource${key === 'uri' ? '' : ' template'} (an object with a string ${key})`);
    return [];
  });
}

function serverName(file: string): string {
  return path.basename(file).replace(/\.(tools|server|manifest)?\.?json$/i, '').replace(/\.$/, '') || 'server';
}

function emptyServer(name: string, file: string, format: InputFormat, pointer = ''): ServerModel {
  return { name, file, format, tools: [], prompts: [], resources: [], partial: false, schemas: true, pointer };
}

/** A tools/prompts/resources list or snapshot at `base` (already unwrapped). */
function fromList(v: Record<string, unknown>, base: string, file: string, skip: Skip, toolsAt = `${base}/tools`): ServerModel {
  const s = emptyServer(serverName(file), file, 'tools-list', base);
  s.tools = toolsFrom(v['tools'], toolsAt, skip);
  s.prompts = promptsFrom(v['prompts'], `${base}/prompts`, skip);
  s.resources = [...resourcesFrom(v['resources'], `${base}/resources`, skip), ...resourcesFrom(v['resourceTemplates'], `${base}/resourceTemplates`, skip, 'uriTemplate')];
  s.partial = typeof v['nextCursor'] === 'string';
  if (v['resultType'] !== undefined || v['ttlMs'] !== undefined || v['cacheScope'] !== undefined) s.protocolVersion = '2026-07-28';
  for (const k of ['initialize', 'discover']) {
    const init = v[k];
    if (isObject(init)) {
      const r = isObject(init['result']) ? init['result'] : init;
      const ptr = isObject(init['result']) ? `${base}/${k}/result` : `${base}/${k}`;
      if (typeof r['instructions'] === 'string') s.instructions = { text: r['instructions'], pointer: `${ptr}/instructions` };
      if (typeof r['protocolVersion'] === 'string') s.protocolVersion = r['protocolVersion'];
      if (isObject(r['serverInfo']) && typeof r['serverInfo']['name'] === 'string') s.name = r['serverInfo']['name'];
    }
  }
  if (typeof v['instructions'] === 'string') s.instructions = { text: v['instructions'], pointer: `${base}/instructions` };
  return s;
}

/** Docker catalog: `[ {name, description, arguments: [{name, type, desc, optional}]} ]`. */
function fromDocker(list: unknown[], base: string, file: string, skip: Skip): ServerModel {
  const s = emptyServer(serverName(file), file, 'docker-catalog', base);
  list.forEach((t, i) => {
    if (!isObject(t) || typeof t['name'] !== 'string') return skip(`${base}/${i}`, 'a tool (an object with a string name)');
    const args = Array.isArray(t['arguments']) ? t['arguments'] : [];
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    for (const a of args) {
      if (!isObject(a) || typeof a['name'] !== 'string') continue;
      properties[a['name']] = { ...(typeof a['type'] === 'string' ? { type: a['type'] } : {}), ...(typeof a['desc'] === 'string' && a['desc'] ? { description: a['desc'] } : {}) };
      if (a['optional'] !== true) required.push(a['name']);
    }
    s.tools.push({ name: t['name'], description: str(t['description']), inputSchema: { type: 'object', properties, required }, raw: t, pointer: `${base}/${i}` });
  });
  return s;
}

function launchFrom(entry: Record<string, unknown>, pointer: string): LaunchModel {
  // Zed's earlier `command: { path, args, env }` is read as the entry it stands for (its pointers keep the nesting).
  const zed = zedCommand(entry['command']);
  const e: Record<string, unknown> = zed ? { ...entry, command: zed['path'], args: zed['args'], env: zed['env'] } : entry;
  // Goose calls them cmd, envs and uri.
  const cmd = e['command'] ?? e['cmd'];
  const argv = Array.isArray(cmd) ? cmd.filter((x): x is string => typeof x === 'string') : undefined;
  const url = str(e['url']) ?? str(e['serverUrl']) ?? str(e['httpUrl']) ?? str(e['uri']);
  const envKey = zed ? 'command/env' : (['env', 'environment', 'envs'].find((k) => isObject(e[k])) ?? 'env');
  const env = zed ? (isObject(zed['env']) ? zed['env'] : {}) : isObject(e[envKey]) ? e[envKey] : {};
  const auth = isObject(e['auth']) ? e['auth'] : {};
  return {
    command: argv ? argv[0] : str(cmd),
    args: argv ? argv.slice(1) : Array.isArray(e['args']) ? e['args'].map(String) : [],
    env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
    url,
    type: str(e['type']) ?? str(e['transport']),
    headers: isObject(e['headers']) ? Object.fromEntries(Object.entries(e['headers']).map(([k, v]) => [k, String(v)])) : {},
    credentials: Object.fromEntries(['token', 'client_secret'].flatMap((k) => (typeof auth[k] === 'string' ? [[k, auth[k]]] : []))),
    pointer,
    envKey,
    argsAt: (i) => (argv ? `${pointer}/command/${i + 1}` : zed ? `${pointer}/command/args/${i}` : `${pointer}/args/${i}`),
  };
}

function isServerEntry(v: unknown): v is Record<string, unknown> {
  if (!isObject(v)) return false;
  // Goose's extensions: cmd for a stdio server, uri for a remote one.
  const goose = typeof v['cmd'] === 'string' || (typeof v['uri'] === 'string' && (v['type'] === 'sse' || v['type'] === 'streamable_http'));
  return goose || typeof v['command'] === 'string' || Array.isArray(v['command']) || zedCommand(v['command']) !== undefined || typeof v['url'] === 'string' || typeof v['serverUrl'] === 'string' || typeof v['httpUrl'] === 'string';
}

function fromConfig(map: Record<string, unknown>, base: string, file: string): ServerModel[] {
  return Object.entries(map).flatMap(([name, e]) => {
    if (!isServerEntry(e)) return [];
    const s = emptyServer(name, file, 'client-config', `${base}/${esc(name)}`);
    s.launch = launchFrom(e, `${base}/${esc(name)}`);
    return [s];
  });
}

export interface Parsed {
  document: LintDocument;
  servers: ServerModel[];
  /** Input problems found while reading (unknown shape, JSON syntax). */
  problems: { rule: string; message: string; pointer: string }[];
}

/** Deeper than any real manifest (schemas nest a few levels; SQ008 warns past 8). */
export const MAX_INPUT_DEPTH = MAX_FILE_DEPTH;

/** Detects the format of one file's text and normalises it. */
export function parseInput(file: string, text: string): Parsed {
  // The parsers recurse: a file nested thousands deep ended the linter with a stack overflow (exit 70).
  if (nestedDeeper(text, MAX_INPUT_DEPTH)) throw new LintInputError(`${file}: nested deeper than ${MAX_INPUT_DEPTH} levels; no manifest is, so it is not read`, file);
  let value: unknown;
  let position: LintDocument['position'] = () => undefined;
  const yamlName = /\.ya?ml$/i.test(file);
  const tomlName = /\.toml$/i.test(file);
  let jsonError: Error | undefined;
  let twice: { pointer: string; key: string; lines: number[] }[] = [];
  if (tomlName) {
    try {
      // As JSON values: plain objects, dates as their text.
      value = JSON.parse(JSON.stringify(parseToml(text)));
    } catch (e) {
      if (e instanceof TomlSyntaxError) throw new LintInputError(`${file}: not TOML (${e.line ? `line ${e.line}: ` : ''}${safeExcerpt(e.reason, 200)})`, file);
      throw e;
    }
    position = tomlPositions(text);
  } else if (!yamlName) {
    const errors: ParseError[] = [];
    const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
    try {
      value = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (e) {
      // JSONC (comments, trailing commas: VS Code configs) — take the tree's value.
      if (root && !errors.length) value = treeValue(root);
      else jsonError = e as Error;
    }
    if (!jsonError) position = positions(text, root);
    if (!jsonError && root) twice = keysSetTwice(text, root);
  }
  if (yamlName || (jsonError && readsAsYaml(file, text))) {
    // No `${VAR}` is replaced: a placeholder is what the file says, and what CF002 wants to see instead of a secret.
    let y: ReturnType<typeof parseYaml>;
    try {
      y = parseYaml(text.replace(/^\uFEFF/, ''), file, null);
    } catch (e) {
      if (e instanceof RangeError) throw new LintInputError(`${file}: nested too deep to read`, file);
      const message = (e as Error).message;
      const at = e instanceof ConfigError && e.line ? `line ${e.line}: ` : '';
      const why = message.startsWith(`${file}:`) ? message.slice(file.length + 1).replace(/^\d+:/, '').trim() : message;
      throw new LintInputError(`${file}: not YAML (${at}${safeExcerpt(why, 200)})`, file);
    }
    value = y.value;
    position = yamlPositions(y.doc, y.lines);
  } else if (jsonError) {
    // The parser's message quotes the file: shown terminal-safe (a hostile file could carry escape sequences).
    throw new LintInputError(`${file}: not JSON (${safeExcerpt(jsonError.message, 200)})`, file);
  }
  const mk = (format: InputFormat): LintDocument => ({ file, text, value, format, position });
  const problems: Parsed['problems'] = [];
  // JSON.parse and the hosts keep the last of a key written twice; a person reading the file (or a diff) sees the first.
  for (const t of twice) problems.push({ rule: 'CF013', message: `${JSON.stringify(safeExcerpt(t.key, 80))} is set ${t.lines.length} times in one object (lines ${t.lines.join(', ')}): the host reads only the last; a reader, or a review of the diff, may see another`, pointer: t.pointer });
  const skip: Skip = (pointer, what) => {
    problems.push({ rule: 'CF001', message: `not ${what}: this item is not reviewed`, pointer });
  };

  if (Array.isArray(value)) {
    const docker = value.length === 0 || value.some((t) => isObject(t) && Array.isArray(t['arguments']) && t['inputSchema'] === undefined);
    if (docker) return { document: mk('docker-catalog'), servers: [fromDocker(value, '', file, skip)], problems };
    // The file is the list itself: its items are at /0, /1, … (findings point there, not at a /tools it lacks).
    return { document: mk('tools-list'), servers: [fromList({ tools: value }, '', file, skip, '')], problems };
  }
  if (!isObject(value)) throw new LintInputError(`${file}: not a manifest (a JSON ${value === null ? 'null' : typeof value})`, file);
  let v = value;
  let base = '';
  if (isObject(v['result']) && (v['jsonrpc'] !== undefined || v['id'] !== undefined)) {
    v = v['result'];
    base = '/result';
  }
  if (Array.isArray(v['tools']) || Array.isArray(v['prompts']) || Array.isArray(v['resources']) || Array.isArray(v['resourceTemplates'])) {
    const tools = v['tools'];
    if (Array.isArray(tools) && tools.some((t) => isObject(t) && Array.isArray(t['arguments']) && t['inputSchema'] === undefined) && v['manifest_version'] === undefined && v['dxt_version'] === undefined && v['server'] === undefined)
      return { document: mk('docker-catalog'), servers: [fromDocker(tools, `${base}/tools`, file, skip)], problems };
    if (v['manifest_version'] === undefined && v['dxt_version'] === undefined && !isObject(v['server'])) return { document: mk('tools-list'), servers: [fromList(v, base, file, skip)], problems };
  }
  // MCP Registry server.json (or the registry API envelope {server: {...}, _meta}).
  const sj = isObject(v['server']) && typeof v['server']['name'] === 'string' && !isObject(v['server']['mcp_config']) ? v['server'] : v;
  const sjBase = sj === v ? base : `${base}/server`;
  const reverseDns = typeof sj['name'] === 'string' && /^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/.test(sj['name']);
  if ((typeof sj['$schema'] === 'string' && /server\.schema\.json/.test(sj['$schema'])) || (reverseDns && (Array.isArray(sj['packages']) || Array.isArray(sj['remotes']) || (typeof sj['version'] === 'string' && typeof sj['description'] === 'string' && !isObject(sj['server']))))) {
    const s = emptyServer(String(sj['name']), file, 'server-json', sjBase);
    s.schemas = false;
    return { document: mk('server-json'), servers: [s], problems };
  }
  // MCPB / DXT manifest.
  if (v['manifest_version'] !== undefined || v['dxt_version'] !== undefined || (isObject(v['server']) && isObject(v['author']))) {
    const s = emptyServer(typeof v['name'] === 'string' ? v['name'] : serverName(file), file, 'mcpb', base);
    s.schemas = false;
    s.tools = toolsFrom(v['tools'], `${base}/tools`, skip);
    s.prompts = promptsFrom(v['prompts'], `${base}/prompts`, skip);
    const server = v['server'];
    if (isObject(server) && isObject(server['mcp_config'])) s.launch = launchFrom(server['mcp_config'], `${base}/server/mcp_config`);
    return { document: mk('mcpb'), servers: [s], problems };
  }
  // Host configs. Claude Code's ~/.claude.json keeps the servers `claude mcp add` adds by default (local scope) per
  // folder, under projects["<folder>"].mcpServers: all of them are reviewed, not only the top-level (user) ones.
  const local = isObject(v['projects'])
    ? Object.entries(v['projects']).flatMap(([folder, p]) => (isObject(p) && isObject(p['mcpServers']) ? fromConfig(p['mcpServers'], `${base}/projects/${esc(folder)}/mcpServers`, file) : []))
    : [];
  for (const [key, ptr] of [['mcpServers', '/mcpServers'], ['servers', '/servers'], ['mcp_servers', '/mcp_servers'], ['extensions', '/extensions'], ['context_servers', '/context_servers']] as const) {
    const m = v[key];
    const top = isObject(m) && Object.values(m).some(isServerEntry) ? fromConfig(m, `${base}${ptr}`, file) : [];
    if (top.length || (key === 'mcpServers' && local.length)) return { document: mk('client-config'), servers: [...top, ...(key === 'mcpServers' ? local : [])], problems };
    // A host config with no servers yet (`{"mcpServers": {}}`, what a host writes before the first one; `[mcp_servers]`): nothing to
    // review, not an unknown shape. Entries that are not servers still are one.
    if ((key === 'mcpServers' || key === 'mcp_servers') && isObject(m) && Object.keys(m).length === 0) return { document: mk('client-config'), servers: [], problems };
  }
  const mcp = v['mcp'];
  if (isObject(mcp)) {
    const m = isObject(mcp['servers']) ? mcp['servers'] : mcp;
    const ptr = isObject(mcp['servers']) ? `${base}/mcp/servers` : `${base}/mcp`;
    if (Object.values(m).some(isServerEntry)) return { document: mk('client-config'), servers: fromConfig(m, ptr, file), problems };
  }
  if (Object.values(v).some(isServerEntry)) return { document: mk('client-config'), servers: fromConfig(v, base, file), problems };
  problems.push({ rule: 'CF001', message: 'unknown shape: not a tools/prompts/resources list, server.json, MCPB manifest, host config or Docker catalog', pointer: base });
  return { document: mk('client-config'), servers: [], problems };
}

/** Keys written more than once in one object, each with the pointer of the one that counts and the lines of all. */
function keysSetTwice(text: string, root: JsonNode): { pointer: string; key: string; lines: number[] }[] {
  const lineAt = lineFinder(text);
  const out: { pointer: string; key: string; lines: number[] }[] = [];
  const walk = (n: JsonNode, pointer: string): void => {
    if (n.type === 'array') (n.children ?? []).forEach((c, i) => walk(c, `${pointer}/${i}`));
    if (n.type !== 'object') return;
    const seen = new Map<string, number[]>();
    for (const p of n.children ?? []) {
      const k = p.children![0]!.value as string;
      seen.set(k, [...(seen.get(k) ?? []), lineAt(p.offset).line]);
    }
    for (const [k, lines] of seen) if (lines.length > 1) out.push({ pointer: `${pointer}/${esc(k)}`, key: k, lines });
    // Only the values the parser keeps (the last of each key) are walked on.
    const last = new Map((n.children ?? []).map((p) => [p.children![0]!.value as string, p.children![1]]));
    for (const [k, v] of last) if (v) walk(v, `${pointer}/${esc(k)}`);
  };
  walk(root, '');
  return out;
}


export { segments as pointerSegments };
