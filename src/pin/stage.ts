/**
 * The pin stage (SPEC §6): at run time, a tool or prompt whose definition is not the pinned one is hidden from
 * lists and its calls are refused until a person approves it (`mcp-warden pin --approve`), whether the change
 * came with list_changed, silently, on a later page, or in a fresh child called before any list. Changed server
 * instructions block the server. A removed tool or prompt is fine; one the server serves but does not list, and the pins
 * do not hold, is refused (prompts: the proxy reads the prompt list itself when the client's is not whole). A view (`resources/read` of a `ui://` URI) whose contents
 * are not the pinned ones is answered with an error in place of its page. `on_change: warn` records instead of blocking.
 *
 * With no lock file, the first full catalogue a server shows is pinned (trust on first use) after the poisoning
 * and naming rules ran on it: a tool with a HIGH finding is pinned as pending instead, blocked until approved.
 * Each violation is an audit event (`pin_violation`), once per definition and process.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, isObject, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/jsonrpc.js';
import { breather } from '../pipeline/breather.js';
import { markDirty, MAX_LIST_PAGES, type Exchange, type PeerAnswer, type Session, type Stage, type StageResult } from '../pipeline/types.js';
import type { Logger } from '../log/logger.js';
import type { SessionEvents } from '../proxy/session.js';
import { fileStamp } from '../errors.js';
import { othersCanChange } from '../config/files.js';
import { createPinFileOnce, definitionHash, dict, dropHostMeta, emptyServerPins, isViewUri, kindLabel, listingHash, listingSummary, MAX_VIEW_URI, MAX_VIEWS, PinError, readPinFile, textHash, tofuFile, viewHash, viewSummary, writePinFile, type Kind, type PendingEntry, type PinFile, type PinKind, type PinnedEntry, type ServerPins, type UriKind } from './pins.js';

export interface PinSettings {
  /** A lock file (explicit pins); undefined = trust on first use in the state directory. */
  lockFile: string | undefined;
  onChange: 'block' | 'warn';
  stateDir: string;
}

export interface PinStageOptions {
  settings: PinSettings;
  /** server name → identity (command + args, or URL). */
  identities: Map<string, string>;
  /** Blocking findings (HIGH and above) of the poisoning and naming rules on a first-seen definition. */
  screen: (kind: Kind, def: Record<string, unknown>) => string[];
  events?: SessionEvents | undefined;
  log: Logger;
  /** How much of a server's prompt list (all its pages) a session keeps: limits.max_message_bytes, as for tools. */
  maxListBytes?: number;
}

/**
 * A session's prompts from the server's prompts/list pages since the first (the client's listing, or the proxy's own
 * fetch), and what those pages weighed. Dropped when the server says its prompt list changed.
 */
interface PromptPages {
  defs: Map<string, Record<string, unknown>>;
  bytes: number;
  /** Begun with a first page (no cursor): only then can its last page make it whole. */
  fromFirst: boolean;
  /** Every page of one listing seen and kept: a name not in `defs` is one the server does not list. */
  complete: boolean;
}

const PROMPT_PAGES = 'pin.prompts';
const PROMPT_FETCH = 'pin.promptsFetch';
/** Set once the session warned that the server's prompt list is past the bound. */
const PROMPT_WARNED = 'pin.promptsWarned';

function promptPages(session: Session): PromptPages | undefined {
  return session.state.get(PROMPT_PAGES) as PromptPages | undefined;
}

type Verdict = { ok: true } | { ok: false; reason: string; renamedFrom?: string };
/** A `ui://` item's verdict (judgeUris), with why it failed: the refusal a view's read gets says so. */
type UriVerdict = { ok: true } | { ok: false; reason: string; why: 'not-pinned' | 'no-pins' | 'unpinnable' | 'changed' | 'new' };

const PROMPT_ALLOWED_WHILE_BLOCKED = new Set(['initialize', 'ping', 'server/discover', 'notifications/initialized']);

/** Pins of one server: where they live, what is in them, and the pending file (always in the state directory). */
class ServerStore {
  private cache: { pins: ServerPins | undefined; stamp: string; checkedAt: number } | undefined;
  constructor(
    readonly server: string,
    readonly identity: string,
    readonly file: string,
    readonly explicit: boolean,
    readonly pendingFile: string,
    private readonly log: Logger,
  ) {}

