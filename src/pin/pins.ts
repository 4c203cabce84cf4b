/**
 * Pins: what a server's tools, prompts, instructions and views (MCP Apps `ui://` pages) said when a person trusted them.
 *
 * A tool's hash is SHA-256 over the canonical JSON (RFC 8785 style) of its whole definition — name, title,
 * description, inputSchema, outputSchema, annotations, execution, and the `_meta` keys a host acts on (hostMeta) —
 * so a change anywhere a model or a client looks is a change. `body` is the same hash without the name: equal
 * bodies under different names are a rename.
 * Server instructions are hashed on their own; a view is hashed as resources/read returned it (viewHash).
 *
 * Two stores share one format: a lock file a team commits (`pins: mcp-warden.lock.json`), or, with none, trust
 * on first use kept per server in the state directory. Writes are atomic (temp file + rename); the first pin of
 * a server is created once even when several processes start together.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../protocol/canonical.js';
import { isObject } from '../protocol/jsonrpc.js';
import { createOnce } from '../config/files.js';
import { shownIdentity } from '../config/shown.js';
import { errnoText, makeParent, WardenError } from '../errors.js';

export const HASHED_TOOL_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations', 'execution'] as const;
export const HASHED_PROMPT_FIELDS = ['name', 'title', 'description', 'arguments'] as const;

export type Kind = 'tools' | 'prompts';
/** What is pinned by `ui://` URI: a view's page (`views`), and the `_meta` its `resources/list` entry shows (`viewListings`). */
export type UriKind = 'views' | 'viewListings';
/** What a pin file holds per server: tools and prompts by name, views (MCP Apps `ui://` resources) and their listings by URI. */
export type PinKind = Kind | UriKind;
export const PIN_KINDS: readonly PinKind[] = ['tools', 'prompts', 'views', 'viewListings'];

/** A pinned kind as a person reads it in a message: `tool`, `prompt`, `view`, `view listing`. */
export function kindLabel(kind: PinKind): string {
  return kind === 'tools' ? 'tool' : kind === 'prompts' ? 'prompt' : kind === 'views' ? 'view' : 'view listing';
}

/** A URI a host renders as a view (MCP Apps: the `ui://` scheme, which like any scheme is case-insensitive). */
export function isViewUri(uri: unknown): uri is string {
  return typeof uri === 'string' && /^ui:\/\//i.test(uri);
}

/**
 * The `_meta` keys of a tool that a host acts on: the view it opens and who may call it — MCP Apps
 * (`io.modelcontextprotocol/ui`): `ui` = {resourceUri, visibility, …}, and `ui/…`, its first spelling — and the
 * OpenAI Apps SDK's `openai/…` (outputTemplate, widgetAccessible, visibility, the status texts shown to the person).
 * A server that points a trusted tool at another view (other code the host runs, with the right to call tools) or
 * shows an app-only tool to the model changes that tool as surely as by rewriting its description. Other keys are
 * the server's own bookkeeping (FastMCP's tags, build ids) and stay out, so a tool without these keys keeps the hash
 * it had before they were hashed.
 */
export function hostMeta(def: Record<string, unknown>): Record<string, unknown> | undefined {
  const meta = def['_meta'];
  if (!isObject(meta)) return undefined;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(meta)) if (isHostMetaKey(k)) (out ??= dict())[k] = meta[k];
  return out;
}

function isHostMetaKey(k: string): boolean {
  return k === 'ui' || k.startsWith('ui/') || k.startsWith('openai/');
}

/**
 * Removes the `_meta` keys a host acts on (hostMeta) from a definition, keeping the server's own: what a view's
 * `resources/list` entry keeps when its listing is not the pinned one.
 */
export function dropHostMeta(def: Record<string, unknown>): void {
  const meta = def['_meta'];
  if (!isObject(meta)) return;
  const rest: Record<string, unknown> = {};
  for (const k of Object.keys(meta)) if (!isHostMetaKey(k)) rest[k] = meta[k];
  if (Object.keys(rest).length) def['_meta'] = rest;
  else delete def['_meta'];
}

