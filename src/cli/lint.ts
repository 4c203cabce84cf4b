/**
 * `mcp-warden lint [TARGET...] [--stdio 'CMD ARGS'] [--url URL] [--format text|json|sarif] [--fail-on SEV]
 *                  [--ignore RULE,...] [--policy-out F] [--pin-out F] [--lock F]`
 * `mcp-warden pin [--config F] [--out F] | --approve SERVER [TOOL]`
 *
 * Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage or unreadable input;
 * 3 the live server could not be reached or listed.
 */
import { progress } from './progress.js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { pinSettings, serverIdentity, upstreamFactory } from '../assemble.js';
import { findConfig, type ServerConfig } from '../config/config.js';
import { redactUrl, shownCommand, shownIdentity } from '../config/shown.js';
import { UsageError, WardenError } from '../errors.js';
import { silentLogger } from '../log/logger.js';
import { LintInputError, parseInput, type Parsed } from '../lint/inputs.js';
import { MAX_MANIFEST_BYTES, readInput } from './input.js';
import { visibleText } from '../protocol/escape.js';
import { isObject } from '../protocol/jsonrpc.js';
import { fetchSnapshot, LiveError, splitCommand, type Snapshot } from '../lint/live.js';
import { toJson, toSarif, toText } from '../lint/output.js';
import { draftCounts, draftPolicy } from '../lint/policy-draft.js';
import { lintParsed, type LintResult } from '../lint/run.js';
import { driftRules } from '../lint/drift.js';
import { SEVERITY_RANK, type Severity } from '../lint/types.js';
import { definitionHash, dict, emptyServerPins, hostMeta, kindLabel, PIN_KINDS, readPinFile, textHash, tofuFile, viewListings, writePinFile, type PinFile, type ServerPins } from '../pin/pins.js';
import { seconds } from './args.js';
import { writeOutput } from './stdout.js';
import { deriveName } from './wrap.js';

/** The start of a pending definition's description (or instructions), on its own line, escaped. */
function describePending(def: unknown): string {
  const shown = (s: string) => {
    const text = visibleText(s.replace(/\s+/g, ' ').trim());
    return `\n      ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`;
  };
  if (!isObject(def)) return '';
  const d = def['description'];
  // The view a tool opens and who may call it (hashed with it: pins.ts hostMeta) can be all that changed.
  const meta = hostMeta(def);
  return (typeof d === 'string' && d ? shown(d) : '') + (meta ? shown(`_meta ${JSON.stringify(meta)}`) : '');
}

/**
 * A pending view as pin --list shows it: each content's type, size and the `_meta` a host acts on (the domains the
 * page may reach, the devices it may ask for), then the start of the page, escaped.
 */
function describeView(def: unknown): string {
  if (!isObject(def)) return '';
  const lines: string[] = [];
  for (const c of Array.isArray(def['contents']) ? def['contents'] : []) {
    if (!isObject(c)) continue;
    lines.push(`${String(c['mimeType'] ?? 'no mimeType')}, ${Number(c['chars']) || 0} characters${c['_meta'] ? `, _meta ${JSON.stringify(c['_meta'])}` : ''}`);
  }
  if (typeof def['more'] === 'number') lines.push(`and ${def['more']} more contents`);
  if (typeof def['preview'] === 'string') lines.push(def['preview']);
  return lines.map((l) => describePending({ description: l })).join('');
}

class ExitError extends WardenError {
  override readonly code = 'EXIT';
  constructor(
    message: string,
    readonly exit: number,
  ) {
    super(message);
  }
  override get exitCode(): number {
    return this.exit;
  }
}

const FAIL_ON: Record<string, Severity> = { critical: 'CRIT', high: 'HIGH', medium: 'MED', low: 'LOW', info: 'INFO' };

async function live(server: ServerConfig, timeoutMs: number, views = false): Promise<Snapshot> {
  const up = (await upstreamFactory(server, { mode: 'serve', log: silentLogger(), maxMessageBytes: 64 * 1024 * 1024, requestTimeoutMs: timeoutMs, env: process.env }))();
  try {
    return await fetchSnapshot(up, timeoutMs, { views });
  } catch (e) {
    await up.close().catch(() => undefined);
    throw new ExitError(`${server.url ? redactUrl(server.url) : server.command}: ${(e as Error).message}`, 3);
  }
}