  /**
   * The server's pins, read again when a file changed. A file that cannot be read or is not a pin file (a person's
   * edit gone wrong) keeps the pins read last in force, as a bad policy reload keeps the last good policy; with
   * nothing read yet in this process it throws (the stage then refuses the message).
   */
  load(): ServerPins | undefined {
    const now = Date.now();
    if (this.cache && now - this.cache.checkedAt < 500) return this.cache.pins;
    const stamp = `${fileStamp(this.file)}|${fileStamp(this.pendingFile)}`;
    if (this.cache && this.cache.stamp === stamp) {
      this.cache.checkedAt = now;
      return this.cache.pins;
    }
    let pins: ServerPins | undefined;
    try {
      // As at start (assemble): a lock file another user could have written since is not read.
      const why = this.explicit ? othersCanChange(this.file) : undefined;
      if (why) throw new PinError(`${this.file}: refused as the pin lock file (pins): ${why}`);
      pins = readPinFile(this.file)?.servers[this.server];
      if (pins && this.explicit) {
        const pend = readPinFile(this.pendingFile)?.servers[this.server];
        if (pend) pins.pending = pend.pending;
      }
    } catch (e) {
      if (!(e instanceof PinError) || !this.cache) throw e;
      // Once per change of the files, not on every message.
      this.log.error({ server: this.server, reason: e.message }, 'the pin file cannot be used; the pins read last stay in force');
      this.cache.stamp = stamp;
      this.cache.checkedAt = now;
      return this.cache.pins;
    }
    this.cache = { pins, stamp, checkedAt: now };
    return pins;
  }

  /**
   * Makes the next load read the files again. The pins read last stay as its fallback: dropping them (as this did)
   * made a lock file broken after a held definition throw out of the stage at the next call, ending the process.
   */
  invalidate(): void {
    if (this.cache) {
      this.cache.stamp = '';
      this.cache.checkedAt = -Infinity;
    }
  }

  /**
   * Records pending definitions (in the state directory's file for lock-file servers): the file is read and written
   * once for all of them, so a list of many new definitions costs one write, not one per definition.
   */
  addPending(kind: PinKind, entries: Iterable<[string, PendingEntry]>): void {
    const file = this.explicit ? this.pendingFile : this.file;
    const pf: PinFile = readPinFile(file) ?? { version: 1, servers: dict() };
    const sp = pf.servers[this.server] ?? emptyServerPins(this.identity);
    let changed = false;
    for (const [name, entry] of entries) {
      if (sp.pending[kind][name]?.hash === entry.hash) continue;
      sp.pending[kind][name] = entry;
      changed = true;
    }
    if (!changed) return;
    pf.servers[this.server] = sp;
    writePinFile(file, pf);
    this.invalidate();
  }

  addPendingInstructions(text: string): void {
    const file = this.explicit ? this.pendingFile : this.file;
    const pf: PinFile = readPinFile(file) ?? { version: 1, servers: dict() };
    const sp = pf.servers[this.server] ?? emptyServerPins(this.identity);
    const hash = textHash(text);
    if (sp.pendingInstructions?.hash === hash) return;
    sp.pendingInstructions = { hash, seenAt: new Date().toISOString(), text: text.slice(0, 65_536) };
    pf.servers[this.server] = sp;
    writePinFile(file, pf);
    this.invalidate();
  }

  /** Trust on first use of prompts: pins (or holds, when screening found something) the prompts of one page. */
  pinPromptsFirstUse(entries: { name: string; def: Record<string, unknown>; findings: string[] }[], complete: boolean): void {
    const pf: PinFile = readPinFile(this.file) ?? { version: 1, servers: dict() };
    const sp = pf.servers[this.server];
    if (!sp || sp.promptsComplete) return;
    const now = new Date().toISOString();
    for (const e of entries) {
      if (sp.prompts[e.name] || sp.pending.prompts[e.name]) continue;
      const h = definitionHash('prompts', e.def);
      if (e.findings.length) sp.pending.prompts[e.name] = { ...h, seenAt: now, reason: 'poisoned', findings: e.findings, definition: e.def };
      else sp.prompts[e.name] = { ...h, pinnedAt: now, by: 'tofu' };
    }
    if (complete) sp.promptsComplete = true;
    writePinFile(this.file, pf);
    this.invalidate();
  }

  /**
   * Trust on first use by URI: a view pinned the first time it is read, a view's listing the first time it is listed
   * (one write for a list of them). Returns the URIs the file now pins with the hash given: one pinned or held
   * meanwhile (another session or process saw it first, perhaps served another page) is left, and the caller judges
   * it against what is there; past MAX_VIEWS per kind, nothing more is pinned.
   */
  pinUrisFirstUse(kind: UriKind, entries: readonly (readonly [string, string])[]): Set<string> {
    const pf: PinFile = readPinFile(this.file) ?? { version: 1, servers: dict() };
    const sp = pf.servers[this.server];
    const now = new Set<string>();
    if (!sp) return now;
    let room = MAX_VIEWS - Object.keys(sp[kind]).length - Object.keys(sp.pending[kind]).length;
    const at = new Date().toISOString();
    let changed = false;
    for (const [uri, hash] of entries) {
      if (sp[kind][uri] || sp.pending[kind][uri]) {
        if (sp[kind][uri]?.hash === hash) now.add(uri);
        continue;
      }
      if (room <= 0 || uri.length > MAX_VIEW_URI) continue;
      sp[kind][uri] = { hash, body: hash, pinnedAt: at, by: 'tofu' };
      room--;
      changed = true;
      now.add(uri);
    }
    if (changed) writePinFile(this.file, pf);
    this.invalidate();
    return now;
  }

  /** First use: pins a whole catalogue at once (created once even with concurrent processes). */
  firstUse(sp: ServerPins): ServerPins {
    const pf = createPinFileOnce(this.file, { version: 1, generated: new Date().toISOString(), servers: Object.assign(dict<ServerPins>(), { [this.server]: sp }) });
    this.invalidate();
    return pf.servers[this.server] ?? sp;
  }
}