/**
 * Where a tool names the view it opens — MCP Apps `ui.resourceUri`, its first spelling `ui/resourceUri`, OpenAI's
 * `openai/outputTemplate` — as a JSON pointer under `_meta`, with what is there (any value: lint reports one that is
 * not a `ui://` URI).
 */
export function namedViews(def: Record<string, unknown>): { uri: unknown; at: string }[] {
  const meta = hostMeta(def);
  if (!meta) return [];
  const ui = meta['ui'];
  const found = [
    { uri: isObject(ui) ? ui['resourceUri'] : undefined, at: 'ui/resourceUri' },
    { uri: meta['ui/resourceUri'], at: 'ui~1resourceUri' },
    { uri: meta['openai/outputTemplate'], at: 'openai~1outputTemplate' },
  ];
  return found.filter((v) => v.uri !== undefined);
}

/** The `ui://` views a tool opens (namedViews), each once. */
export function viewUris(def: Record<string, unknown>): string[] {
  return [...new Set(namedViews(def).map((v) => v.uri).filter(isViewUri))];
}

function pick(fields: readonly string[], def: Record<string, unknown>, withName: boolean, meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if ((withName || f !== 'name') && def[f] !== undefined) out[f] = def[f];
  if (meta) out['_meta'] = meta;
  return out;
}

const hashMemo = new WeakMap<object, { hash: string; body: string }>();

/** Hashes of a definition (memoised per object: a session keeps the listed definitions until the next list). */
export function definitionHash(kind: Kind, def: Record<string, unknown>): { hash: string; body: string } {
  const hit = hashMemo.get(def);
  if (hit) return hit;
  const h = computeHash(kind, def);
  hashMemo.set(def, h);
  return h;
}

function computeHash(kind: Kind, def: Record<string, unknown>): { hash: string; body: string } {
  const fields = kind === 'tools' ? HASHED_TOOL_FIELDS : HASHED_PROMPT_FIELDS;
  const meta = kind === 'tools' ? hostMeta(def) : undefined;
  const sha = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex');
  return { hash: sha(pick(fields, def, true, meta)), body: sha(pick(fields, def, false, meta)) };
}

/**
 * The hash of a view: what `resources/read` of its `ui://` URI returned — each content's uri, mimeType, text or blob,
 * and the `_meta` keys a host acts on (MCP Apps' `ui`: the CSP domains the page may reach, the camera, microphone and
 * clipboard it may ask for, its origin; the OpenAI Apps SDK's `openai/widgetCSP`, `openai/widgetDomain`…). A view is
 * code the host runs with the right to call the server's tools: a page that changed is a tool that changed.
 */
export function viewHash(result: Record<string, unknown>): string {
  const raw = result['contents'];
  const contents = Array.isArray(raw)
    ? raw.map((c) => {
        if (!isObject(c)) return c;
        const out: Record<string, unknown> = {};
        for (const f of VIEW_CONTENT_FIELDS) if (c[f] !== undefined) out[f] = c[f];
        const meta = hostMeta(c);
        if (meta) out['_meta'] = meta;
        return out;
      })
    : raw;
  return createHash('sha256').update(canonicalJson({ contents })).digest('hex');
}

const VIEW_CONTENT_FIELDS = ['uri', 'mimeType', 'text', 'blob'] as const;

/**
 * The hash of a view's listing: the `_meta` keys a host acts on (hostMeta) of its `resources/list` entry. MCP Apps
 * hosts take a view's settings — its CSP domains, the devices it may ask for — from the entry when the content
 * `resources/read` returns has none of its own, so a server can widen what a pinned page may reach through its
 * listing alone. An entry without such keys has no listing to pin (undefined).
 */
export function listingHash(entry: Record<string, unknown>): string | undefined {
  const meta = hostMeta(entry);
  return meta ? createHash('sha256').update(canonicalJson({ _meta: meta })).digest('hex') : undefined;
}