function liveServer(o: { stdio?: string; url?: string }): ServerConfig {
  const base = { args: [], env: {}, headers: {}, isolation: 'per-session' as const, maxSessions: 1, maxInflight: 8, idleTimeoutMs: 0, shutdownGraceMs: 2000, maxRestarts: 0, restartWindowMs: 0, raw: {} };
  if (o.stdio) {
    const argv = splitCommand(o.stdio);
    if (!argv.length) throw new UsageError('--stdio: empty command');
    // The child inherits this environment (a linter run by a person), as wrap does.
    return { ...base, name: deriveName(argv), command: argv[0], args: argv.slice(1), env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)) };
  }
  let url: URL | undefined;
  try {
    url = new URL(o.url!);
  } catch {
    /* said below */
  }
  if (!url || !/^https?:$/.test(url.protocol)) throw new UsageError(`--url: ${JSON.stringify(o.url!.slice(0, 200))} is not an http(s):// URL of a server's MCP endpoint`);
  return { ...base, name: url.hostname, url: o.url, transport: 'streamable-http' };
}

/**
 * A pin file for servers whose lists were fetched or read: their tools, prompts and instructions, and the listings of
 * their views (the host `_meta` of `ui://` entries in a resource list, live or in the file).
 */
function pinFileFrom(result: LintResult, identities: Map<string, string>): PinFile {
  const pf: PinFile = { version: 1, generated: new Date().toISOString(), servers: dict() };
  const now = new Date().toISOString();
  for (const s of result.servers) {
    const listings = viewListings(s);
    if (!s.tools.length && !s.prompts.length && !s.instructions && !listings.size) continue;
    const sp = emptyServerPins(identities.get(s.name) ?? s.name);
    sp.instructions = s.instructions ? textHash(s.instructions.text) : null;
    for (const t of s.tools) sp.tools[t.name] = { ...definitionHash('tools', t.raw), pinnedAt: now, by: 'lock' };
    for (const p of s.prompts) sp.prompts[p.name] = { ...definitionHash('prompts', p.raw), pinnedAt: now, by: 'lock' };
    for (const [uri, hash] of listings) sp.viewListings[uri] = { hash, body: hash, pinnedAt: now, by: 'lock' };
    pf.servers[s.name] = sp;
  }
  return pf;
}

/**
 * Puts the views a live snapshot read (`ui://` URI → hash) into a server's pins, and warns on stderr of each it could
 * not read: not pinned, a proxy holds it until a person approves it.
 */
function pinViews(sp: ServerPins, name: string, snap: Snapshot, at: string): void {
  for (const [uri, hash] of Object.entries(snap.views ?? {})) sp.views[uri] = { hash, body: hash, pinnedAt: at, by: 'lock' };
  for (const [uri, why] of Object.entries(snap.viewErrors ?? {})) process.stderr.write(`warning: ${visibleText(name)}: view ${visibleText(uri)} could not be read (${visibleText(why)}); it is not pinned and a proxy holds it until approved\n`);
}

/**
 * A pinned server as pin --list and --approve name it: its name and the launch command or URL it was pinned for
 * (secrets masked), since two servers of one name (a user's and a project's) keep separate pins.
 */
function pinnedServer(name: string, identity: string | undefined): string {
  return `${visibleText(name)}${identity ? ` (${visibleText(shownIdentity(identity))})` : ''}`;
}