/** pinsFor could not pin on first use: the server's catalogue could not be read whole. */
const NOT_PINNED = Symbol('not pinned');
const NOT_PINNED_REFUSAL =
  "mcp-warden refused this call: it could not read the server's whole tool list to pin it on first use, so nothing was pinned. Try again: the next request reads the list again.";

/** Names an exchange's audit event lists in `extra.pin` (`tools`, `prompts`, `views`); the rest are counted in `more`. */
const PIN_NOTE_NAMES = 20;
/** Violations of one exchange recorded as an event each; the rest are counted in one more event. */
const PIN_EVENTS_PER_EXCHANGE = 100;
/** Violations remembered as reported (once per definition and process); past this the memory starts again. */
const MAX_REPORTED = 10_000;

/** Pinned names by body hash (what a rename keeps), built once per set of pins read. */
const bodies = new WeakMap<Record<string, PinnedEntry>, Map<string, string[]>>();
function byBody(pinned: Record<string, PinnedEntry>): Map<string, string[]> {
  let m = bodies.get(pinned);
  if (!m) {
    m = new Map();
    for (const [n, p] of Object.entries(pinned)) {
      const list = m.get(p.body);
      if (list) list.push(n);
      else m.set(p.body, [n]);
    }
    bodies.set(pinned, m);
  }
  return m;
}

/** What is held for a person's review of a definition that is not the pinned one. */
function pendingEntry(v: Extract<Verdict, { ok: false }> & { hash: string; body: string }, definition: Record<string, unknown>): PendingEntry {
  const reason = v.renamedFrom ? 'rename' : v.reason.startsWith('the definition changed') ? 'changed' : 'new';
  return { hash: v.hash, body: v.body, seenAt: new Date().toISOString(), reason, ...(v.renamedFrom ? { renamedFrom: v.renamedFrom } : {}), definition };
}

