/**
 * `mcp-warden install --host H` / `uninstall --host H`: rewrite a host's own MCP config so each chosen stdio
 * server runs through `wrap`, and back.
 *
 * Only `command` and `args` of a chosen entry change; `env` (with VS Code `${input:…}` references), `type`,
 * comments, key order and everything else stay as they are (jsonc-parser edits, not a re-serialisation). Before the
 * first change a backup is written beside the file; `uninstall` puts the original bytes back when nothing else in
 * the file changed since, and otherwise unwraps the entries in place (keeping the other edits). A diff is printed.
 * A TOML config (Codex CLI's config.toml) is edited the same way: only the two values change (config/toml.ts), and
 * every edit, JSON or TOML, is read back and compared with what was meant before anything is written.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { applyEdits, modify, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { parseJsoncText } from '../config/jsonc.js';
import { MAX_FILE_DEPTH, nestedDeeper } from '../protocol/frame.js';
import { shownCommand } from '../config/shown.js';
import { InPlaceEditError } from '../config/edits.js';
import { parseToml, tomlSetEntry, TomlSyntaxError } from '../config/toml.js';
import { parseYaml } from '../config/yaml.js';
import { yamlSetEntry } from '../config/yaml-edit.js';
import { visibleText } from '../protocol/escape.js';
import { UsageError, WardenError } from '../errors.js';
import { isServerName } from './args.js';
import { VERSION } from '../version.js';

export const HOSTS = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'copilot', 'windsurf', 'gemini', 'codex', 'opencode', 'goose', 'zed', 'kiro', 'cline', 'roo-code', 'kilo-code'] as const;
export type Host = (typeof HOSTS)[number];

type Entry = Record<string, unknown>;

export interface HostPaths {
  cwd: string;
  home: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
}

/** The config file a host reads, and the key its servers live under. */
export function hostConfig(host: Host, p: HostPaths = { cwd: process.cwd(), home: os.homedir(), platform: process.platform, env: process.env }): { file: string; key: 'mcpServers' | 'servers' | 'mcp_servers' | 'mcp' | 'extensions' | 'context_servers' } {
  const j = p.platform === 'win32' ? path.win32.join : path.join;
  switch (host) {
    case 'claude-desktop':
      if (p.platform === 'darwin') return { file: j(p.home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json'), key: 'mcpServers' };
      if (p.platform === 'win32') return { file: j(roaming(p), 'Claude', 'claude_desktop_config.json'), key: 'mcpServers' };
      return { file: j(xdgConfig(p), 'Claude', 'claude_desktop_config.json'), key: 'mcpServers' };
    case 'claude-code': {
      const project = j(p.cwd, '.mcp.json');
      return { file: existsSync(project) ? project : j(p.home, '.claude.json'), key: 'mcpServers' };
    }
    case 'cursor': {
      const project = j(p.cwd, '.cursor', 'mcp.json');
      return { file: existsSync(project) ? project : j(p.home, '.cursor', 'mcp.json'), key: 'mcpServers' };
    }
    case 'vscode':
      return { file: j(p.cwd, '.vscode', 'mcp.json'), key: 'servers' };
    case 'copilot':
      return { file: copilotUserFile(p), key: 'mcpServers' };
    case 'windsurf':
      return { file: j(p.home, '.codeium', 'windsurf', 'mcp_config.json'), key: 'mcpServers' };
    case 'gemini':
      return { file: j(p.home, '.gemini', 'settings.json'), key: 'mcpServers' };
    case 'codex':
      return { file: j(p.env['CODEX_HOME'] || j(p.home, '.codex'), 'config.toml'), key: 'mcp_servers' };
    case 'goose':
      // Goose: config.yaml, its servers ("extensions") with cmd, args and envs.
      return { file: p.platform === 'win32' ? j(roaming(p), 'Block', 'goose', 'config', 'config.yaml') : j(xdgConfig(p), 'goose', 'config.yaml'), key: 'extensions' };
    case 'kiro':
      // Kiro (IDE and CLI): ~/.kiro/settings/mcp.json, and the workspace's .kiro/settings/mcp.json.
      return { file: j(p.home, '.kiro', 'settings', 'mcp.json'), key: 'mcpServers' };
    case 'zed':
      // Zed: settings.json (~/.config/zed on Linux and macOS, %APPDATA%\Zed on Windows), context_servers.
      return { file: p.platform === 'win32' ? j(roaming(p), 'Zed', 'settings.json') : j(xdgConfig(p), 'zed', 'settings.json'), key: 'context_servers' };
    case 'opencode':
      return { file: j(xdgConfig(p), 'opencode', 'opencode.json'), key: 'mcp' };
    case 'cline':
    case 'roo-code':
    case 'kilo-code':
      return { file: extensionFiles(p, host)[0]!, key: 'mcpServers' };
  }
}

/** Windows' roaming application data folder: %APPDATA%, else ~\AppData\Roaming. */
function roaming(p: HostPaths): string {
  return p.env['APPDATA'] ?? path.win32.join(p.home, 'AppData', 'Roaming');
}

/** The XDG config folder: $XDG_CONFIG_HOME, else ~/.config. */
function xdgConfig(p: HostPaths): string {
  const j = p.platform === 'win32' ? path.win32.join : path.join;
  return p.env['XDG_CONFIG_HOME'] || j(p.home, '.config');
}

/** Where VS Code and its forks keep their user data: ~/Library/Application Support, %APPDATA% or ~/.config. */
function appDataDir(p: HostPaths): string {
  const j = p.platform === 'win32' ? path.win32.join : path.join;
  return p.platform === 'darwin' ? j(p.home, 'Library', 'Application Support') : p.platform === 'win32' ? roaming(p) : xdgConfig(p);
}

/**
 * Agents that run as an extension inside VS Code or one of its forks keep their MCP servers in the extension's
 * global storage, one file per editor it is installed in (its own `mcpServers` file, not the editor's mcp.json); Roo
 * Code and Kilo Code also read a project file in the folder.
 */
const EXTENSION_HOSTS = {
  cline: { id: 'saoudrizwan.claude-dev', file: 'cline_mcp_settings.json', project: undefined },
  'roo-code': { id: 'rooveterinaryinc.roo-cline', file: 'mcp_settings.json', project: ['.roo', 'mcp.json'] },
  'kilo-code': { id: 'kilocode.kilo-code', file: 'mcp_settings.json', project: ['.kilocode', 'mcp.json'] },
} as const;
const EDITORS = ['Code', 'Code - Insiders', 'VSCodium', 'Cursor', 'Windsurf'];

/** An extension host's settings file in each editor (VS Code's first), then its project file in the folder. */
function extensionFiles(p: HostPaths, host: keyof typeof EXTENSION_HOSTS): string[] {
  const j = p.platform === 'win32' ? path.win32.join : path.join;
  const h = EXTENSION_HOSTS[host];
  const global = EDITORS.map((e) => j(appDataDir(p), e, 'User', 'globalStorage', h.id, 'settings', h.file));
  return h.project ? [...global, j(p.cwd, ...h.project)] : global;
}

/**
 * GitHub Copilot's user file, read by Copilot CLI and by the Copilot agent in VS Code (the portable format):
 * `$COPILOT_HOME/mcp-config.json`, else `~/.copilot/mcp-config.json`.
 */
function copilotUserFile(p: HostPaths): string {
  const j = p.platform === 'win32' ? path.win32.join : path.join;
  return j(p.env['COPILOT_HOME'] || j(p.home, '.copilot'), 'mcp-config.json');
}

/** The folders from `cwd` up to the root of its repository (the first that holds `.git`); `cwd` alone outside one. */
function upToRepoRoot(cwd: string, platform: NodeJS.Platform): string[] {
  const pth = platform === 'win32' ? path.win32 : path;
  const out: string[] = [];
  for (let d = cwd; ; d = pth.dirname(d)) {
    out.push(d);
    if (existsSync(pth.join(d, '.git'))) return out;
    if (pth.dirname(d) === d) return [cwd];
  }
}

/** The files that exist, each with its places; when none does, `fallback`: the file install names in its error. */
function existingOr(files: string[], fallback: string, places: (file: string) => ServersAt[]): HostTarget[] {
  const found = files.filter((f) => existsSync(f));
  return (found.length ? found : [fallback]).map((file) => ({ file, at: places(file) }));
}

/** The names of the folders in `dir`, sorted; none when it cannot be read. */
function subfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/** Whether an entry names a remote server: `url`, Windsurf's `serverUrl` or Gemini's `httpUrl`. */
function remote(e: Entry): boolean {
  return typeof e['url'] === 'string' || typeof e['serverUrl'] === 'string' || typeof e['httpUrl'] === 'string' || typeof e['uri'] === 'string';
}

function serverLike(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && (typeof (v as Entry)['command'] === 'string' || typeof (v as Entry)['url'] === 'string');
}

/**
 * Where the servers of a portable-format file sit: under `mcpServers`, or, in a project file written the bare way
 * (`{ "playwright": { "command": … } }`, which Copilot CLI reads too), at the top level. Told from the file; one
 * that cannot be read counts as `mcpServers`, and install then says what is wrong with it.
 */
function portablePlaces(file: string): ServersAt[] {
  try {
    const doc = parseJsoncText(splitBom(readFileSync(file, 'utf8'))[1]);
    if (doc && typeof doc === 'object' && !Array.isArray(doc) && !Object.prototype.hasOwnProperty.call(doc, 'mcpServers') && Object.values(doc).some(serverLike)) return [[]];
  } catch {
    /* read again, with its errors reported, by install */
  }
  return [['mcpServers']];
}

/**
 * Where an opencode config's servers sit: under `mcp`, or under `mcp.servers` when that holds servers (its newer
 * layout). One that cannot be read counts as `mcp`, and install then says what is wrong with it.
 */
function opencodePlaces(file: string): ServersAt[] {
  try {
    const doc = parseJsoncText(splitBom(readFileSync(file, 'utf8'))[1]) as Record<string, unknown> | undefined;
    const mcp = doc?.['mcp'] as Record<string, unknown> | undefined;
    const inner = mcp && typeof mcp === 'object' ? mcp['servers'] : undefined;
    if (inner && typeof inner === 'object' && !Array.isArray(inner) && Object.values(inner).some((e) => arrayCommand(e) !== undefined || serverLike(e))) return [['mcp', 'servers']];
  } catch {
    /* read again, with its errors reported, by install */
  }
  return [['mcp']];
}

/** Where in a host config a servers object sits: a path of keys (`["mcpServers"]`, `["projects", "/p", "mcpServers"]`). */
export type ServersAt = string[];

export interface HostTarget {
  file: string;
  at: ServersAt[];
}

/**
 * Every place a host reads servers from for the working folder, so install leaves none of them out. Claude Code
 * keeps three scopes: user (`mcpServers` of ~/.claude.json), local — what `claude mcp add` writes by default, and the
 * one that wins a name clash — (`projects["<folder>"].mcpServers` of the same file) and project (`.mcp.json` in the
 * folder). Cursor: its global ~/.cursor/mcp.json and the folder's .cursor/mcp.json. VS Code (and Insiders): the
 * mcp.json of the default profile and of every other profile, the workspace's .vscode/mcp.json, and the portable
 * files its Copilot agent reads (the user's mcp-config.json, the workspace's .mcp.json). Copilot (CLI): the user's mcp-config.json and, up to the repository's
 * root, each .mcp.json and .github/mcp.json. Gemini CLI: ~/.gemini/settings.json and the folder's
 * .gemini/settings.json. Codex CLI: `$CODEX_HOME/config.toml` (~/.codex) and, up to the repository's root, each
 * .codex/config.toml. Kiro: ~/.kiro/settings/mcp.json and the workspace's .kiro/settings/mcp.json. Zed: its settings.json and the folder's .zed/settings.json (context_servers). opencode: its global opencode.json(c), OPENCODE_CONFIG, and up to the repository's root each
 * opencode.json(c) and .opencode/opencode.json(c). Cline, Roo Code and Kilo Code: their settings file in each VS Code-family editor they are
 * installed in (Roo and Kilo also the folder's .roo/mcp.json, .kilocode/mcp.json). Claude Desktop and Windsurf: their
 * one file.
 */
export function hostTargets(host: Host, p: HostPaths = { cwd: process.cwd(), home: os.homedir(), platform: process.platform, env: process.env }): HostTarget[] {
  const j = p.platform === 'win32' ? path.win32.join : path.join;
  const mcpServers = (): ServersAt[] => [['mcpServers']];
  if (host === 'cursor') {
    // Cursor reads both its global file and the folder's.
    return existingOr([j(p.home, '.cursor', 'mcp.json'), j(p.cwd, '.cursor', 'mcp.json')], hostConfig(host, p).file, mcpServers);
  }
  if (host === 'vscode') {
    // The user profile's mcp.json (VS Code 1.102 on) serves every workspace; the workspace's own file beside it.
    // VS Code's Copilot agent also reads the portable format directly: the user's mcp-config.json and the
    // workspace's .mcp.json (mcpServers), which VS Code's documentation now puts first.
    // Each profile keeps its own (User/profiles/<id>/mcp.json), and VS Code Insiders its own folder.
    const appData = appDataDir(p);
    const users = ['Code', 'Code - Insiders'].flatMap((product) => {
      const dir = j(appData, product, 'User');
      return [j(dir, 'mcp.json'), ...subfolders(j(dir, 'profiles')).map((id) => j(dir, 'profiles', id, 'mcp.json'))];
    });
    const own = [...users, hostConfig(host, p).file].filter((f) => existsSync(f)).map((file) => ({ file, at: [['servers']] }));
    const portable = [copilotUserFile(p), j(p.cwd, '.mcp.json')].filter((f) => existsSync(f)).map((file) => ({ file, at: portablePlaces(file) }));
    const all = [...own, ...portable];
    return all.length ? all : [{ file: hostConfig(host, p).file, at: [['servers']] }];
  }
  if (host === 'copilot') {
    // Copilot CLI reads the user's file and, in a repository, every .mcp.json from the folder up to the repository's
    // root (the nearer wins a name clash) and .github/mcp.json.
    const project = upToRepoRoot(p.cwd, p.platform).flatMap((d) => [j(d, '.mcp.json'), j(d, '.github', 'mcp.json')]);
    return existingOr([copilotUserFile(p), ...project], copilotUserFile(p), portablePlaces);
  }
  if (host === 'codex') {
    // Codex CLI: the user's config.toml and, in a trusted project, every .codex/config.toml from the repository's
    // root down to the folder (the nearer wins a name clash).
    const user = hostConfig(host, p).file;
    const project = upToRepoRoot(p.cwd, p.platform).map((d) => j(d, '.codex', 'config.toml'));
    return existingOr([...new Set([user, ...project])], user, () => [['mcp_servers']]);
  }
  if (host === 'kiro') return existingOr([hostConfig(host, p).file, j(p.cwd, '.kiro', 'settings', 'mcp.json')], hostConfig(host, p).file, mcpServers);
  if (host === 'zed') {
    // Zed: the user's settings and the project's (.zed/settings.json in the folder it opens).
    const user = hostConfig(host, p).file;
    return existingOr([user, j(p.cwd, '.zed', 'settings.json')], user, () => [['context_servers']]);
  }
  if (host === 'opencode') {
    // opencode: the global config, the one OPENCODE_CONFIG names, and from the folder up to the repository's root
    // each opencode.json(c) and .opencode/opencode.json(c). Its servers sit under `mcp` (or `mcp.servers`).
    const global = j(xdgConfig(p), 'opencode');
    const project = upToRepoRoot(p.cwd, p.platform).flatMap((d) => ['opencode.json', 'opencode.jsonc', j('.opencode', 'opencode.json'), j('.opencode', 'opencode.jsonc')].map((f) => j(d, f)));
    const named = p.env['OPENCODE_CONFIG'] ? [p.env['OPENCODE_CONFIG']] : [];
    return existingOr([...new Set([j(global, 'opencode.json'), j(global, 'opencode.jsonc'), ...named, ...project])], hostConfig(host, p).file, opencodePlaces);
  }
  if (host === 'cline' || host === 'roo-code' || host === 'kilo-code') return existingOr(extensionFiles(p, host), hostConfig(host, p).file, mcpServers);
  if (host === 'gemini') {
    // Gemini CLI: the user's settings and the project's (.gemini/settings.json in the folder it runs in).
    return existingOr([hostConfig(host, p).file, j(p.cwd, '.gemini', 'settings.json')], hostConfig(host, p).file, mcpServers);
  }
  if (host !== 'claude-code') {
    const c = hostConfig(host, p);
    return [{ file: c.file, at: [[c.key]] }];
  }
  const at = claudeCodeAt(p.cwd);
  return existingOr([j(p.home, '.claude.json'), j(p.cwd, '.mcp.json')], hostConfig(host, p).file, () => at);
}

/** Claude Code's scopes inside one file: user, and local for the folder (as given, and with its links resolved). */
function claudeCodeAt(cwd: string): ServersAt[] {
  const folders = [cwd];
  try {
    const real = realpathSync(cwd);
    if (real !== cwd) folders.push(real);
  } catch {
    /* the folder as given */
  }
  return [['mcpServers'], ...folders.map((f) => ['projects', f, 'mcpServers'])];
}

export interface Launcher {
  command: string;
  args: string[];
}

/**
 * How the host should start mcp-warden: this very installation (absolute paths), or `npx -y mcp-warden@<this
 * version>` — pinned, so a release published later does not run in every host until install is run again (what
 * lint's CF004 asks of every other npx server).
 */
export function launcher(kind: 'auto' | 'node' | 'npx' = 'auto'): Launcher {
  const cli = fileURLToPath(new URL('./index.js', import.meta.url));
  const ephemeral = /[\\/]_npx[\\/]/.test(cli);
  if (kind === 'npx' || (kind === 'auto' && ephemeral)) return { command: 'npx', args: ['-y', `mcp-warden@${VERSION}`] };
  return { command: process.execPath, args: [cli] };
}

/** Options of `wrap` that take a value (`--name x`, or `--name=x`). */
export const WRAP_VALUE_OPTIONS: ReadonlySet<string> = new Set(['--config', '--policy', '--audit-db', '--name', '--url', '--transport', '--sandbox']);

/** An npx package spec naming mcp-warden from the registry (a version or tag; never `npm:`, git, file or URL aliases). */
const NPX_SPEC = /^mcp-warden(@[\w.^~<>=*+-]+)?$/;

function baseName(command: string): string {
  return command.split(/[\\/]/).pop()!.toLowerCase().replace(/\.(cmd|exe|bat|ps1)$/, '');
}

/** A bare name (found on PATH) or an absolute path; a relative path resolves against wherever the host starts, such as the project a config came with. */
function bareOrAbsolute(command: string): boolean {
  return !/[\\/]/.test(command) || path.isAbsolute(command) || path.win32.isAbsolute(command);
}

/**
 * How many of an entry's `args` start mcp-warden, when `command` and those args are one of the launchers that run
 * it (what install writes, or what a person writes by hand), else -1:
 * `mcp-warden …`; `npx [-y] mcp-warden[@version] …`; `node <absolute path>/mcp-warden/dist/cli/index.js …` or this
 * installation's own CLI. Nothing else counts: the word `mcp-warden` somewhere before `wrap` (a project's config can
 * say `sh -c "…" mcp-warden wrap -- x`), a relative path, or an npx alias (`mcp-warden@npm:other`) would have made
 * install leave a server unwrapped while reporting that it ran through mcp-warden.
 */
function launcherLength(command: string, args: string[]): number {
  if (!bareOrAbsolute(command)) return -1;
  const base = baseName(command);
  if (base === 'mcp-warden') return 0;
  if (base === 'npx') {
    const at = args[0] === '-y' || args[0] === '--yes' ? 1 : 0;
    return NPX_SPEC.test(args[at] ?? '') ? at + 1 : -1;
  }
  if (base === 'node' || command === process.execPath) {
    const cli = args[0] ?? '';
    const own = launcher('node').args[0];
    if (cli === own) return 1;
    const absolute = path.isAbsolute(cli) || path.win32.isAbsolute(cli);
    return absolute && /[\\/]mcp-warden[\\/]dist[\\/]cli[\\/]index\.js$/.test(cli) ? 1 : -1;
  }
  return -1;
}

/** An entry that runs `mcp-warden wrap`: where `wrap` is, its options, and where the wrapped command starts, after `--` or without it (-1: none, as with `--url`). */
export interface WrappedEntry {
  wrapAt: number;
  options: string[];
  commandAt: number;
}

export function wrapped(entry: Entry): WrappedEntry | undefined {
  const args = entry['args'];
  const command = entry['command'];
  if (typeof command !== 'string' || !Array.isArray(args) || !args.every((a) => typeof a === 'string')) return undefined;
  const at = launcherLength(command, args as string[]);
  if (at < 0 || args[at] !== 'wrap') return undefined;
  const options: string[] = [];
  for (let i = at + 1; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return { wrapAt: at, options, commandAt: i + 1 < args.length ? i + 1 : -1 };
    // `wrap` passes options through once its command starts, so `--` is optional: the first word that is neither an
    // option nor an option's value starts the command (`wrap --name x node s.js` runs `node s.js`).
    if (!a.startsWith('-')) return { wrapAt: at, options, commandAt: i };
    options.push(a);
    if (WRAP_VALUE_OPTIONS.has(a) && i + 1 < args.length) options.push(args[++i] as string);
  }
  return { wrapAt: at, options, commandAt: -1 };
}

export function isWrapped(entry: Entry): boolean {
  return wrapped(entry) !== undefined;
}

/**
 * A wrapped entry started by launcher `l` instead of its own: `wrap`, its options and the server's command stay as
 * they are. Undefined when `l` is already what starts it.
 */
export function relaunchEntry(entry: Entry, l: Launcher): { command: string; args: string[] } | undefined {
  const w = wrapped(entry);
  if (!w) return undefined;
  const args = entry['args'] as string[];
  const now = { command: l.command, args: [...l.args, ...args.slice(w.wrapAt)] };
  if (now.command === entry['command'] && now.args.length === args.length && now.args.every((a, i) => a === args[i])) return undefined;
  return now;
}

/** A word of a command line as a person would type it: quoted when it holds anything but plain characters. */
function shellWord(a: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(a) ? a : JSON.stringify(a);
}

/** The launcher of a wrapped entry as a command line (`npx -y mcp-warden@0.1.0`), for what install reports. */
function shownLauncher(entry: Entry): string {
  const at = wrapped(entry)!.wrapAt;
  return [entry['command'] as string, ...(entry['args'] as string[]).slice(0, at)].map(shellWord).join(' ');
}

export function wrapEntry(name: string, entry: Entry, l: Launcher, config?: string): { command: string; args: string[] } {
  const orig = [String(entry['command']), ...((entry['args'] as unknown[] | undefined) ?? []).map(String)];
  return { command: l.command, args: [...l.args, 'wrap', '--name', name, ...(config ? ['--config', config] : []), '--', ...orig] };
}

/** The command an entry wrapped by mcp-warden runs; undefined when it wraps none (`wrap --url`). */
export function unwrapEntry(entry: Entry): { command: string; args: string[] | undefined } | undefined {
  const w = wrapped(entry);
  if (!w || w.commandAt < 0) return undefined;
  const rest = (entry['args'] as string[]).slice(w.commandAt);
  return { command: rest[0]!, args: rest.length > 1 ? rest.slice(1) : undefined };
}

/**
 * A byte order mark in front of the JSON (Windows editors write one) is set aside while the file is read and
 * edited, and put back: the host reads the file as it did before.
 */
function splitBom(text: string): [string, string] {
  return text.startsWith('\uFEFF') ? ['\uFEFF', text.slice(1)] : ['', text];
}

/**
 * Whether a variable of an entry's `env` changes where mcp-warden finds its config, policy and state, or its keys:
 * `config`, its own variables for the config and state folder; `home`, the folders it derives them from (they move
 * only mcp-warden's when the entry runs it); `keychain`, the key to stored OAuth tokens goes to a file instead of the
 * OS keychain. install lists them all; lint reports them (CF011).
 */
export function movesWarden(name: string): 'config' | 'home' | 'keychain' | undefined {
  if (/^MCP_WARDEN_(CONFIG|STATE_DIR)$/i.test(name)) return 'config';
  if (/^MCP_WARDEN_NO_KEYCHAIN$/i.test(name)) return 'keychain';
  if (/^(XDG_CONFIG_HOME|XDG_STATE_HOME|HOME|USERPROFILE|APPDATA|LOCALAPPDATA)$/i.test(name)) return 'home';
  return undefined;
}

/**
 * Variables of an entry's `env` that act on the mcp-warden process the host starts, not only on the server behind
 * it: code loaded into it (NODE_OPTIONS --require/--import, a preloaded library) runs beside the audit key, the
 * policy and the sandbox's set-up, and TLS trust turned off or widened lets someone else answer for a remote
 * server, an identity provider or the audit sink. `code`: loads code (HIGH in lint); `tls`: changes TLS trust.
 */
export function insideWardenEnv(name: string): 'code' | 'tls' | undefined {
  if (/^(NODE_OPTIONS|NODE_PATH|LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|DYLD_INSERT_LIBRARIES|DYLD_LIBRARY_PATH|DYLD_FRAMEWORK_PATH)$/i.test(name)) return 'code';
  if (/^(NODE_TLS_REJECT_UNAUTHORIZED|NODE_EXTRA_CA_CERTS)$/i.test(name)) return 'tls';
  return undefined;
}

/**
 * An entry's `env` variables that movesWarden or insideWardenEnv name: each with its name, what it does (`moves`
 * the config or state, or acts inside: `code`, `tls`) and how it is shown (`NAME=value`, secrets masked).
 */
function wardenEnv(e: Entry): { name: string; does: 'moves' | 'code' | 'tls'; shown: string }[] {
  // opencode calls it `environment`, Goose `envs`.
  const env = ['env', 'environment', 'envs'].flatMap((k) => (e[k] && typeof e[k] === 'object' ? Object.entries(e[k] as Record<string, unknown>) : []));
  return env.flatMap(([k, v]) => {
    const does = movesWarden(k) ? 'moves' : insideWardenEnv(k);
    return does ? [{ name: k, does, shown: shownCommand(`${shellWord(k)}=${shellWord(String(v))}`) }] : [];
  });
}

/**
 * `wrap` and its options as an entry has them, and the variables of its `env` that move mcp-warden's config or state
 * or act inside it (tokens masked), so a reviewer sees which config and policy it runs under: a project's config can
 * point MCP_WARDEN_CONFIG at a file of its own, or NODE_OPTIONS at code of its own.
 */
function shownWrap(e: Entry): string {
  const env = wardenEnv(e).map((v) => v.shown);
  return shownCommand(['wrap', ...wrapped(e)!.options].map(shellWord).join(' ')) + (env.length ? `; env ${env.join(' ')}` : '');
}

function parseJsonc(text: string, file: string): Record<string, unknown> {
  // Deeper than any host config (lint refuses the same files at the same depth): the JSONC parser would overflow.
  if (nestedDeeper(text, MAX_FILE_DEPTH)) throw new WardenError(`${file}: nested deeper than ${MAX_FILE_DEPTH} levels, which no host config is; not changed`);
  const errors: ParseError[] = [];
  const v = parseJsoncText(text, errors);
  if (errors.length > 0) {
    const e = errors[0]!;
    const line = text.slice(0, e.offset).split('\n').length;
    throw new WardenError(`${file}:${line}: ${printParseErrorCode(e.error)}; not changed`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WardenError(`${file}: not a JSON object; not changed`);
  return v as Record<string, unknown>;
}

/** Whether a host config is TOML (Codex CLI's config.toml), told by its name. */
function isToml(file: string): boolean {
  return /\.toml$/i.test(file);
}

/** Whether a host config is YAML (Goose's config.yaml), told by its name. */
function isYaml(file: string): boolean {
  return /\.ya?ml$/i.test(file);
}

/** A host config's document: JSON (comments and trailing commas allowed), TOML or YAML. */
function readDoc(text: string, file: string): Record<string, unknown> {
  if (isYaml(file)) {
    let value: unknown;
    try {
      value = parseYaml(text, file, null).value;
    } catch (e) {
      throw new WardenError(`${(e as Error).message}; not changed`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new WardenError(`${file}: not a YAML map; not changed`);
    return value as Record<string, unknown>;
  }
  if (!isToml(file)) return parseJsonc(text, file);
  try {
    return parseToml(text);
  } catch (e) {
    if (e instanceof TomlSyntaxError) throw new WardenError(`${file}${e.line ? `:${e.line}` : ''}: not TOML (${visibleText(e.reason)}); not changed`);
    throw e;
  }
}

/**
 * The text with the entry at `entry` given this command (under `commandKey`: Goose's is `cmd`) and these args (none:
 * its `args` removed). An entry the TOML or YAML editor cannot change in place throws InPlaceEditError (plan skips
 * it, saying why and how it must be written).
 */
function setEntry(text: string, file: string, entry: string[], command: string, args: string[] | undefined, commandKey = 'command'): string {
  if (isYaml(file)) return yamlSetEntry(text, entry, commandKey, command, args);
  if (!isToml(file)) return setValue(setValue(text, [...entry, 'command'], command), [...entry, 'args'], args);
  try {
    return tomlSetEntry(text, entry, command, args);
  } catch (e) {
    if (e instanceof TomlSyntaxError) throw new WardenError(`${file}${e.line ? `:${e.line}` : ''}: ${e.reason}; not changed`);
    throw e;
  }
}

function indentOf(text: string): { tabSize: number; insertSpaces: boolean; eol: string } {
  const m = /\n([ \t]+)\S/.exec(text);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (m && m[1]!.startsWith('\t')) return { tabSize: 1, insertSpaces: false, eol };
  return { tabSize: m ? m[1]!.length : 2, insertSpaces: true, eol };
}

function setValue(text: string, at: (string | number)[], value: unknown): string {
  const fo = indentOf(text);
  return applyEdits(text, modify(text, at, value, { formattingOptions: fo }));
}

export interface PlanItem {
  server: string;
  action: 'wrap' | 'unwrap' | 'upgrade' | 'skip';
  why?: string;
  /** Where the entry is, when not under the file's top-level key (Claude Code's local scope). */
  where?: string;
}

export interface InstallResult {
  file: string;
  before: string;
  after: string;
  items: PlanItem[];
  backup: string;
  restoredFromBackup?: boolean;
}

export function backupPath(file: string): string {
  return `${file}.mcp-warden.bak`;
}

/** The servers objects of a config at each place, with where they are (places the file does not have are left out). */
function serverMaps(doc: Record<string, unknown>, at: ServersAt[], file: string): { path: ServersAt; servers: Record<string, Entry>; where: string | undefined }[] {
  const out: { path: ServersAt; servers: Record<string, Entry>; where: string | undefined }[] = [];
  for (const keys of at) {
    let v: unknown = doc;
    for (const k of keys) v = v && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, k) ? (v as Record<string, unknown>)[k] : undefined;
    if (v === undefined) continue;
    const where = keys.length > 1 ? keys.slice(0, -1).map((k, i) => (i === 0 ? k : `[${JSON.stringify(k)}]`)).join('') + `.${keys[keys.length - 1]}` : undefined;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WardenError(`${file}: "${where ?? keys[0]}" is not an object; not changed`);
    // Servers at the top level (a bare portable file): only the entries that are servers, not `$schema` or `inputs`.
    const servers = keys.length === 0 ? Object.fromEntries(Object.entries(v).filter(([, e]) => serverLike(e))) : v;
    out.push({ path: keys, servers: servers as Record<string, Entry>, where });
  }
  return out;
}

function asPlaces(key: string | ServersAt[]): ServersAt[] {
  return typeof key === 'string' ? [[key]] : key;
}

/** The server names a host config holds at these places (for `--server` checks across several files). */
export function serverNames(original: string, file: string, key: string | ServersAt[]): string[] {
  const doc = readDoc(splitBom(original)[1], file);
  return [...new Set(serverMaps(doc, asPlaces(key), file).flatMap((m) => Object.keys(m.servers)))];
}

/** Stops with a usage error naming every `--server` that `files` (one file, or several joined) do not hold. */
function requireNamed(names: Set<string>, wanted: string[], files: string[]): void {
  const missing = wanted.filter((n) => !names.has(n));
  if (!missing.length) return;
  const [has, it] = files.length > 1 ? ['have', 'they'] : ['has', 'it'];
  throw new UsageError(`${files.join(' and ')} ${has} no server named ${missing.map((m) => JSON.stringify(m)).join(', ')} (${it} ${has}: ${[...names].join(', ') || 'none'})`);
}

function pick(maps: { servers: Record<string, Entry> }[], only: string[] | undefined, file: string, required: boolean): (servers: Record<string, Entry>) => string[] {
  if (only?.length && required) requireNamed(new Set(maps.flatMap((m) => Object.keys(m.servers))), only, [file]);
  return (servers) => (only?.length ? only.filter((n) => Object.prototype.hasOwnProperty.call(servers, n)) : Object.keys(servers));
}

interface PlanOptions {
  servers?: string[] | undefined;
  /** `servers` may be missing from this file (install checks them across all the host's files itself). */
  someMissing?: boolean | undefined;
}

/** What to do with one chosen entry: leave it (and why), or give it this command and these args. */
type EntryPlan = { action: 'skip'; why: string } | { action: 'wrap' | 'unwrap' | 'upgrade'; command: string; args: string[] | undefined; why?: string };

/**
 * Zed's earlier shape of a context server's `command`: `{ "path": …, "args": […], "env": {…} }`. The object when
 * `cmd` (an entry's `command`) is one, else undefined. Lint reads the shape with it too.
 */
export function zedCommand(cmd: unknown): Entry | undefined {
  return cmd && typeof cmd === 'object' && !Array.isArray(cmd) && typeof (cmd as Entry)['path'] === 'string' ? (cmd as Entry) : undefined;
}

/** The command of an entry that writes it as one array of words with its arguments (opencode), else undefined. */
function arrayCommand(e: unknown): string[] | undefined {
  const c = e && typeof e === 'object' ? (e as Entry)['command'] : undefined;
  return Array.isArray(c) && c.length > 0 && c.every((w) => typeof w === 'string') && (e as Entry)['args'] === undefined ? (c as string[]) : undefined;
}

/** Walks the chosen entries at every place and applies each one's plan to the text; writes nothing. */
function plan(original: string, file: string, key: string | ServersAt[], o: PlanOptions, decide: (name: string, e: unknown) => EntryPlan): { after: string; items: PlanItem[] } {
  const [bom, text] = splitBom(original);
  const doc = readDoc(text, file);
  const maps = serverMaps(doc, asPlaces(key), file);
  const chosen = pick(maps, o.servers, file, !o.someMissing);
  let after = text;
  const items: PlanItem[] = [];
  // What the file must read as afterwards: the same document with only the changed entries' command and args.
  const want = plain(doc);
  for (const { path: at, servers, where } of maps) {
    for (const name of chosen(servers)) {
      // opencode writes a command and its arguments as one array (`"command": ["npx", "-y", "x"]`, no `args`):
      // decided on as command and args, and written back as one array.
      const raw = servers[name];
      const line = isToml(file) || isYaml(file) ? undefined : arrayCommand(raw);
      // Zed's earlier form nests them: `"command": { "path": …, "args": […], "env": {…} }`.
      const nested = isToml(file) || isYaml(file) || !raw || typeof raw !== 'object' ? undefined : zedCommand(raw['command']);
      // Goose calls the command `cmd`.
      const commandKey = isYaml(file) && raw && typeof raw === 'object' && raw['command'] === undefined && raw['cmd'] !== undefined ? 'cmd' : 'command';
      const view = line
        ? { ...raw, command: line[0], args: line.slice(1) }
        : nested
          ? { ...raw, command: nested['path'], args: nested['args'], env: nested['env'] }
          : commandKey === 'cmd'
            ? { ...raw, command: raw!['cmd'] }
            : raw;
      let d = decide(name, view);
      if (d.action !== 'skip') {
        try {
          if (line) after = setValue(after, [...at, name, 'command'], [d.command, ...(d.args ?? [])]);
          else if (nested) after = setValue(setValue(after, [...at, name, 'command', 'path'], d.command), [...at, name, 'command', 'args'], d.args);
          else after = setEntry(after, file, [...at, name], d.command, d.args, commandKey);
        } catch (e) {
          if (!(e instanceof InPlaceEditError)) throw e;
          d = { action: 'skip', why: `${e.message}: install changes ${e.form}; write it so, or change it by hand` };
        }
      }
      if (d.action !== 'skip') {
        const e = at.reduce((v, k) => v[k] as Record<string, unknown>, want)[name] as Entry;
        if (line) e['command'] = [d.command, ...(d.args ?? [])];
        else {
          const holder = nested ? (e['command'] as Entry) : e;
          holder[nested ? 'path' : commandKey] = d.command;
          if (d.args === undefined) delete holder['args'];
          else holder['args'] = d.args;
        }
      }
      const item: PlanItem = d.why !== undefined ? { server: name, action: d.action, why: d.why } : { server: name, action: d.action };
      items.push(where ? { ...item, where } : item);
    }
  }
  // An edit that reads back as anything else (a key the file holds twice, a form the editor misread) is not written.
  if (after !== text && !deepEqual(readDoc(after, file), want)) throw new WardenError(`${file}: the change did not read back as intended (does the file set a key twice?); not changed`);
  return { after: bom + after, items };
}

/**
 * Computes the install; writes nothing. `key`: the servers' key, or the places they sit (hostTargets). With
 * `upgrade`, an entry already wrapped but started by another launcher (an older pinned `npx -y mcp-warden@…`,
 * another installation) is moved to `launcher`, its wrap options and server command unchanged.
 */
export function planInstall(original: string, file: string, key: string | ServersAt[], o: PlanOptions & { launcher: Launcher; config?: string | undefined; upgrade?: boolean | undefined }): { after: string; items: PlanItem[] } {
  return plan(original, file, key, o, (name, e): EntryPlan => {
    if (!e || typeof e !== 'object') return { action: 'skip', why: 'not an object' };
    const entry = e as Entry;
    // wrap --name would refuse it, and the host would show the server failing while install said it was wrapped.
    if (!isWrapped(entry) && !isServerName(name)) return { action: 'skip', why: 'its name is not one wrap takes (1 to 128 characters, no control characters): rename it, then run install again' };
    if (isWrapped(entry)) {
      const moved = relaunchEntry(entry, o.launcher);
      if (moved && o.upgrade) return { action: 'upgrade', ...moved, why: `${shownLauncher(entry)} -> ${shownLauncher(moved)} (${shownWrap(entry)})` };
      // An older pinned version keeps running until someone moves it: say so where install stops.
      const other = moved ? `; started by ${shownLauncher(entry)}, not this mcp-warden ${VERSION}: install --upgrade moves it` : '';
      return { action: 'skip', why: `already runs through mcp-warden (${shownWrap(entry)})${other}` };
    }
    if (typeof entry['command'] !== 'string') return { action: 'skip', why: remote(entry) ? 'a remote server (url): put it behind `mcp-warden serve`, or use `wrap --url`' : entry['type'] === 'builtin' ? 'built into the host (type builtin), not a server it starts' : 'no command' };
    // Copilot's portable format calls a stdio server `local` as well.
    if (entry['type'] !== undefined && entry['type'] !== 'stdio' && entry['type'] !== 'local') return { action: 'skip', why: `type ${JSON.stringify(entry['type'])} is not stdio` };
    // The entry's env reaches wrap: a project's .mcp.json can point MCP_WARDEN_CONFIG (or the state and config
    // folders) at files of its own, with no policy, redaction or audit, and the server would look wrapped.
    // With --config, wrap's flag decides the config file (the state folders still count).
    const env = wardenEnv(entry).filter((v) => !o.config || !/^(MCP_WARDEN_CONFIG|XDG_CONFIG_HOME)$/i.test(v.name));
    const moves = env.filter((v) => v.does === 'moves').map((v) => v.shown);
    const runs = env.filter((v) => v.does !== 'moves');
    const effects = [...(runs.some((v) => v.does === 'code') ? ['code it loads runs beside the audit key and the policy'] : []), ...(runs.some((v) => v.does === 'tls') ? ['its TLS trust decides who answers for remote servers'] : [])];
    const whys = [
      ...(moves.length ? [`its env sets ${moves.join(' ')}: wrap takes its config and state from there, not from yours`] : []),
      ...(runs.length ? [`its env sets ${runs.map((v) => v.shown).join(' ')}: that acts inside mcp-warden itself (${effects.join('; ')})`] : []),
    ];
    const why = whys.length ? `${whys.join('; ')}; remove ${env.length > 1 ? 'them' : 'it'} from the entry unless you put ${env.length > 1 ? 'them' : 'it'} there` : undefined;
    return { action: 'wrap', ...wrapEntry(name, entry, o.launcher, o.config), ...(why ? { why } : {}) };
  });
}

/** Computes the uninstall; writes nothing. */
export function planUninstall(original: string, file: string, key: string | ServersAt[], o: PlanOptions): { after: string; items: PlanItem[] } {
  return plan(original, file, key, o, (_name, e): EntryPlan => {
    if (!e || typeof e !== 'object' || !isWrapped(e as Entry)) return { action: 'skip', why: 'does not run through mcp-warden' };
    const u = unwrapEntry(e as Entry);
    if (!u) return { action: 'skip', why: `runs mcp-warden without a server command to put back (${shownWrap(e as Entry)})` };
    return { action: 'unwrap', ...u };
  });
}

/**
 * Replaces the file's content in one step. A host config that is a symbolic link (dotfile managers keep them so)
 * stays one: the file it points to is rewritten, beside itself, not the link replaced by a copy.
 */
function writeAtomic(file: string, text: string): void {
  const target = existsSync(file) ? realpathSync(file) : file;
  const tmp = `${target}.mcp-warden.tmp`;
  const mode = existsSync(target) ? statSync(target).mode & 0o777 : 0o600;
  // A temporary file left by an interrupted run (or a link put in its place) is removed, not written through: the
  // new file is created here with the config's own mode (host configs hold tokens), never an old file's.
  rmSync(tmp, { force: true });
  writeFileSync(tmp, text, { mode, flag: 'wx' });
  renameSync(tmp, target);
}

/** A document as JSON values (TOML dates as their text), for comparing and editing a copy. */
function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(plain(a))) === JSON.stringify(canon(plain(b)));
}

/** The document with every server entry's empty `args` taken out (it is changed: pass one read for this). */
function withoutEmptyArgs(doc: Record<string, unknown>, at: ServersAt[], file: string): Record<string, unknown> {
  try {
    for (const m of serverMaps(doc, at, file)) for (const e of Object.values(m.servers)) if (e && typeof e === 'object' && Array.isArray(e['args']) && e['args'].length === 0) delete e['args'];
  } catch {
    /* compared as it is */
  }
  return doc;
}

/** The document of a file's text, or undefined when it does not read. */
function docOrNone(text: string, file: string): Record<string, unknown> | undefined {
  try {
    return readDoc(splitBom(text)[1], file);
  } catch {
    return undefined;
  }
}

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
  return v;
}

export function install(file: string, key: string | ServersAt[], o: PlanOptions & { launcher: Launcher; config?: string | undefined; upgrade?: boolean | undefined; dryRun?: boolean | undefined }): InstallResult {
  if (!existsSync(file)) throw new WardenError(`no host config at ${file} (add a server in the host first, or give --file)`);
  const before = readFileSync(file, 'utf8');
  const { after, items } = planInstall(before, file, key, o);
  const backup = backupPath(file);
  if (!o.dryRun && after !== before) {
    // Keep the pristine original: a second install (more servers) must not overwrite it. Created, never written
    // through: a link left at that name (dangling, or to another file) would have received the config's tokens.
    try {
      writeFileSync(backup, before, { mode: statSync(file).mode & 0o777, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!lstatSync(backup).isFile()) throw new WardenError(`${backup} exists and is not a file (a link?); move it away and run install again. ${file} was not changed`);
    }
    writeAtomic(file, after);
  }
  return { file, before, after, items, backup };
}

export function uninstall(file: string, key: string | ServersAt[], o: PlanOptions & { dryRun?: boolean | undefined }): InstallResult {
  if (!existsSync(file)) throw new WardenError(`no host config at ${file}`);
  const before = readFileSync(file, 'utf8');
  let { after, items } = planUninstall(before, file, key, o);
  const backup = backupPath(file);
  let restoredFromBackup = false;
  if (existsSync(backup)) {
    const original = readFileSync(backup, 'utf8');
    // Nothing else changed since install: the original bytes, exactly (formatting, key order, comments).
    // An entry whose args were `[]` comes back without args (wrap's command line cannot tell the two apart): the
    // same to the host, so the original bytes still fit.
    const [now, then] = [docOrNone(after, file), docOrNone(original, file)].map((d) => d && withoutEmptyArgs(d, asPlaces(key), file));
    if (now && then && deepEqual(now, then)) {
      after = original;
      restoredFromBackup = true;
    }
  }
  if (!o.dryRun && after !== before) writeAtomic(file, after);
  if (!o.dryRun && restoredFromBackup) rmSync(backup, { force: true });
  return { file, before, after, items, backup, restoredFromBackup };
}

/** A unified-style line diff (small files: host configs). */
export function lineDiff(a: string, b: string, label: string): string {
  if (a === b) return '';
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length * y.length > 4_000_000) return `--- ${label}\n+++ ${label}\n(changed; too large to show)\n`;
  const dp: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) dp[i]![j] = x[i] === y[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const out: string[] = [`--- ${label}`, `+++ ${label}`];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      i++;
      j++;
    } else if (i < x.length && (j >= y.length || dp[i + 1]![j]! >= dp[i]![j + 1]!)) out.push(`-${x[i++]}`);
    else out.push(`+${y[j++]}`);
  }
  return `${out.join('\n')}\n`;
}