/** A definition's hash as `pin --list` shows it and `pin --approve … --hash` takes it. */
function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('check MCP manifests (tool lists, server.json, MCPB, host configs, Docker catalogs) or a live server')
    .argument('[targets...]', 'files to lint (- for stdin)')
    .option('--stdio <command>', "launch this server (list methods only, never tools/call) and lint what it lists: --stdio 'npx -y pkg'")
    .option('--url <url>', 'lint a remote server (Streamable HTTP, falling back to HTTP+SSE)')
    .option('--name <name>', 'server name for a live target (default: derived from the command or host)')
    .option('--format <format>', 'text | json | sarif', 'text')
    .option('--fail-on <severity>', 'critical | high | medium | low | info', 'high')
    .option('--ignore <rules>', 'rule ids to skip (comma-separated; TP0* style prefixes allowed)')
    .option('--lock <file>', 'compare with this lock file and report drift (DR rules; of a live target, its views too)')
    .option('--policy-out <file>', 'write a least-privilege policy draft')
    .option('--pin-out <file>', 'write a lock file of what was linted (of a live target, its views too: the ui:// pages its tools open)')
    .option('--timeout <seconds>', 'per request, for live targets', seconds, 15)
    .action(async (targets: string[], o: { stdio?: string; url?: string; name?: string; format: string; failOn: string; ignore?: string; lock?: string; policyOut?: string; pinOut?: string; timeout: number }) => {
      if (!['text', 'json', 'sarif'].includes(o.format)) throw new UsageError(`--format: "${o.format}" is not text, json or sarif`);
      const failOn = FAIL_ON[o.failOn.toLowerCase()];
      if (!failOn) throw new UsageError(`--fail-on: "${o.failOn}" is not critical, high, medium, low or info`);
      if (!targets.length && !o.stdio && !o.url) throw new UsageError('lint needs a file, --stdio or --url');
      if (o.stdio && o.url) throw new UsageError('--stdio and --url cannot be combined');
      const parsed: Parsed[] = [];
      const identities = new Map<string, string>();
      let snap: Snapshot | undefined;
      let liveName: string | undefined;
      const bar = progress('linting', targets.length);
      try {
        for (const t of targets) {
          bar.tick();
          const text = await readInput(t, MAX_MANIFEST_BYTES);
          try {
            parsed.push(parseInput(t === '-' ? 'stdin' : t, text));
          } catch (e) {
            if (e instanceof LintInputError) throw new UsageError(e.message);
            throw e;
          }
        }
      } finally {
        bar.done();
      }
      if (o.stdio || o.url) {
        const server = liveServer(o);
        if (o.name) server.name = o.name;
        const timeout = o.timeout * 1000;
        try {
          // A lock file is written from it, or compared with it: the views its tools open are read too.
          snap = await live(server, timeout, !!o.pinOut || !!o.lock);
        } catch (e) {
          if (e instanceof LiveError) throw new ExitError(e.message, 3);
          throw e;
        }
        // Findings name this as their file: shown in CI logs and uploaded in SARIF, so without a token it was given.
        const label = o.stdio ? `stdio:${shownCommand(o.stdio)}` : redactUrl(o.url as string);
        const p = parseInput(label, JSON.stringify({ ...(snap.initialize ? { initialize: snap.initialize } : {}), ...(snap.discover ? { discover: snap.discover } : {}), tools: snap.tools, prompts: snap.prompts, resources: snap.resources, resourceTemplates: snap.resourceTemplates }, null, 2));
        for (const s of p.servers) {
          s.name = server.name;
          s.format = 'live';
        }
        identities.set(server.name, serverIdentity(server));
        liveName = server.name;
        parsed.push(p);
      }
      const lock = o.lock ? readPinFile(path.resolve(o.lock)) : undefined;
      if (o.lock && !lock) throw new UsageError(`${o.lock}: no such lock file`);
      const result = lintParsed(parsed, { ignore: o.ignore?.split(',').map((x) => x.trim()).filter(Boolean), extra: lock ? driftRules(lock, snap?.views && liveName !== undefined ? new Map([[liveName, snap.views]]) : undefined) : [] });
      const out = o.format === 'json' ? toJson(result.findings, result.documents.map((d) => d.file)) : o.format === 'sarif' ? toSarif(result.findings, process.cwd()) : toText(result.findings, { color: !!process.stdout.isTTY && !process.env['NO_COLOR'] });
      process.stdout.write(out);
      if (o.policyOut) {
        const draft = draftPolicy({ servers: result.servers, documents: result.documents }, result.findings, o.name ? () => o.name! : undefined);
        writeOutput(o.policyOut, draft.yaml);
        process.stderr.write(`mcp-warden: policy draft written to ${o.policyOut} (${draftCounts(draft)})\n`);
      }
      if (o.pinOut) {
        const pf = pinFileFrom(result, identities);
        const sp = liveName !== undefined ? pf.servers[liveName] : undefined;
        if (sp && snap) pinViews(sp, liveName!, snap, pf.generated!);
        writePinFile(path.resolve(o.pinOut), pf);
        process.stderr.write(`mcp-warden: lock file written to ${o.pinOut}\n`);
      }
      const failing = result.findings.filter((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn]).length;
      process.exitCode = failing ? 1 : 0;
    });

  program
    .command('pin')
    .description('record the tools, prompts, instructions and views (ui://) of configured servers in a lock file, or approve what changed')
    .option('--config <file>', 'config file (default: $MCP_WARDEN_CONFIG, then the user config)')
    .option('--out <file>', 'lock file to write (default: the config\'s pins file, else mcp-warden.lock.json)')
    .option('--approve <server>', 'approve the pending definitions of a server (all, or the tool, prompt or view URI named after it: a view\'s page and its listing)')
    .argument('[name]', 'with --approve: the tool or prompt name, or the view URI, to approve')
    .option('--list', 'show what is pending approval')
    .option('--hash <prefix>', 'with --approve SERVER NAME: approve only if the pending definition still has this hash (as --list shows it)')
    .option('--timeout <seconds>', 'per request', seconds, 15)
    .action(async (name: string | undefined, o: { config?: string; out?: string; approve?: string; list?: boolean; hash?: string; timeout: number }) => {
      const { config } = findConfig(o.config);
      const settings = pinSettings(config);
      if (o.hash !== undefined && (!o.approve || !name || o.list)) throw new UsageError('--hash goes with --approve SERVER NAME');
      if (o.hash !== undefined && !/^[0-9a-f]{8,64}$/i.test(o.hash)) throw new UsageError('--hash: 8 to 64 hexadecimal characters, as pin --list shows them');
      if (o.list || o.approve) {
        const { stateDir } = settings ?? { stateDir: '' };
        if (!settings) throw new UsageError('pins are off in this config (pins: false)');
        const servers = config.servers.length ? config.servers : [];
        const pendingFiles = (server: string) => {
          const s = servers.find((x) => x.name === server);
          let tofu = tofuFile(stateDir, server, s ? serverIdentity(s) : server);
          if (!s) {
            // A server wrapped from a host config is not in this config: find its pins by name, newest first.
            const safe = server.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
            const dir = path.dirname(tofu);
            const found = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`${safe}-`) && f.endsWith('.json')).map((f) => path.join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs) : [];
            if (found.length) tofu = found[0]!;
          }
          return { tofu, pending: settings.lockFile ? path.join(path.dirname(tofu), `pending-${path.basename(tofu)}`) : tofu };
        };
        if (o.list) {
          const names = o.approve ? [o.approve] : servers.map((s) => s.name);
          if (!names.length) throw new UsageError('no servers in the config; name one with --approve SERVER --list');
          for (const n of names) {
            const pf = readPinFile(pendingFiles(n).pending)?.servers[n];
            // Names and descriptions are the server's words: shown escaped (a name can carry escape sequences aimed
            // at the reviewer's terminal), the description so a person sees what they would approve.
            const pend = pf
              ? [
                  ...Object.entries(pf.pending.tools).map(([k, v]) => `  tool ${visibleText(k)}: ${v.reason}${v.renamedFrom ? ` from ${visibleText(v.renamedFrom)}` : ''}${v.findings ? ` [${v.findings.join(', ')}]` : ''} (seen ${v.seenAt}, hash ${shortHash(v.hash)})${describePending(v.definition)}`),
                  ...Object.entries(pf.pending.prompts).map(([k, v]) => `  prompt ${visibleText(k)}: ${v.reason} (seen ${v.seenAt}, hash ${shortHash(v.hash)})${describePending(v.definition)}`),
                  ...Object.entries(pf.pending.views).map(([k, v]) => `  view ${visibleText(k)}: ${v.reason} (seen ${v.seenAt}, hash ${shortHash(v.hash)})${describeView(v.definition)}`),
                  ...Object.entries(pf.pending.viewListings).map(([k, v]) => `  view listing ${visibleText(k)}: ${v.reason} (seen ${v.seenAt}, hash ${shortHash(v.hash)})${describePending(v.definition)}`),
                  ...(pf.pendingInstructions ? [`  instructions changed (seen ${pf.pendingInstructions.seenAt})${describePending({ description: pf.pendingInstructions.text })}`] : []),
                ]
              : [];
            process.stdout.write(`${pinnedServer(n, pf?.identity)}: ${pend.length ? `${pend.length} pending\n${pend.join('\n')}` : 'nothing pending'}\n`);
          }
          return;
        }
        const server = o.approve!;
        const files = pendingFiles(server);
        // A TOFU server may have been pinned under an identity this config does not know: find its file by name.
        const pendingPf = readPinFile(files.pending);
        const sp = pendingPf?.servers[server];
        if (!sp) throw new UsageError(`${server}: nothing recorded for this server in ${files.pending}`);
        const target = settings.lockFile ?? files.tofu;
        const lockPf: PinFile = readPinFile(target) ?? { version: 1, servers: dict() };
        const dest = lockPf.servers[server] ?? emptyServerPins(sp.identity);
        const now = new Date().toISOString();
        const approved: string[] = [];
        for (const kind of PIN_KINDS) {
          for (const [n, p] of Object.entries(sp.pending[kind])) {
            if (name && n !== name) continue;
            // The server may have shown yet another definition since a person read this one (--list): approve only
            // what they saw.
            if (o.hash && !p.hash.toLowerCase().startsWith(o.hash.toLowerCase())) {
              throw new UsageError(`${server}: the pending definition of ${kindLabel(kind)} ${visibleText(n)} changed since it was listed (hash now ${shortHash(p.hash)}, not ${o.hash}); nothing approved. Review it again with pin --approve ${server} --list`);
            }
            dest[kind][n] = { hash: p.hash, body: p.body, pinnedAt: now, by: 'approved' };
            delete sp.pending[kind][n];
            if (p.renamedFrom && !name) delete dest[kind][p.renamedFrom];
            approved.push(`${kindLabel(kind)} ${visibleText(n)} (hash ${shortHash(p.hash)})`);
          }
        }
        if (sp.pendingInstructions && !name) {
          dest.instructions = sp.pendingInstructions.hash;
          delete sp.pendingInstructions;
          approved.push('instructions');
        }
        if (!approved.length) throw new UsageError(`${server}: nothing pending${name ? ` for "${name}"` : ''}`);
        if (target === files.pending) {
          // TOFU: pending and pinned share one file.
          dest.pending = sp.pending;
          if (sp.pendingInstructions) dest.pendingInstructions = sp.pendingInstructions;
          else delete dest.pendingInstructions;
          lockPf.servers[server] = dest;
          writePinFile(target, lockPf);
        } else {
          lockPf.servers[server] = { ...dest, pending: { tools: {}, prompts: {}, views: {}, viewListings: {} } };
          delete lockPf.servers[server]!.pendingInstructions;
          writePinFile(target, lockPf);
          pendingPf!.servers[server] = sp;
          writePinFile(files.pending, pendingPf!);
        }
        process.stdout.write(`approved for ${pinnedServer(server, sp.identity)}: ${approved.join(', ')} (${target})\n`);
        return;
      }
      // Record: fetch every configured server's lists.
      if (!config.servers.length) throw new UsageError('pin needs servers in the config (or use `lint --stdio … --pin-out F`)');
      const out = path.resolve(o.out ?? settings?.lockFile ?? 'mcp-warden.lock.json');
      const timeout = o.timeout * 1000;
      const parsed: Parsed[] = [];
      const identities = new Map<string, string>();
      const snaps = new Map<string, Snapshot>();
      for (const s of config.servers) {
        const snap = await live(s, timeout, true);
        snaps.set(s.name, snap);
        const p = parseInput(`${s.name}`, JSON.stringify({ ...(snap.initialize ? { initialize: snap.initialize } : {}), tools: snap.tools, prompts: snap.prompts, resources: snap.resources }));
        for (const m of p.servers) m.name = s.name;
        identities.set(s.name, serverIdentity(s));
        parsed.push(p);
      }
      const result = lintParsed(parsed);
      const pf = pinFileFrom(result, identities);
      for (const s of config.servers) pinViews((pf.servers[s.name] ??= emptyServerPins(serverIdentity(s))), s.name, snaps.get(s.name)!, pf.generated!);
      writePinFile(out, pf);
      const counts = Object.entries(pf.servers).map(([n, s]) => `${n}: ${Object.keys(s.tools).length} tools, ${Object.keys(s.prompts).length} prompts, ${Object.keys(s.views).length} views${Object.keys(s.viewListings).length ? ` (${Object.keys(s.viewListings).length} with listing settings)` : ''}`);
      process.stdout.write(`wrote ${out}\n${counts.map((c) => `  ${c}`).join('\n')}\n`);
    });
}