/** The listings of a linted server's views (resources, not templates, with a `ui://` URI and host `_meta`): URI → listingHash. */
export function viewListings(server: { resources: readonly { uri: string; meta?: Record<string, unknown>; template?: true }[] }): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of server.resources) {
    const hash = !r.template && r.meta && isViewUri(r.uri) ? listingHash({ _meta: r.meta }) : undefined;
    if (hash !== undefined) out.set(r.uri, hash);
  }
  return out;
}

/** What `pin --list` shows of a view listing held for review: its host `_meta`, or the start of it when it is large. */
export function listingSummary(entry: Record<string, unknown>): Record<string, unknown> {
  const meta = hostMeta(entry) ?? {};
  const json = JSON.stringify(meta);
  return json.length <= 16_384 ? { _meta: meta } : { description: `_meta of ${json.length} characters, starting ${json.slice(0, 2000)}` };
}

/**
 * Views pinned or held per server at most (and read by one `pin` of a server), and the longest view URI pinned (a
 * real one is a few dozen characters): a catalogue naming more is not something a person reviews.
 */
export const MAX_VIEWS = 1000;
export const MAX_VIEW_URI = 2048;

/**
 * What `pin --list` shows of a view held for review (the page itself can be megabytes and stays out of the pin
 * file): each content's uri, mimeType, size and host `_meta`, and the start of its text.
 */
export function viewSummary(result: Record<string, unknown>): Record<string, unknown> {
  const raw = Array.isArray(result['contents']) ? (result['contents'] as unknown[]) : [];
  let preview = '';
  const contents = raw.filter(isObject).slice(0, 8).map((c) => {
    const text = typeof c['text'] === 'string' ? c['text'] : undefined;
    if (text && !preview) preview = text.slice(0, 2000);
    const meta = hostMeta(c);
    return {
      ...(typeof c['uri'] === 'string' ? { uri: c['uri'].slice(0, 2000) } : {}),
      ...(typeof c['mimeType'] === 'string' ? { mimeType: c['mimeType'].slice(0, 200) } : {}),
      chars: text?.length ?? (typeof c['blob'] === 'string' ? c['blob'].length : 0),
      ...(meta ? { _meta: meta } : {}),
    };
  });
  return { contents, ...(raw.length > 8 ? { more: raw.length - 8 } : {}), ...(preview ? { preview } : {}) };
}

export function textHash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export interface PinnedEntry {
  hash: string;
  body: string;
  pinnedAt: string;
  /** `approved` by a person (pin --approve), or `tofu` (first seen, nothing alarming). */
  by: 'tofu' | 'approved' | 'lock';
}

export interface PendingEntry {
  hash: string;
  body: string;
  seenAt: string;
  /** new | changed | rename | poisoned */
  reason: string;
  /** For a rename, the pinned name with the same body. */
  renamedFrom?: string;
  /** Lint findings that block a first-seen tool (rule ids and severities, no text). */
  findings?: string[];
  /** The definition as seen, for review before approving. */
  definition: Record<string, unknown>;
}

export interface ServerPins {
  /** How the server was launched or reached (command + args, or URL). */
  identity: string;
  instructions: string | null;
  pendingInstructions?: { hash: string; seenAt: string; text: string };
  tools: Record<string, PinnedEntry>;
  prompts: Record<string, PinnedEntry>;
  /** MCP Apps views by `ui://` URI (viewHash); `body` repeats the hash (a view has no name to be renamed from). */
  views: Record<string, PinnedEntry>;
  /** The host `_meta` of views' `resources/list` entries, by URI (listingHash); `body` repeats the hash. */
  viewListings: Record<string, PinnedEntry>;
  /** Trust on first use: whether the first complete prompts/list has been pinned (prompts have no catalogue fetch). */
  promptsComplete?: boolean;
  /** A pending view's `definition` is its viewSummary, not the page; a pending listing's, its listingSummary. */
  pending: Record<PinKind, Record<string, PendingEntry>>;
}

export interface PinFile {
  version: 1;
  generated?: string;
  servers: Record<string, ServerPins>;
}

export class PinError extends WardenError {
  override readonly code = 'PIN_INVALID';
}