const DONE = { skip: 'skipped', wrap: 'wrapped', unwrap: 'unwrapped', upgrade: 'upgraded' } as const;

function report(r: InstallResult, verb: 'install' | 'uninstall', dryRun: boolean): void {
  const w = (s: string) => process.stdout.write(s);
  // The diff shows the host's config, tokens and connection strings included: printed with them masked, since such
  // output is pasted into tickets and shared screens (the file itself keeps them).
  // What a config says is shown as it is, not as a terminal would act on it: a project's .mcp.json can name a server
  // with escape sequences, or turn a line around with a bidirectional override.
  w(lineDiff(r.before, r.after, r.file).split('\n').map((l) => visibleText(shownCommand(l))).join('\n'));
  for (const it of r.items) w(`${visibleText(`${DONE[it.action]}  ${it.server}${it.where ? ` (in ${it.where})` : ''}${it.why ? `: ${it.why}` : ''}`)}\n`);
  if (dryRun) w('dry run: nothing written\n');
  else if (r.after === r.before) w(`${r.file}: no change\n`);
  else if (verb === 'install') w(`${r.file}: updated; the original is kept at ${r.backup}. Restart the host to apply.\n`);
  else w(`${r.file}: ${r.restoredFromBackup ? 'restored byte for byte from the backup' : `unwrapped in place (the file changed since install; the backup ${r.backup} was kept)`}. Restart the host to apply.\n`);
}

