/**
 * The composition root: reads the configuration, picks the transports, and lists the stages in order.
 * This is the one file that knows the order of the pipeline.
 *
 * Request hooks run top to bottom, response hooks bottom to top:
 *   audit → log → policy → binding → pin → redact
 * Audit is outermost so it records the final answer, including a refusal by any stage below it and the
 * redaction counts of the response it lets out.
 */
import { auditEvents, auditStage, forwardStage, type AuditStageOptions } from './audit/stage.js';
import { auditConfig, openAudit, type OpenAudit } from './audit/setup.js';
import type { Logger } from './log/logger.js';
import { loggingStage } from './log/stage.js';
import type { ServerConfig, WardenConfig } from './config/config.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { Stage } from './pipeline/types.js';
import type { SessionEvents } from './proxy/session.js';
import { bindingStage } from './auth/binding.js';
import { Approvals } from './policy/approvals.js';
import { PolicyHolder } from './policy/holder.js';
import { bundledPolicy } from './policy/load.js';
import { MemoryLimiter } from './policy/rate.js';
import { policyStage } from './policy/stage.js';
import { packFiles, redactionSettings, secretScrubber, redactionFromConfig, type Redaction } from './redact/setup.js';
import { othersCanRead, refuseChangeableByOthers } from './config/files.js';
import { pinStage, type PinSettings } from './pin/stage.js';
import { screenDefinition } from './lint/screen.js';
import { configDir, configPath, stateDir } from './config/paths.js';
import type { SandboxSpec } from './transports/sandbox.js';
import { definitionsStage } from './redact/definitions.js';
import { redactionStage } from './redact/stage.js';
import { ChildUpstream } from './transports/child.js';
import type { Upstream } from './transports/types.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, fsReason } from './errors.js';
import type { Principal } from './pipeline/types.js';

export type Mode = 'wrap' | 'serve';

export interface Assembly {
  pipeline: Pipeline;
  stages: Stage[];
  /** Where sessions and the HTTP front report lifecycle and fault events. */
  events: SessionEvents | undefined;
  audit: OpenAudit | undefined;
  policy: PolicyHolder;
  redaction: Redaction | undefined;
  /** Masks secrets in server-written text the proxy keeps (a child's stderr in the log, an error in the audit trail). */
  scrub: (text: string) => string;
  /** Undefined when ready; else why not. */
  readiness(): string | undefined;
  close(): Promise<void>;
}

export interface AssembleOptions {
  mode: Mode;
  log: Logger;
  /** `wrap --audit-db` */
  auditDb?: string;
  /** `wrap --policy` (replaces the config's list) */
  policyFiles?: string[];
  /** The servers this process fronts (their identities key the pins). */
  servers?: ServerConfig[];
  /** Stages outside audit (metrics): their response hooks run last and see the final answer. */
  outerStages?: Stage[];
}

/** The pin settings in force: the config's `pins`, else trust on first use in the state directory. */
export function pinSettings(config: WardenConfig): PinSettings | undefined {
  const raw = config.raw['pins'];
  if (raw === false) return undefined;
  const baseDir = config.file ? path.dirname(config.file) : process.cwd();
  const o = typeof raw === 'string' ? { file: raw } : ((raw ?? {}) as { file?: string; on_change?: 'block' | 'warn' });
  return { lockFile: o.file ? configPath(o.file, baseDir) : undefined, onChange: o.on_change ?? 'block', stateDir: stateDir() };
}

export function serverIdentity(s: ServerConfig): string {
  return s.url ?? [s.command ?? '', ...s.args].join(' ');
}

/** The policy files in force: --policy, else the config's `policy`, else the bundled default. */
export function policyFiles(config: WardenConfig, override?: string[]): { files: string[]; reload: boolean; bundled: boolean } {
  if (override?.length) return { files: override.map((f) => path.resolve(f)), reload: true, bundled: false };
  const raw = config.raw['policy'];
  const baseDir = config.file ? path.dirname(config.file) : process.cwd();
  const list = Array.isArray(raw) ? (raw as string[]) : raw && typeof raw === 'object' ? ((raw as { files: string[] }).files ?? []) : [];
  const reload = !(raw && typeof raw === 'object' && !Array.isArray(raw) && (raw as { reload?: boolean }).reload === false);
  if (list.length === 0) return { files: [bundledPolicy('default')], reload: false, bundled: true };
  return { files: list.map((f) => configPath(f, baseDir)), reload, bundled: false };
}