/**
 * A map keyed by names a server or a file chose, with no prototype: a tool called `constructor` or `toString` is not
 * found pinned because Object.prototype has such a member, and one called `__proto__` is an entry like any other
 * (on a plain object it would have replaced the map's prototype, and been lost when the file was written).
 */
export function dict<T>(from?: Record<string, T>): Record<string, T> {
  const d = Object.create(null) as Record<string, T>;
  if (from) for (const [k, v] of Object.entries(from)) d[k] = v;
  return d;
}

export function emptyServerPins(identity: string): ServerPins {
  return { identity, instructions: null, tools: dict(), prompts: dict(), views: dict(), viewListings: dict(), pending: { tools: dict(), prompts: dict(), views: dict(), viewListings: dict() } };
}

function normalize(raw: unknown, file: string): PinFile {
  if (!isObject(raw) || raw['version'] !== 1 || !isObject(raw['servers'])) throw new PinError(`${file}: not an mcp-warden lock file (version 1 with servers)`);
  const servers = dict<ServerPins>();
  for (const [name, v] of Object.entries(raw['servers'])) {
    if (!isObject(v)) throw new PinError(`${file}: servers.${name} is not an object`);
    const s = v as unknown as Partial<ServerPins>;
    servers[name] = {
      identity: typeof s.identity === 'string' ? s.identity : '',
      instructions: typeof s.instructions === 'string' ? s.instructions : null,
      ...(s.pendingInstructions ? { pendingInstructions: s.pendingInstructions } : {}),
      tools: dict(isObject(s.tools) ? (s.tools as Record<string, PinnedEntry>) : undefined),
      prompts: dict(isObject(s.prompts) ? (s.prompts as Record<string, PinnedEntry>) : undefined),
      // A file written before views were pinned has none: with a lock file, each view is then held until approved.
      views: dict(isObject(s.views) ? (s.views as Record<string, PinnedEntry>) : undefined),
      // Nor listings, from before they were: with a lock file, a view's listing _meta is then withheld until approved.
      viewListings: dict(isObject(s.viewListings) ? (s.viewListings as Record<string, PinnedEntry>) : undefined),
      ...(s.promptsComplete ? { promptsComplete: true } : {}),
      pending: Object.fromEntries(PIN_KINDS.map((k) => [k, dict(isObject(s.pending?.[k]) ? s.pending![k] : undefined)])) as ServerPins['pending'],
    };
  }
  return { version: 1, ...(typeof raw['generated'] === 'string' ? { generated: raw['generated'] } : {}), servers };
}

export function readPinFile(file: string): PinFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PinError(`${file}: cannot read: ${errnoText(e)}`);
  }
  try {
    return normalize(JSON.parse(text) as unknown, file);
  } catch (e) {
    if (e instanceof PinError) throw e;
    throw new PinError(`${file}: not JSON: ${(e as Error).message}`);
  }
}

/**
 * The file's text. A server's identity is written as it may be shown (a lock file is committed and read by others):
 * a connection string's password or a token in its command line or URL is not copied into it.
 */
function pinFileText(pins: PinFile): string {
  const servers = dict<ServerPins>();
  for (const [name, sp] of Object.entries(pins.servers)) servers[name] = sp.identity ? { ...sp, identity: shownIdentity(sp.identity) } : sp;
  return `${JSON.stringify({ ...pins, servers }, null, 2)}\n`;
}

export function writePinFile(file: string, pins: PinFile): void {
  makeParent(file);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, pinFileText(pins), { mode: 0o600 });
  renameSync(tmp, file);
}

/** Creates the file with `pins` only if it does not exist yet; returns what is there afterwards. */
export function createPinFileOnce(file: string, pins: PinFile): PinFile {
  try {
    createOnce(file, pinFileText(pins));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readPinFile(file) ?? pins;
}

/** Where trust-on-first-use pins of a server live in the state directory. */
export function tofuFile(stateDir: string, server: string, identity: string): string {
  const safe = server.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return path.join(stateDir, 'pins', `${safe}-${textHash(identity).slice(0, 12)}.json`);
}

export { existsSync };
