/**
 * `mcp-warden wrap [opts] -- CMD [ARGS...]` and `wrap --url URL`: a stdio host on one side, one server on the
 * other, every message through the pipeline. stdout belongs to the protocol; logs go to stderr or a file.
 */
import path from 'node:path';
import { assemble, protectedPaths, upstreamFactory } from '../assemble.js';
import { findConfig, type ServerConfig, type WardenConfig } from '../config/config.js';
import { UsageError } from '../errors.js';
import { isServerName } from './args.js';
import { createLogger } from '../log/logger.js';
import type { Principal } from '../pipeline/types.js';
import { Session } from '../proxy/session.js';
import { peekId } from '../protocol/frame.js';
import { visibleText } from '../protocol/escape.js';
import { ErrorCode } from '../protocol/jsonrpc.js';
import { setBusyPoll } from '../transports/busy.js';
import { openStdout, StdioHost } from '../transports/stdio-host.js';

export interface WrapOptions {
  config?: string;
  policy?: string[];
  auditDb?: string;
  name?: string;
  url?: string;
  transport?: 'streamable-http' | 'sse' | 'websocket';
  /** --sandbox: run the command in a sandbox (overrides the config's `sandbox`). */
  sandbox?: 'bwrap';
  command: string[];
}

/** Text made into a name a config could give a server ('' when nothing of it is left). */
function cleanName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
}

