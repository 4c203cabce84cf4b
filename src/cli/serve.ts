/**
 * `mcp-warden serve`: the HTTP gateway. Listens on 127.0.0.1 unless told otherwise, and refuses a non-loopback
 * address without `auth` unless `--insecure-no-auth` is given.
 */
import { assemble, protectedPaths, upstreamFactory } from '../assemble.js';
import { findConfig } from '../config/config.js';
import { ConfigError, StartError, UsageError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { Gateway } from '../proxy/gateway.js';
import { isLoopbackHost } from '../transports/http-server.js';
import { clientAddress, proxySet } from '../transports/proxies.js';
import type { Upstream } from '../transports/types.js';
import path from 'node:path';
import { authSettings, ResourceServer } from '../auth/resource-server.js';
import type { Principal } from '../pipeline/types.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../ops/metrics.js';
import { configPath } from '../config/paths.js';
import { setBusyPoll } from '../transports/busy.js';

export interface ServeOptions {
  config?: string;
  insecureNoAuth?: boolean;
  host?: string;
  port?: number;
}

export async function runServe(o: ServeOptions): Promise<number> {
  const { config } = findConfig(o.config);
  if (config.servers.length === 0) throw new ConfigError(`${config.file ?? 'configuration'}: serve needs at least one entry under "servers"`, config.file);
  if (o.host) config.listen.host = o.host;
  if (o.port !== undefined) {
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new UsageError(`--port must be 0-65535`);
    config.listen.port = o.port;
  }
  const hasAuth = config.raw['auth'] !== undefined;
  if (!isLoopbackHost(config.listen.host) && !hasAuth && !o.insecureNoAuth) {
    throw new UsageError(
      `refusing to listen on ${config.listen.host} without "auth": anyone who reaches it could use every server. ` +
        'Configure auth, listen on 127.0.0.1, or pass --insecure-no-auth if something else authenticates callers.',
    );
  }
  const log = createLogger({ level: config.log.level, file: config.log.file, pretty: false });
  setBusyPoll(config.limits.busyPollUs);
  const mc = (config.raw['metrics'] ?? {}) as { enabled?: boolean; remote?: boolean };
  let gateway: Gateway | undefined;
  let metrics: Metrics | undefined;
  if (mc.enabled !== false) {
    const { Metrics } = await import('../ops/metrics.js');
    metrics = new Metrics({ servers: config.servers.map((s) => s.name), sessions: (s) => gateway?.sessionCount(s) ?? 0 });
  }
  const assembly = assemble(config, { mode: 'serve', log, outerStages: metrics ? [metrics.stage()] : [] });
  if (metrics && assembly.audit) metrics.attachAudit(assembly.audit.writer);
  const events = metrics ? metrics.wrapEvents(assembly.events) : assembly.events;
  const upstreams = new Map<string, (principal?: Principal) => Upstream>();
  const baseDir = config.file ? path.dirname(config.file) : process.cwd();
  const hide = protectedPaths(config);
  for (const s of config.servers) {
    upstreams.set(s.name, await upstreamFactory(s, { mode: 'serve', log, maxMessageBytes: config.limits.maxMessageBytes, requestTimeoutMs: config.limits.requestTimeoutMs, wsPingIntervalMs: config.limits.wsPingIntervalMs, baseDir, hide, scrub: assembly.scrub }));
  }
  const settings = authSettings(config);
  if (settings?.jwksFile) settings.jwksFile = configPath(settings.jwksFile, baseDir);
  const proxies = config.listen.trustedProxies.length ? proxySet(config.listen.trustedProxies) : undefined;
  const sourceOf = (req: IncomingMessage): string => clientAddress(req, proxies);
  const rs = settings ? new ResourceServer(settings, config.servers, { log, events, publicUrl: config.listen.publicUrl, clientAddress: sourceOf }) : undefined;
  gateway = new Gateway({
    config,
    pipeline: assembly.pipeline,
    log,
    upstreams,
    events,
    hooks: { readiness: () => assembly.readiness(), ...rs?.hooks(), metrics: metrics ? (req, res) => serveMetrics(metrics!, !!mc.remote, req, res) : undefined },
    onListening: (base) => rs?.setBoundAddress(base),
    clientAddress: sourceOf,
  });
  let addr: AddressInfo;
  try {
    addr = await gateway.listen(config.listen.host, config.listen.port);
  } catch (e) {
    // Where the start ends: the audit trail opened above is flushed and closed, and the reason is said in words.
    await assembly.close().catch(() => undefined);
    throw new StartError(listenTrouble(config.listen.host, config.listen.port, e, config.file));
  }
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const base = `http://${shown}:${addr.port}`;
  if (gateway.anyHostAccepted) log.warn({}, 'listening on a non-loopback address with no public_url or allowed_hosts: the Host header is not checked');
  log.info({ url: base, servers: config.servers.map((s) => s.name), auth: rs ? 'oauth' : 'none' }, 'listening');
  // Discovery and keys load in the background; until they do, requests get 503 (never an unchecked pass).
  rs?.start().catch((e: Error) => log.error({ err: e.message }, 'authorization server not reachable yet; requests are refused until it is'));
  process.stderr.write(
    `mcp-warden serving on ${base}\n${config.servers.map((s) => `  ${s.name}: ${base}/${s.name}/mcp${config.servers.length === 1 ? ` (also ${base}/mcp)` : ''}`).join('\n')}\n`,
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'draining and shutting down');
      // Stop taking requests, let in-flight calls finish, end sessions and children, then flush the audit trail
      // and sign a final checkpoint (assembly.close → the writer's close).
      void gateway!
        .close()
        .then(() => assembly.close())
        .then(() => log.info({}, 'stopped: audit trail flushed and checkpointed'))
        .finally(() => resolve(0));
    };
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => stop(sig));
    // SIGHUP is a reload to a service manager (systemctl reload) and what a closing terminal sends; Node's default
    // for it ended the gateway at once: no drain, no final checkpoint. It reloads the policy files now (they are also
    // reloaded when they change) and the gateway keeps serving.
    process.on('SIGHUP', () => {
      const inForce = assembly.policy.reload();
      log.info({ signal: 'SIGHUP', policy_version: assembly.policy.policy.version, reloaded: inForce }, inForce ? 'SIGHUP: policy files read again; still serving' : 'SIGHUP: a policy file does not load; the last good policy stays in force; still serving');
    });
  });
}