function hostOf(v: string): Host {
  if (!(HOSTS as readonly string[]).includes(v)) throw new UsageError(`--host must be one of ${HOSTS.join(', ')}`);
  return v as Host;
}

/**
 * The config install records for wrap (`--config`) must load as wrap would load it, with its policy files: one that
 * does not would have made every wrapped server fail to start in the host. A `${VAR}` the install's own environment
 * lacks is only warned about (the host may set it in the entry's env).
 */
async function checkWardenConfig(file: string): Promise<void> {
  if (!existsSync(file)) throw new UsageError(`--config ${file}: no such file; nothing was changed`);
  const { loadConfigFile } = await import('../config/config.js');
  const { policyFiles, refuseFilesOthersCanChange } = await import('../assemble.js');
  const { loadPolicyFiles } = await import('../policy/load.js');
  let config;
  try {
    config = loadConfigFile(file);
  } catch (e) {
    if (e instanceof WardenError && /environment variable \S+ is not set/.test(e.message)) {
      process.stderr.write(`mcp-warden: warning: ${e.message} here; the host must set it in the entry's env\n`);
      return;
    }
    if (e instanceof WardenError) e.message = `--config: ${e.message}; nothing was changed`;
    throw e;
  }
  try {
    refuseFilesOthersCanChange(config);
  } catch (e) {
    if (e instanceof WardenError) e.message = `--config: ${e.message}; nothing was changed`;
    throw e;
  }
  try {
    loadPolicyFiles(policyFiles(config).files);
  } catch (e) {
    if (e instanceof WardenError) e.message = `--config ${file}: its policy does not load: ${e.message}; nothing was changed`;
    throw e;
  }
}