/**
 * Refuses, before any of them is used, the files that decide what passes when another user of the machine could
 * write them (see othersCanChange): the config, its policy files (or `--policy`), redaction packs and the pin lock
 * file; and the files the audit trail's evidence rests on: its signing key (who can replace it signs and MACs
 * whatever verify then accepts) and its anchor (who can rewrite it hides a cut-off tail). Bundled files are part of
 * the installation. `auth.jwks_file` is checked where it is read.
 */
export function refuseFilesOthersCanChange(config: WardenConfig, policyOverride?: string[], auditDb?: string): void {
  const baseDir = config.file ? path.dirname(config.file) : undefined;
  const pf = policyFiles(config, policyOverride);
  const settings = redactionSettings(config);
  const lockFile = pinSettings(config)?.lockFile;
  if (config.file) refuseChangeableByOthers(config.file, 'the config file');
  if (!pf.bundled) for (const f of pf.files) refuseChangeableByOthers(f, 'a policy file');
  for (const f of settings ? packFiles(settings, baseDir) : []) refuseChangeableByOthers(f, 'a redaction pack (redaction.packs)');
  if (lockFile) refuseChangeableByOthers(lockFile, 'the pin lock file (pins)');
  const ac = auditConfig(config.raw['audit'], baseDir, auditDb);
  if (ac.enabled) {
    const role = 'the audit trail is verified against';
    // The key file's own mode is checked where it is read (a key every user can read is refused there too).
    refuseChangeableByOthers(ac.signingKey, 'the audit signing key (audit.signing_key)', role, true);
    refuseChangeableByOthers(ac.anchor, 'the audit anchor (audit.anchor)', role);
  }
}

export function assemble(config: WardenConfig, opts: AssembleOptions): Assembly {
  const baseDir = config.file ? path.dirname(config.file) : undefined;
  refuseFilesOthersCanChange(config, opts.policyFiles, opts.auditDb);
  const pf = policyFiles(config, opts.policyFiles);
  const pins = pinSettings(config);
  const ac = auditConfig(config.raw['audit'], baseDir, opts.auditDb);
  const redaction = redactionFromConfig(config);
  // One scrubber for the log and the audit trail: with redaction off it builds the bundled packs once, on first use.
  const scrub = secretScrubber(redaction);
  const audit = ac.enabled ? openAudit(ac, opts.log) : undefined;
  const stages: Stage[] = [...(opts.outerStages ?? [])];
  const masker = redaction?.masker;
  const auditOptions: AuditStageOptions | undefined = audit && {
    capture: ac.capture,
    captureMaxBytes: ac.captureMaxBytes,
    onFailure: ac.onFailure,
    waitForCommit: true,
    redactArgs: masker
      ? (args: unknown) => {
          const copy = structuredClone(args);
          return masker.redact(copy).blocked ? '[REDACTED:too-many-findings]' : copy;
        }
      : undefined,
    redactText: scrub,
    argsKey: audit.key.argsKey,
  };
  if (audit && auditOptions) stages.push(auditStage(audit.writer, auditOptions));
  stages.push(loggingStage(opts.log, scrub));
  const events = audit ? auditEvents(audit.writer) : undefined;
  const holder = new PolicyHolder(pf.files, opts.log, events);
  if (pf.reload) holder.watch();
  stages.push(policyStage({ policy: () => holder.policy, limiter: new MemoryLimiter(), approvals: new Approvals() }));
  stages.push(bindingStage());
  // Above the pins: descriptions are masked for the model after pinning hashed them as the server sent them.
  if (redaction) stages.push(definitionsStage(redaction));
  if (pins) {
    const identities = new Map((opts.servers ?? config.servers).map((s) => [s.name, serverIdentity(s)]));
    stages.push(pinStage({ settings: pins, identities, screen: screenDefinition, events, log: opts.log, maxListBytes: config.limits.maxMessageBytes }));
  }
  if (redaction) stages.push(redactionStage({ redaction }));
  // Innermost: it records a request as it leaves, after every other stage let it through.
  if (audit && auditOptions && ac.recordForwarded) stages.push(forwardStage(audit.writer, auditOptions));
  const pipeline = new Pipeline(stages);
  return {
    pipeline,
    stages,
    events,
    audit,
    policy: holder,
    redaction,
    scrub,
    readiness: () => (audit && !audit.writer.healthy ? `audit store cannot write: ${audit.writer.lastError ?? 'unknown'}` : undefined),
    close: async () => {
      holder.close();
      await pipeline.close();
      await audit?.writer.close();
    },
  };
}