/** Why the gateway could not listen, and which setting to change. */
function listenTrouble(host: string, port: number, e: unknown, file: string | undefined): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const setting = file ? ` in ${file}` : '';
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: another process is listening there (EADDRINUSE); choose another listen.port${setting}, or --port`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no network interface of this machine has that address (EADDRNOTAVAIL); check listen.host${setting}, or --host`;
  if (code === 'EACCES') return `cannot listen on ${where}: not permitted (EACCES; ports below 1024 need privileges); choose another listen.port${setting}, or --port`;
  return `cannot listen on ${where}: ${(e as Error)?.message ?? String(e)}`;
}

/** Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever address it arrived from. */
const FORWARDED = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host', 'via'];

/**
 * `/metrics`: loopback scrapers only, unless `metrics.remote: true` (then protect it at the network). A TLS
 * terminator on the same host (the hardening guide's setup) connects from loopback for every client on the
 * internet, so a request it forwarded is not a loopback scraper.
 */
async function serveMetrics(m: Metrics, remote: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const peer = req.socket.remoteAddress ?? '';
  if (!remote && (!isLoopbackHost(peer.replace(/^::ffff:/, '')) || FORWARDED.some((h) => req.headers[h] !== undefined))) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end('metrics are served to loopback clients only, not through a reverse proxy (metrics.remote: true to change)\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET' }).end();
    return;
  }
  const { contentType, body } = await m.text();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
}