/** The places of a file given with `--file`: a portable-format file's are told from it (portablePlaces). */
function placesOf(host: Host, file: string, usual: ServersAt[]): ServersAt[] {
  const base = path.basename(file);
  if (host === 'opencode') return opencodePlaces(file);
  return host === 'copilot' || (host === 'vscode' && (base === '.mcp.json' || base === 'mcp-config.json')) ? portablePlaces(file) : usual;
}

/**
 * The files and places install works on: `--file` with the host's places, else every file the host reads for this
 * folder. A `--server` name must be in one of them (checked before anything is written).
 */
function targetsOf(host: Host, file: string | undefined, servers: string[] | undefined): HostTarget[] {
  const all = hostTargets(host);
  const given = file ? path.resolve(file) : undefined;
  const targets = given ? [{ file: given, at: placesOf(host, given, all[0]!.at) }] : all;
  if (targets.length > 1 && servers?.length) {
    const names = new Set(targets.flatMap((t) => serverNames(readFileSync(t.file, 'utf8'), t.file, t.at)));
    requireNamed(names, servers, targets.map((t) => t.file));
  }
  return targets;
}

export function registerInstall(program: Command): void {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  program
    .command('install')
    .description(`make a host run its servers through mcp-warden wrap (${HOSTS.join(', ')})`)
    .requiredOption('--host <host>', HOSTS.join(' | '))
    .option('--server <name>', 'only this server (repeatable; default: every stdio server)', collect)
    .option('--file <path>', "the host's config file (default: where the host keeps it)")
    .option('--config <file>', 'a mcp-warden config for wrap to use (absolute path recorded)')
    .option('--launcher <kind>', 'how the host starts mcp-warden: auto (this installation, or npx when run through npx) | node | npx', 'auto')
    .option('--upgrade', 'also move servers already wrapped by another mcp-warden (an older pinned npx version, another installation) to this one; their wrap options stay')
    .option('--dry-run', 'show the change, write nothing')
    .action(async (opts: { host: string; server?: string[]; file?: string; config?: string; launcher: string; upgrade?: boolean; dryRun?: boolean }) => {
      if (!['auto', 'node', 'npx'].includes(opts.launcher)) throw new UsageError('--launcher must be auto, node or npx');
      // --config is written for servers install wraps; an upgraded entry keeps the options it has.
      if (opts.upgrade && opts.config) throw new UsageError('--upgrade keeps the wrap options each wrapped server has; give --config without --upgrade (it applies to servers install wraps), or edit the entry');
      if (opts.config) await checkWardenConfig(path.resolve(opts.config));
      const targets = targetsOf(hostOf(opts.host), opts.file, opts.server);
      for (const t of targets) {
        const r = install(t.file, t.at, {
          servers: opts.server,
          someMissing: targets.length > 1,
          launcher: launcher(opts.launcher as 'auto'),
          config: opts.config ? path.resolve(opts.config) : undefined,
          upgrade: opts.upgrade,
          dryRun: opts.dryRun,
        });
        report(r, 'install', !!opts.dryRun);
      }
    });
  program
    .command('uninstall')
    .description('undo install: the host runs its servers directly again')
    .requiredOption('--host <host>', HOSTS.join(' | '))
    .option('--server <name>', 'only this server (repeatable; default: every wrapped server)', collect)
    .option('--file <path>', "the host's config file (default: where the host keeps it)")
    .option('--dry-run', 'show the change, write nothing')
    .action((opts: { host: string; server?: string[]; file?: string; dryRun?: boolean }) => {
      const targets = targetsOf(hostOf(opts.host), opts.file, opts.server);
      for (const t of targets) report(uninstall(t.file, t.at, { servers: opts.server, someMissing: targets.length > 1, dryRun: opts.dryRun }), 'uninstall', !!opts.dryRun);
    });
}