const LOCALE_VARS = /^(LANG|LANGUAGE|LC_[A-Z]+|TZ)$/;
const WINDOWS_BASE = ['SYSTEMROOT', 'SystemRoot', 'WINDIR', 'COMSPEC', 'ComSpec', 'PATHEXT', 'TEMP', 'TMP', 'APPDATA', 'LOCALAPPDATA', 'USERPROFILE', 'ProgramFiles', 'ProgramData'];

/**
 * The environment a child gets.
 * wrap: what the host gave us (hosts put server tokens there) minus our own `MCP_WARDEN_*`, plus the entry's env.
 * serve: only the entry's env plus PATH, HOME and the locale — a gateway's own secrets never reach a child.
 */
/** Variables of the system rather than of a program: a config's `${VAR}` reading one is not a secret of mcp-warden's. */
const SYSTEM_ENV = /^(PATH|HOME|USER|USERNAME|USERPROFILE|LOGNAME|SHELL|PWD|TMPDIR|TEMP|TMP|LANG|LANGUAGE|LC_\w+|TZ|XDG_\w+|HOMEDRIVE|HOMEPATH|APPDATA|LOCALAPPDATA|PROGRAMDATA|SYSTEMROOT|WINDIR|COMSPEC|PATHEXT)$/i;

export function childEnv(mode: Mode, server: ServerConfig, base: NodeJS.ProcessEnv = process.env, withheld: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  if (mode === 'wrap') {
    // The host's environment, but not mcp-warden's own: its MCP_WARDEN_ settings and what its config file's ${VAR}
    // read (an audit sink's token, the redaction hash key), which the server it guards has no business seeing.
    // The system's variables stay, though a config may name them for its paths (${HOME}/audit.db).
    const fold = (k: string) => (process.platform === 'win32' ? k.toUpperCase() : k);
    const own = new Set(withheld.filter((k) => !SYSTEM_ENV.test(k)).map(fold));
    for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.startsWith('MCP_WARDEN_') && !own.has(fold(k))) env[k] = v;
  } else {
    for (const [k, v] of Object.entries(base)) {
      if (v === undefined) continue;
      if (k === 'PATH' || k === 'Path' || k === 'HOME' || LOCALE_VARS.test(k)) env[k] = v;
      else if (process.platform === 'win32' && WINDOWS_BASE.includes(k)) env[k] = v;
    }
  }
  Object.assign(env, server.env);
  return env;
}

export interface UpstreamDeps {
  mode: Mode;
  log: Logger;
  maxMessageBytes: number;
  requestTimeoutMs: number;
  /** WebSocket upstreams: keep-alive ping interval (0 = off). */
  wsPingIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Variables a wrapped child does not inherit (WardenConfig.envUsed): a server's own `env` can still set them. */
  withheldEnv?: readonly string[];
  /** The config file's folder (relative token_file, client_secret_file). */
  baseDir?: string;
  /** The proxy's own files and folders, hidden from sandboxed children. */
  hide?: string[];
  /** Masks secrets in what a child prints on stderr, and in its command line, before they are logged or audited. */
  scrub?: (text: string) => string;
}