/** The server name when none is given: the package or program name, e.g. `server-filesystem`. */
export function deriveName(command: string[]): string {
  const skip = new Set(['npx', 'uvx', 'node', 'python', 'python3', 'bunx', 'pnpm', 'dlx', 'exec', 'run', 'docker', 'deno', 'bun', 'sh', 'bash', 'cmd']);
  const generic = new Set(['index', 'main', 'cli', 'server', 'dist', 'build', 'lib', 'bin', 'src', 'out']);
  for (const part of command) {
    if (part.startsWith('-')) continue;
    const noExt = part.replace(/\.(cmd|exe|js|mjs|cjs|ts|py)$/i, '');
    if (skip.has(path.basename(noExt))) continue;
    // A path into a package: prefer the package name over index.js.
    const segs = noExt.split(/[\\/]/).filter(Boolean);
    let pick = segs[segs.length - 1] ?? '';
    for (let i = segs.length - 1; i >= 0 && generic.has(pick); i--) pick = segs[i]!;
    const pkg = pick.replace(/^@[^/]+\//, '').replace(/@[^@]*$/, '');
    const clean = cleanName(pkg);
    if (clean) return clean;
  }
  return 'server';
}

/** The server name of a URL upstream when none is given: its host (`api.example.com`; `[::1]` gives `ipv6-1`). */
export function urlName(hostname: string): string {
  const v6 = /^\[(.*)\]$/.exec(hostname);
  const name = v6 ? cleanName(`ipv6-${v6[1]!.replace(/[:.%]+/g, '-').replace(/^-/, '')}`).replace(/-+$/, '') : cleanName(hostname);
  return name || 'server';
}

function pickServer(cfg: WardenConfig, o: WrapOptions): ServerConfig {
  // Policy rules, pins and the audit trail key on the name. A host's own name for a server (what `install` passes)
  // may hold spaces or any letters; an empty one, control characters or a page of text are refused.
  if (o.name !== undefined && !isServerName(o.name)) throw new UsageError(`--name: ${JSON.stringify(o.name.slice(0, 140))} is not a server name (1 to 128 characters, no control characters)`);
  const fromConfig = o.name ? cfg.servers.find((s) => s.name === o.name) : undefined;
  const base: Omit<ServerConfig, 'name' | 'raw'> = {
    args: [],
    env: {},
    headers: {},
    isolation: 'per-session',
    maxSessions: 1,
    maxInflight: 64,
    idleTimeoutMs: 0,
    shutdownGraceMs: 2000,
    maxRestarts: 3,
    restartWindowMs: 600_000,
  };
  if (o.command.length > 0) {
    const [command, ...args] = o.command;
    const name = o.name ?? deriveName(o.command);
    const raw = o.sandbox ? { ...(fromConfig?.raw ?? {}), sandbox: { ...((fromConfig?.raw['sandbox'] as object | undefined) ?? {}), type: o.sandbox } } : (fromConfig?.raw ?? {});
    return { ...base, ...fromConfig, name, command, args, url: undefined, raw, env: fromConfig?.env ?? {} };
  }
  if (o.url) {
    let host: string;
    try {
      host = new URL(o.url).hostname;
    } catch {
      throw new UsageError(`--url: ${JSON.stringify(o.url.slice(0, 200))} is not a URL (http(s):// or ws(s)://)`);
    }
    const name = o.name ?? urlName(host);
    return { ...base, ...fromConfig, name, url: o.url, command: undefined, transport: o.transport ?? fromConfig?.transport ?? (/^wss?:/i.test(o.url) ? 'websocket' : 'streamable-http'), raw: fromConfig?.raw ?? {} };
  }
  if (fromConfig) return fromConfig;
  if (cfg.servers.length === 1) return cfg.servers[0]!;
  throw new UsageError('wrap needs a server: `wrap -- CMD ARGS`, `wrap --url URL`, or --name of a server in the config');
}

/** How long a shutdown waits for requests already received to be answered (as `serve` on SIGTERM). */
const DRAIN_MS = 10_000;

export async function runWrap(o: WrapOptions): Promise<number> {
  const { config, source } = findConfig(o.config);
  const log = createLogger({ level: config.log.level, file: config.log.file });
  const server = pickServer(config, o);
  if (source === 'none' && !o.policy?.length) log.info({ server: server.name }, 'no config file found; running the bundled default policy (allow, audit; no sampling or URL elicitation)');
  const limits = config.limits;
  setBusyPoll(limits.busyPollUs);
  const assembly = assemble(config, { mode: 'wrap', log, auditDb: o.auditDb, policyFiles: o.policy, servers: [server] });
  const makeUpstream = await upstreamFactory(server, { mode: 'wrap', log, maxMessageBytes: limits.maxMessageBytes, requestTimeoutMs: limits.requestTimeoutMs, wsPingIntervalMs: limits.wsPingIntervalMs, baseDir: config.file ? path.dirname(config.file) : process.cwd(), hide: protectedPaths(config, o.auditDb), scrub: assembly.scrub, withheldEnv: config.envUsed });
  const principal: Principal = { sub: config.localIdentity.sub, kind: 'local', scopes: config.localIdentity.scopes, claims: {} };

  let session: Session | undefined;
  let ending = false;
  const stdout = openStdout();
  const host = new StdioHost(
    process.stdin,
    stdout,
    limits.maxMessageBytes,
    {
      line: (text, bytes, utf8) => session?.receiveFromClient(text, bytes, undefined, undefined, utf8),
      invalid: (bytes) => session?.badClientInput(ErrorCode.ParseError, 'Parse error: the message is not valid UTF-8', null, bytes),
      oversize: (prefix, bytes) =>
        session?.badClientInput(ErrorCode.LimitExceeded, `Message of ${bytes} bytes exceeds the limit of ${limits.maxMessageBytes} bytes`, peekId(prefix), bytes),
    },
    (reason, canAnswer) => void shutdown(reason, 0, canAnswer),
  );
  host.pauseInput();

  const upstream = makeUpstream();
  try {
    await upstream.start();
  } catch (err) {
    log.error({ server: server.name }, (err as Error).message);
    // The message names the command, which the host's config (perhaps a project's) wrote.
    process.stderr.write(`mcp-warden: ${visibleText((err as Error).message)}\n`);
    // No session began, so no session_start: the trail still shows that the host started this server and it failed.
    assembly.events?.event('upstream_spawn', { server: server.name, principal, transport: 'stdio' }, { status: 'failed', reason: `could not start the upstream: ${(err as Error).message}`, config: config.file ?? null, config_from: source });
    await assembly.close();
    return 1;
  }
  log.info({ server: server.name, upstream: upstream.label, pid: upstream.pid }, 'wrapping');
  session = new Session({
    server: server.name,
    transport: 'stdio',
    principal,
    pipeline: assembly.pipeline,
    upstream,
    downstream: host,
    limits: { maxMessageBytes: limits.maxMessageBytes, maxJsonDepth: limits.maxJsonDepth, requestTimeoutMs: limits.requestTimeoutMs, maxInflight: server.maxInflight },
    log,
    events: assembly.events,
    // Which config governed the session: a host entry's env can point MCP_WARDEN_CONFIG at a file of its own.
    startFields: { config: config.file ?? null, config_from: source },
    onUpstreamLoss: 'replay',
    restartUpstream: () => makeUpstream(),
    maxRestarts: server.maxRestarts,
    restartWindowMs: server.restartWindowMs,
  });
  const s = session;
  host.onpressure = () => s.pauseUpstream();
  host.onrelief = () => s.resumeUpstream();
  host.resumeInput();

  let resolveDone: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  s.onended = (reason) => {
    if (!ending) void shutdown(reason, 1);
  };

  /** While a shutdown waits for requests already received: until when (0 when not waiting). */
  let drainUntil = 0;
  /**
   * Ends the session and exits. With `drain`, requests already received are answered first (up to DRAIN_MS, or
   * until a signal arrives), as a server would answer them after its stdin closed: a host may send its last request
   * and close stdin at once.
   */
  async function shutdown(reason: string, code: number, drain = false): Promise<void> {
    if (ending) return;
    ending = true;
    log.info({ server: server.name, reason, unanswered: session?.unanswered ?? 0 }, 'shutting down');
    // Nothing read from now on can be served; an open stdin must not keep the process alive.
    host.pauseInput();
    try {
      if (drain && session) {
        drainUntil = Date.now() + DRAIN_MS;
        while (session.state_ !== 'closed' && session.unanswered > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
        drainUntil = 0;
      }
      await session?.close(reason);
      await host.flush();
      await assembly.close();
    } finally {
      host.closeInput();
      resolveDone(code);
    }
  }
  // The first signal drains and shuts down; one that arrives while requests are being drained ends the wait. The
  // rest of the shutdown is bounded (session close, the child's grace period, the audit store). A host sends its
  // signal after waiting for wrap to exit on the end of stdin, and SIGKILLs it a grace later (the MCP SDKs: 2 s
  // each): from a signal on, the child is signalled at once rather than after a wait of its own for stdin's end,
  // or a server that keeps running after its stdin closes outlives a SIGKILLed wrap.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (session) session.hurryUpstream();
      else upstream.hurry?.();
      if (drainUntil) {
        log.info({ server: server.name, signal: sig }, 'not waiting for the requests in flight');
        drainUntil = 0;
      } else void shutdown(`received ${sig}`, 0, true);
    });
  }
  return done;
}