export function pinStage(opts: PinStageOptions): Stage {
  const stores = new Map<string, ServerStore>();
  const reported = new Set<string>();
  const floods = new WeakMap<Exchange, { events: number; held: number }>();
  const block = opts.settings.onChange === 'block';
  const maxListBytes = opts.maxListBytes ?? 16 * 1024 * 1024;

  function store(server: string): ServerStore {
    let s = stores.get(server);
    if (!s) {
      const identity = opts.identities.get(server) ?? server;
      const tofu = tofuFile(opts.settings.stateDir, server, identity);
      s = opts.settings.lockFile ? new ServerStore(server, identity, opts.settings.lockFile, true, path.join(path.dirname(tofu), `pending-${path.basename(tofu)}`), opts.log) : new ServerStore(server, identity, tofu, false, tofu, opts.log);
      stores.set(server, s);
    }
    return s;
  }

  // At start: a pin file that cannot be used is refused with its name and why (SPEC §10), not met later as an
  // internal error on every message; and a lock file not written yet refuses every tool, which the log says once.
  for (const server of opts.identities.keys()) {
    const st = store(server);
    try {
      st.load();
    } catch (e) {
      if (!(e instanceof PinError)) throw e;
      // What a person can do about it: the lock file is theirs to fix; the state directory's file is ours.
      throw new PinError(`${e.message} (${st.explicit ? 'fix the lock file, or write it again with `mcp-warden pin`' : 'restore it, or remove it to pin the server again on first use'})`);
    }
  }
  if (opts.settings.lockFile && !existsSync(opts.settings.lockFile)) {
    opts.log.warn({ file: opts.settings.lockFile }, 'the lock file does not exist: every tool and prompt is refused until `mcp-warden pin` writes it');
  }

  function report(ex: Exchange, kind: PinKind, name: string, hash: string, v: Extract<Verdict, { ok: false }>): void {
    const key = `${ex.session.server}\n${kind}\n${name}\n${hash}`;
    // The exchange's audit event names the first few, under their kind; a list of thousands of new tools is counted,
    // not copied.
    const note = (ex.notes.pin ??= { violation: v.reason });
    if (!note[kind]?.includes(name)) {
      const named = (note.tools?.length ?? 0) + (note.prompts?.length ?? 0) + (note.views?.length ?? 0) + (note.viewListings?.length ?? 0);
      if (named < PIN_NOTE_NAMES) (note[kind] ??= []).push(name);
      else note.more = (note.more ?? 0) + 1;
    }
    if (reported.has(key)) return;
    // Bounded: a server that shows new definitions on every list must not grow this without end.
    if (reported.size >= MAX_REPORTED) reported.clear();
    reported.add(key);
    // A list of thousands of new definitions: the first ones get an event each, the rest one event that counts them.
    let f = floods.get(ex);
    if (!f) floods.set(ex, (f = { events: 0, held: 0 }));
    if (f.events >= PIN_EVENTS_PER_EXCHANGE) {
      f.held++;
      return;
    }
    f.events++;
    opts.log.warn({ server: ex.session.server, kind, name, reason: v.reason, renamedFrom: v.renamedFrom }, block ? 'definition not pinned: hidden and refused until approved' : 'definition not pinned (on_change: warn)');
    opts.events?.event('pin_violation', { server: ex.session.server, session: ex.session.id, principal: ex.principal, transport: ex.session.transport }, { reason: `${kindLabel(kind)} ${name}: ${v.reason}${v.renamedFrom ? ` (renamed from ${v.renamedFrom})` : ''}`, target: name, kind, hash: hash.slice(0, 16), on_change: opts.settings.onChange });
  }
  /** The one event (and log line) for the violations of an exchange past PIN_EVENTS_PER_EXCHANGE. */
  function reportHeld(ex: Exchange, kind: PinKind): void {
    const held = floods.get(ex)?.held ?? 0;
    if (held === 0) return;
    opts.log.warn({ server: ex.session.server, kind, count: held }, 'more definitions not pinned than are reported one by one; `mcp-warden pin --list` shows them all');
    opts.events?.event('pin_violation', { server: ex.session.server, session: ex.session.id, principal: ex.principal, transport: ex.session.transport }, { reason: `${held} more ${kindLabel(kind)}s not pinned in this list (mcp-warden pin --list shows them)`, kind, count: held, on_change: opts.settings.onChange });
  }


  /**
   * Pins of the server, creating them on first use (TOFU) from the complete catalogue. When the catalogue cannot
   * be read whole (an error, a page that fails, more pages than the proxy reads), nothing is written — pinning part
   * of it, or none, would later refuse every tool left out — and NOT_PINNED says so: calls are refused and lists
   * hidden (on_change: block) until a later request reads it whole.
   */
  function pinsFor(session: Session, st: ServerStore): Promise<ServerPins | undefined | typeof NOT_PINNED> {
    const existing = st.load();
    if (existing || st.explicit) return Promise.resolve(existing);
    // Requests that arrive while the first use is being screened wait for it rather than screen it again.
    let running = firstUses.get(st);
    if (!running) {
      running = pinFirstUse(session, st).finally(() => firstUses.delete(st));
      firstUses.set(st, running);
    }
    return running;
  }

  async function pinFirstUse(session: Session, st: ServerStore): Promise<ServerPins | typeof NOT_PINNED> {
    const catalog = await session.catalog();
    if (!catalog || !session.catalogComplete()) {
      opts.log.warn({ server: session.server }, 'could not read the whole tool list to pin it on first use; nothing was pinned');
      return NOT_PINNED;
    }
    const sp = emptyServerPins(st.identity);
    const now = new Date().toISOString();
    sp.instructions = session.instructions !== undefined ? textHash(session.instructions) : null;
    const yielder = breather();
    for (const [name, t] of catalog) {
      await yielder();
      const h = definitionHash('tools', t.definition);
      const findings = opts.screen('tools', t.definition);
      if (findings.length) sp.pending.tools[name] = { ...h, seenAt: now, reason: 'poisoned', findings, definition: t.definition };
      else sp.tools[name] = { ...h, pinnedAt: now, by: 'tofu' };
    }
    opts.log.info({ server: session.server, tools: Object.keys(sp.tools).length, blocked: Object.keys(sp.pending.tools).length, file: st.file }, 'pinned on first use');
    return st.firstUse(sp);
  }

  const firstUses = new Map<ServerStore, Promise<ServerPins | typeof NOT_PINNED>>();

  function verdict(sp: ServerPins | undefined, st: ServerStore, kind: Kind, name: string, def: Record<string, unknown>, present?: Set<string>): Verdict & { hash: string; body: string } {
    const h = definitionHash(kind, def);
    if (!sp) return { ok: false, reason: 'the server has no pins in the lock file', ...h };
    const e = sp[kind][name];
    if (e && e.hash === h.hash) return { ok: true, ...h };
    const pend = sp.pending[kind][name];
    if (!e && pend?.reason === 'poisoned' && pend.hash === h.hash) return { ok: false, reason: `first seen with findings (${(pend.findings ?? []).join(', ')}) and not yet approved`, ...h };
    if (e) return { ok: false, reason: 'the definition changed since it was pinned', ...h };
    const twin = byBody(sp[kind]).get(h.body)?.find((n) => n !== name && !(present?.has(n) ?? false));
    if (twin !== undefined) return { ok: false, reason: 'renamed', renamedFrom: twin, ...h };
    return { ok: false, reason: 'new since the server was pinned', ...h };
  }

  function deny(ex: Exchange, text: string, toolCall: boolean): StageResult {
    ex.decision = { effect: 'deny', rule: 'pin', reason: text, mode: 'enforce' };
    const answer: PeerAnswer = toolCall ? { result: { content: [{ type: 'text', text }], isError: true } } : { error: { code: ErrorCode.PolicyDenied, message: text, data: { rule: 'pin' } } };
    return { answer, outcome: 'denied' };
  }

  function serverBlocked(ex: Exchange): string | undefined {
    return ex.session.state.get('pin.blocked') as string | undefined;
  }

  /** Adds a page of prompts to a session's pages within the bound on all pages; false (and a warning) past it. */
  function keepPromptPage(session: Session, pages: PromptPages, list: unknown[], bytes: number): boolean {
    pages.bytes += bytes;
    if (pages.bytes <= maxListBytes) {
      for (const p of list) if (isObject(p) && typeof p['name'] === 'string') pages.defs.set(p['name'], p);
      return true;
    }
    if (!session.state.has(PROMPT_WARNED)) {
      session.state.set(PROMPT_WARNED, true);
      opts.log.warn({ server: session.server, session: session.id, limit: maxListBytes }, "the server's prompt list is larger than limits.max_message_bytes over all its pages; the prompts past it are not pinned and count as new");
    }
    return false;
  }

  /**
   * The server's whole prompt list, read by the proxy itself (every page, within the bound the client's listing has)
   * when a prompt is asked for that the session's pages do not hold: a prompt the client listed on an earlier page
   * than its latest listing, one asked for before any listing, or after the server said its list changed. Kept as the
   * session's pages; undefined when the list cannot be read whole. One read per session at a time.
   */
  function promptCatalog(session: Session): Promise<PromptPages | undefined> {
    let running = session.state.get(PROMPT_FETCH) as Promise<PromptPages | undefined> | undefined;
    if (!running) {
      running = fetchPrompts(session).finally(() => session.state.delete(PROMPT_FETCH));
      session.state.set(PROMPT_FETCH, running);
    }
    return running;
  }

  async function fetchPrompts(session: Session): Promise<PromptPages | undefined> {
    const pages: PromptPages = { defs: new Map(), bytes: 0, fromFirst: true, complete: false };
    const read = await session.readList('prompts/list', 'prompts', (list, bytes) => Array.isArray(list) && keepPromptPage(session, pages, list, bytes));
    if (read !== 'whole') return undefined;
    pages.complete = true;
    session.state.set(PROMPT_PAGES, pages);
    return pages;
  }

  /**
   * Pins prompts on first use (after the poisoning and naming rules ran on each): a page of the client's listing, or
   * the whole list; `complete` once every page of one listing has been pinned.
   */
  async function pinPromptsFirstUse(st: ServerStore, prompts: Iterable<readonly [string, Record<string, unknown>]>, complete: boolean): Promise<ServerPins | undefined> {
    const entries: { name: string; def: Record<string, unknown>; findings: string[] }[] = [];
    const yielder = breather();
    for (const [name, def] of prompts) {
      await yielder();
      entries.push({ name, def, findings: opts.screen('prompts', def) });
    }
    st.pinPromptsFirstUse(entries, complete);
    return st.load();
  }

  /**
   * Judges `prompts/get`. The prompt's definition comes from the session's prompt pages; when they do not hold it and
   * are not a whole current list, from the server's list read by the proxy (which also pins prompts on first use).
   */
  function checkPrompt(ex: Exchange, name: string): StageResult | Promise<StageResult> {
    const st = store(ex.session.server);
    const loaded = st.load();
    const kept = promptPages(ex.session);
    const def = kept?.defs.get(name);
    if ((loaded || st.explicit) && (def !== undefined || kept?.complete)) return judge(ex, st, loaded, 'prompts', name, def);
    return (async () => {
      let sp = await pinsFor(ex.session, st);
      if (sp === NOT_PINNED) return block ? deny(ex, NOT_PINNED_REFUSAL, false) : undefined;
      let found = def;
      if (found === undefined && !promptPages(ex.session)?.complete) {
        const pages = await promptCatalog(ex.session);
        found = pages?.defs.get(name);
        if (pages && sp && !st.explicit && !sp.promptsComplete) sp = await pinPromptsFirstUse(st, pages.defs, true);
        if (!pages && sp && !sp.prompts[name]) {
          // An error, too many pages, or past limits.max_message_bytes over its pages (the prompts past the bound
          // are hidden from the host's list as well): nothing to judge a prompt the pins do not hold against.
          report(ex, 'prompts', name, '', { ok: false, reason: "not pinned, and the server's prompt list could not be read whole" });
          if (!block) return undefined;
          return deny(ex, `mcp-warden refused this call: the prompt "${name}" is not pinned, and the server's prompt list could not be read whole to find its definition (an error, more than ${MAX_LIST_PAGES} pages, or more than limits.max_message_bytes over all its pages).`, false);
        }
      } else found ??= promptPages(ex.session)?.defs.get(name);
      return judge(ex, st, sp, 'prompts', name, found);
    })();
  }

  /** Judges a call; synchronous when the pins are loaded and the session knows the current catalogue. */
  function checkCall(ex: Exchange, name: string): StageResult | Promise<StageResult> {
    const st = store(ex.session.server);
    const loaded = st.load();
    if ((loaded || st.explicit) && ex.session.catalogComplete()) return judge(ex, st, loaded, 'tools', name, ex.session.tools.get(name)?.definition);
    return (async () => {
      const sp = await pinsFor(ex.session, st);
      if (sp === NOT_PINNED) return block ? deny(ex, NOT_PINNED_REFUSAL, true) : undefined;
      // catalog() refetches after list_changed, or for a fresh child called before any list.
      const def = ((await ex.session.catalog())?.get(name) ?? ex.session.tools.get(name))?.definition;
      return judge(ex, st, sp, 'tools', name, def);
    })();
  }

  function judge(ex: Exchange, st: ServerStore, sp: ServerPins | undefined, kind: Kind, name: string, def: Record<string, unknown> | undefined): StageResult {
    if (!def) {
      // Not in the server's list. A tool or prompt the pins do not hold either is one the server would run without
      // ever showing it — a new one kept off the list, out of reach of review. With on_change: block it is refused;
      // a pinned one the list no longer shows (a removal) goes to the server.
      if (sp?.[kind][name]) return undefined;
      const label = kindLabel(kind);
      report(ex, kind, name, '', { ok: false, reason: `not in the server's ${label} list and not pinned` });
      if (!block) return undefined;
      return deny(ex, `mcp-warden refused this call: the ${label} "${name}" is not in the server's ${label} list and not pinned, so there is no definition to check it against. Only listed ${label}s can be pinned and approved.`, kind === 'tools');
    }
    // Prompts not yet pinned on first use: nothing to compare.
    if (kind === 'prompts' && !st.explicit && !sp?.promptsComplete && !sp?.prompts[name]) return undefined;
    const v = verdict(sp, st, kind, name, def);
    if (v.ok) return undefined;
    report(ex, kind, name, v.hash, v);
    if (v.reason !== 'the server has no pins in the lock file' && !sp?.pending[kind][name]) st.addPending(kind, [[name, pendingEntry(v, def)]]);
    if (!block) return undefined;
    const what = `mcp-warden refused this call: the ${kindLabel(kind)} "${name}"`;
    // Nothing is held for approval then: the server is recorded whole, by `mcp-warden pin`.
    if (!sp) return deny(ex, `${what} belongs to a server that has no pins in the lock file. A person can record the server's definitions in it with: mcp-warden pin`, kind === 'tools');
    const phrase = v.reason === 'renamed' ? `is a renamed copy of "${v.renamedFrom}"` : v.reason.startsWith('the definition changed') ? 'has changed since it was pinned' : v.reason.startsWith('new') ? `is ${v.reason}` : `was ${v.reason}`;
    return deny(ex, `${what} ${phrase}. A person can review and approve it with: mcp-warden pin --approve ${ex.session.server} ${name}`, kind === 'tools');
  }

  async function checkListResponse(ex: Exchange): Promise<void> {
    if (ex.direction !== 'to-server' || !ex.response || ex.answeredBy) return;
    const resp = ex.response.message as JsonRpcResponse;
    if (!('result' in resp) || !isObject(resp.result)) return;
    const result = resp.result;
    const st = store(ex.session.server);
    if (ex.method === 'initialize' || ex.method === 'server/discover') {
      const text = typeof result['instructions'] === 'string' ? result['instructions'] : undefined;
      const sp = st.load();
      if (!sp) return; // pinned with the first catalogue
      const h = text === undefined ? null : textHash(text);
      if (sp.instructions === h) return;
      const reason = `mcp-warden blocked the server "${ex.session.server}": its instructions changed since they were pinned. A person can review and approve them with: mcp-warden pin --approve ${ex.session.server}`;
      report(ex, 'tools', '(instructions)', h ?? 'none', { ok: false, reason: 'instructions changed' });
      if (text !== undefined) st.addPendingInstructions(text);
      if (!block) return;
      ex.session.state.set('pin.blocked', reason);
      delete result['instructions'];
      markDirty(ex.response);
      return;
    }
    const kind: Kind | undefined = ex.method === 'tools/list' ? 'tools' : ex.method === 'prompts/list' ? 'prompts' : undefined;
    if (!kind) return;
    const list = result[kind];
    if (!Array.isArray(list)) return;
    if (serverBlocked(ex) && block) {
      result[kind] = [];
      markDirty(ex.response);
      return;
    }
    // A server can answer page after page of prompts; a session keeps them up to the bound its tool list has. Past
    // it, prompts are neither kept nor pinned on first use: they are judged as new (hidden with on_change: block).
    let promptsKept = true;
    let promptsWhole = false;
    if (kind === 'prompts') {
      const req = ex.message.message as JsonRpcRequest;
      const first = !isObject(req.params) || req.params['cursor'] === undefined;
      let pages = promptPages(ex.session);
      if (!pages || first) ex.session.state.set(PROMPT_PAGES, (pages = { defs: new Map(), bytes: 0, fromFirst: first, complete: false }));
      promptsKept = keepPromptPage(ex.session, pages, list, ex.response.bytes);
      promptsWhole = pages.complete = promptsKept && pages.fromFirst && typeof result['nextCursor'] !== 'string';
    }
    const pins = await pinsFor(ex.session, st);
    if (pins === NOT_PINNED) {
      if (block && list.length > 0) {
        result[kind] = [];
        markDirty(ex.response);
      }
      return;
    }
    let sp = pins;
    if (kind === 'prompts' && promptsKept && sp && !st.explicit && !sp.promptsComplete) {
      // Prompts are pinned on first use page by page, until the first complete list.
      const named = list.filter((p): p is Record<string, unknown> => isObject(p) && typeof p['name'] === 'string').map((p) => [p['name'] as string, p] as const);
      sp = await pinPromptsFirstUse(st, named, promptsWhole);
    }
    const present = new Set(list.filter(isObject).map((t) => String(t['name'])));
    const pending = new Map<string, PendingEntry>();
    const kept: unknown[] = [];
    // A list may hold hundreds of thousands of definitions: other sessions get turns while it is judged.
    const yielder = breather();
    for (const item of list) {
      await yielder();
      if (!isObject(item) || typeof item['name'] !== 'string') {
        kept.push(item);
        continue;
      }
      const v = verdict(sp, st, kind, item['name'], item, present);
      if (v.ok) {
        kept.push(item);
        continue;
      }
      report(ex, kind, item['name'], v.hash, v);
      if (sp && !sp.pending[kind][item['name']]) pending.set(item['name'], pendingEntry(v, item));
      if (!block) kept.push(item);
    }
    reportHeld(ex, kind);
    if (pending.size) st.addPending(kind, pending);
    if (kept.length !== list.length) {
      result[kind] = kept;
      markDirty(ex.response);
    }
  }

  /**
   * Judges `ui://` items of one kind — a view's page as read, views' listings as listed — against the server's pins.
   * With trust on first use, the items neither pinned nor held are pinned first, in one write (at most MAX_VIEWS per
   * kind, URIs up to MAX_VIEW_URI); one another session or process pinned meanwhile is judged against that. An item
   * that is not the pinned one is held for review (`summary`: what pin --list shows of it), once per hash.
   */
  async function judgeUris(session: Session, kind: UriKind, items: readonly { uri: string; hash: string; summary: () => Record<string, unknown> }[]): Promise<UriVerdict[]> {
    const st = store(session.server);
    const pins = st.load() ?? (st.explicit ? undefined : await pinsFor(session, st));
    if (pins === NOT_PINNED) return items.map(() => ({ ok: false, why: 'not-pinned', reason: "the server's tool list could not be read whole to pin it on first use" }));
    if (!pins) return items.map(() => ({ ok: false, why: 'no-pins', reason: 'the server has no pins in the lock file' }));
    let sp = pins;
    if (!st.explicit) {
      const fresh = items.filter((i) => !sp[kind][i.uri] && !sp.pending[kind][i.uri]);
      if (fresh.length) {
        st.pinUrisFirstUse(kind, fresh.map((i) => [i.uri, i.hash] as const));
        sp = st.load() ?? sp;
      }
    }
    // A caller reading URI after URI of a server that answers any of them must not grow the pin file without end.
    let room = MAX_VIEWS - Object.keys(sp[kind]).length - Object.keys(sp.pending[kind]).length;
    const pending: [string, PendingEntry][] = [];
    const verdicts = items.map((i): UriVerdict => {
      const pinned = sp[kind][i.uri];
      if (pinned?.hash === i.hash) return { ok: true };
      const held = sp.pending[kind][i.uri];
      if (!pinned && !held && (i.uri.length > MAX_VIEW_URI || room <= 0)) return { ok: false, why: 'unpinnable', reason: `not pinned: a server's ${kindLabel(kind)}s are pinned up to ${MAX_VIEWS}, with URIs of up to ${MAX_VIEW_URI} characters` };
      if (held?.hash !== i.hash) {
        if (!held) room--;
        pending.push([i.uri, { hash: i.hash, body: i.hash, seenAt: new Date().toISOString(), reason: pinned ? 'changed' : 'new', definition: i.summary() }]);
      }
      return pinned ? { ok: false, why: 'changed', reason: `the ${kind === 'views' ? 'view' : 'listing'} changed since it was pinned` } : { ok: false, why: 'new', reason: 'new since the server was pinned' };
    });
    if (pending.length) st.addPending(kind, pending);
    return verdicts;
  }

  /**
   * A view (`resources/read` of a `ui://` URI, the page a host renders for a tool and lets call tools): its contents
   * are hashed as the server sent them and compared with the pin of that URI. With trust on first use the first read
   * pins it; with a lock file a view `mcp-warden pin` did not record is new. A view that is not the pinned one is held
   * for review (`pin --list`, `pin --approve SERVER URI`) and, with on_change: block, its read is answered with an
   * error in place of the page, so the host renders nothing.
   */
  async function checkViewResponse(ex: Exchange, uri: string): Promise<void> {
    if (!ex.response || ex.answeredBy) return;
    const frame = ex.response;
    const resp = frame.message as JsonRpcResponse;
    if (!('result' in resp) || !isObject(resp.result)) return;
    // Redaction (below this stage) may have masked part of the page for the host: the pin is of what the server sent.
    let result: Record<string, unknown> = resp.result;
    if (frame.dirty && frame.raw !== undefined) {
      try {
        const sent = JSON.parse(frame.raw) as unknown;
        if (isObject(sent) && isObject(sent['result'])) result = sent['result'];
      } catch {
        /* the frame parsed once; kept as it is */
      }
    }
    const hash = viewHash(result);
    const [v] = await judgeUris(ex.session, 'views', [{ uri, hash, summary: () => viewSummary(result) }]);
    if (!v || v.ok) return;
    const refused = `mcp-warden refused this view: "${uri}"`;
    const text =
      v.why === 'not-pinned'
        ? NOT_PINNED_REFUSAL
        : v.why === 'no-pins'
          ? `${refused} belongs to a server that has no pins in the lock file. A person can record the server's definitions and views in it with: mcp-warden pin`
          : v.why === 'unpinnable'
            ? `${refused.slice(0, 300)} was not pinned: mcp-warden pins at most ${MAX_VIEWS} views per server, with URIs of up to ${MAX_VIEW_URI} characters.`
            : `${refused} ${v.why === 'changed' ? 'has changed since it was pinned' : 'is new since the server was pinned'}. A person can review and approve it with: mcp-warden pin --approve ${ex.session.server} ${uri}`;
    report(ex, 'views', uri.slice(0, MAX_VIEW_URI), hash, v);
    if (!block) return;
    ex.decision = { effect: 'deny', rule: 'pin', reason: text, mode: 'enforce' };
    ex.outcome = 'denied';
    const r = resp as unknown as Record<string, unknown>;
    delete r['result'];
    r['error'] = { code: ErrorCode.PolicyDenied, message: text, data: { rule: 'pin' } };
    markDirty(frame);
  }

  /**
   * A view's listing: the `_meta` a host acts on (MCP Apps `ui`, OpenAI's `openai/…`) of a `ui://` entry in
   * `resources/list`. Hosts apply it to the view's page when the content `resources/read` returns carries none of its
   * own, so through it alone a server could widen what a pinned page may reach (its CSP domains) or ask for (camera,
   * microphone). Each is judged like a view (judgeUris); one that is not the pinned one is held for review
   * (`pin --approve SERVER URI`) and, with on_change: block, leaves with those keys removed (the server's own `_meta`
   * keys stay): the host then has only the page's own settings, or its strictest defaults. An entry without such keys
   * has nothing to compare.
   */
  async function checkViewListings(ex: Exchange): Promise<void> {
    if (ex.direction !== 'to-server' || !ex.response || ex.answeredBy) return;
    const resp = ex.response.message as JsonRpcResponse;
    if (!('result' in resp) || !isObject(resp.result) || !Array.isArray(resp.result['resources'])) return;
    const found: { item: Record<string, unknown>; uri: string; hash: string; summary: () => Record<string, unknown> }[] = [];
    // A list may hold hundreds of thousands of entries: other sessions get turns while they are hashed.
    const yielder = breather();
    for (const item of resp.result['resources'] as unknown[]) {
      if (!isObject(item) || !isViewUri(item['uri'])) continue;
      await yielder();
      const hash = listingHash(item);
      if (hash !== undefined) found.push({ item, uri: item['uri'], hash, summary: () => listingSummary(item) });
    }
    if (!found.length) return;
    const verdicts = await judgeUris(ex.session, 'viewListings', found);
    let dropped = false;
    found.forEach((f, i) => {
      const v = verdicts[i];
      if (!v || v.ok) return;
      report(ex, 'viewListings', f.uri.slice(0, MAX_VIEW_URI), f.hash, v);
      if (block) {
        dropHostMeta(f.item);
        dropped = true;
      }
    });
    reportHeld(ex, 'viewListings');
    if (dropped) markDirty(ex.response);
  }

  return {
    name: 'pin',
    request(ex) {
      // The session's prompt pages are no longer the server's list: the next prompt asked for reads it again.
      if (ex.method === 'notifications/prompts/list_changed' && ex.direction === 'to-client') ex.session.state.delete(PROMPT_PAGES);
      if (ex.direction !== 'to-server' || ex.kind !== 'request') return;
      const blocked = serverBlocked(ex);
      if (blocked && block && !PROMPT_ALLOWED_WHILE_BLOCKED.has(ex.method) && !ex.method.endsWith('/list')) return deny(ex, blocked, ex.method === 'tools/call');
      const params = (ex.message.message as JsonRpcRequest).params;
      if (!isObject(params) || typeof params['name'] !== 'string') return;
      if (ex.method === 'tools/call') return checkCall(ex, params['name']);
      if (ex.method === 'prompts/get') return checkPrompt(ex, params['name']);
      return undefined;
    },
    // Only the lifecycle and list answers, and views, concern pins: every other response passes synchronously.
    response(ex) {
      if (ex.method === 'resources/read') {
        if (ex.direction !== 'to-server') return undefined;
        const uri = (ex.message.message as JsonRpcRequest).params?.['uri'];
        return isViewUri(uri) ? checkViewResponse(ex, uri) : undefined;
      }
      if (ex.method === 'resources/list') return checkViewListings(ex);
      if (ex.method !== 'initialize' && ex.method !== 'server/discover' && ex.method !== 'tools/list' && ex.method !== 'prompts/list') return undefined;
      return checkListResponse(ex);
    },
  };
}