/** Settings of a server's `auth` that name a file holding a secret. */
const SECRET_FILE_KEYS = ['token_file', 'value_file', 'client_secret_file'] as const;

/**
 * The files a server's `auth` reads a secret from, with the setting that names each: resolved as the credential code
 * reads them, relative to the config file's folder, else the working folder.
 */
function secretFiles(server: ServerConfig, baseDir: string): { key: string; file: string }[] {
  const auth = server.raw['auth'];
  if (!auth || typeof auth !== 'object') return [];
  return SECRET_FILE_KEYS.flatMap((key) => {
    const f = (auth as Record<string, unknown>)[key];
    return typeof f === 'string' && f ? [{ key, file: configPath(f, baseDir) }] : [];
  });
}

/**
 * What a sandboxed child must not see: the state and config folders, the audit folder, key and anchor, the config,
 * the log file, and every file the config reads a secret from (each server's `token_file`, `value_file`,
 * `client_secret_file`: kept anywhere, such as /run/secrets, and readable by the proxy's user, one server's
 * credentials were readable by every other server, sandboxed or not).
 */
export function protectedPaths(config: WardenConfig, auditDb?: string): string[] {
  const base = config.file ? path.dirname(config.file) : undefined;
  const ac = auditConfig(config.raw['audit'], base, auditDb);
  const out = [stateDir(), configDir(), path.dirname(ac.db), path.dirname(ac.signingKey), path.dirname(ac.anchor)];
  if (config.file) out.push(config.file);
  if (config.log.file) out.push(path.resolve(config.log.file));
  for (const s of config.servers) for (const { file } of secretFiles(s, base ?? process.cwd())) out.push(file);
  return out;
}

/**
 * Every file a server's `auth` reads a secret from, read once as the proxy starts: one that cannot be read or is
 * empty stops the start with the setting and the file (SPEC §10). They are read again for each connection (a
 * rotated token is picked up), but a missing one was otherwise found only when a client came, as an error for that
 * client and nothing in the log. One that every user of the machine can read is logged as a warning (its path and
 * mode, never its content). Not refused, as the audit signing key is: Kubernetes and Docker mount secrets 0644 or
 * 0444 by default, where the proxy's user is usually the only one.
 */
export function checkSecretFiles(server: ServerConfig, baseDir: string, log?: Logger): void {
  for (const { key, file } of secretFiles(server, baseDir)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`servers.${server.name}.auth.${key}: ${file}: cannot read it: ${fsReason(e)}`, file);
    }
    if (!text.trim()) throw new ConfigError(`servers.${server.name}.auth.${key}: ${file} is empty`, file);
    const mode = othersCanRead(file);
    if (mode !== undefined) log?.warn({ server: server.name, file, mode: `0${mode.toString(8)}` }, `servers.${server.name}.auth.${key}: ${file} holds a secret every user of this machine can read (mode 0${mode.toString(8)}); chmod o-r it`);
  }
}

/**
 * A factory for fresh connections to one configured server. A URL upstream's modules (the HTTP and WebSocket
 * clients, OAuth) are loaded only when a URL upstream is configured: a stdio `wrap` does not carry them.
 */
export async function upstreamFactory(server: ServerConfig, deps: UpstreamDeps): Promise<(principal?: Principal) => Upstream> {
  if (server.url) {
    checkSecretFiles(server, deps.baseDir ?? process.cwd(), deps.log);
    return (await import('./upstream-url.js')).urlUpstreamFactory(server, server.url, deps);
  }
  const env = childEnv(deps.mode, server, deps.env, deps.withheldEnv);
  return () =>
    new ChildUpstream(
      { command: server.command!, args: server.args, env, cwd: server.cwd, sandbox: server.raw['sandbox'] as SandboxSpec | undefined, hide: deps.hide },
      { maxMessageBytes: deps.maxMessageBytes, graceMs: server.shutdownGraceMs, log: deps.log, server: server.name, scrub: deps.scrub },
    );
}
