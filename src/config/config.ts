/**
 * The configuration file: lookup (SPEC §2), validation against the shipped JSON Schema, defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sinkTargetProblem } from '../audit/sink-target.js';
import { ConfigError } from '../errors.js';
import { sendableHeaderName, sendableHeaderValue } from '../protocol/headers.js';
import { BUSY_POLL_US } from '../transports/busy.js';
import { proxySet } from '../transports/proxies.js';
import { configPath, packagePath, userConfigFile } from './paths.js';
import { keyNode, lineOf, readYamlFile, validateYaml, type LoadedYaml } from './yaml.js';

export interface ServerConfig {
  name: string;
  command?: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  url?: string;
  transport?: 'streamable-http' | 'sse' | 'websocket';
  headers: Record<string, string>;
  isolation: 'per-session' | 'shared';
  maxSessions: number;
  /** Sessions one principal may hold at once (serve); unset: maxSessions. */
  maxSessionsPerPrincipal?: number;
  maxInflight: number;
  idleTimeoutMs: number;
  shutdownGraceMs: number;
  maxRestarts: number;
  /** `max_restarts` counts the restarts of this window (ms): a child that dies now and then keeps being restarted. */
  restartWindowMs: number;
  /** The raw entry, for stages that read their own keys. */
  raw: Record<string, unknown>;
}

export interface Limits {
  maxMessageBytes: number;
  requestTimeoutMs: number;
  maxJsonDepth: number;
  maxHeaderBytes: number;
  /** WebSocket keep-alive: a ping this often, and no pong by the next one ends the connection (0 = off). */
  wsPingIntervalMs: number;
  /** Busy-polling window after each stdio line written (µs; 0 = off): transports/busy.ts. */
  busyPollUs: number;
}

export interface ListenConfig {
  host: string;
  port: number;
  publicUrl: string | undefined;
  allowedHosts: string[];
  allowedOrigins: string[];
  /** Reverse proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client in the audit trail. */
  trustedProxies: string[];
}

export interface WardenConfig {
  /** The file it came from, or undefined for built-in defaults. */
  file: string | undefined;
  servers: ServerConfig[];
  listen: ListenConfig;
  limits: Limits;
  localIdentity: { sub: string; scopes: string[] };
  log: { level?: string; file?: string };
  /** The validated document, for sections later stages read. */
  raw: Record<string, unknown>;
  /**
   * The environment variables the config file's `${VAR}` read: mcp-warden's own credentials (an audit sink's token,
   * the redaction hash key). `wrap` keeps them from the child unless a server's own `env` passes one on.
   */
  envUsed: string[];
}

const shipped = new Map<string, object>();
/** A schema from the package's schemas/ folder (parsed once). */
export function shippedSchema(name: string): object {
  let s = shipped.get(name);
  if (!s) shipped.set(name, (s = JSON.parse(readFileSync(packagePath('schemas', name), 'utf8')) as object));
  return s;
}

let schemaCache: object | undefined;
export function configSchema(): object {
  schemaCache ??= JSON.parse(readFileSync(packagePath('schemas', 'config.schema.json'), 'utf8')) as object;
  return schemaCache;
}

type Raw = Record<string, unknown>;

function obj(v: unknown): Raw {
  return typeof v === 'object' && v !== null ? (v as Raw) : {};
}

function num(v: unknown, d: number): number {
  return typeof v === 'number' ? v : d;
}

export function defaultLocalSub(): string {
  let user = 'user';
  try {
    user = os.userInfo().username || user;
  } catch {
    /* no passwd entry (containers) */
  }
  return `local:${user}`;
}

export function buildConfig(value: unknown, file: string | undefined): WardenConfig {
  const raw = obj(value);
  const servers: ServerConfig[] = Object.entries(obj(raw['servers'])).map(([name, v]) => {
    const s = obj(v);
    return {
      name,
      command: s['command'] as string | undefined,
      args: (s['args'] as string[] | undefined) ?? [],
      env: (s['env'] as Record<string, string> | undefined) ?? {},
      cwd: s['cwd'] as string | undefined,
      url: s['url'] as string | undefined,
      transport: s['transport'] as ServerConfig['transport'],
      headers: (s['headers'] as Record<string, string> | undefined) ?? {},
      isolation: (s['isolation'] as ServerConfig['isolation']) ?? 'per-session',
      maxSessions: num(s['max_sessions'], 100),
      maxSessionsPerPrincipal: num(s['max_sessions_per_principal'], num(s['max_sessions'], 100)),
      maxInflight: num(s['max_inflight'], 64),
      idleTimeoutMs: num(s['idle_timeout_s'], 900) * 1000,
      shutdownGraceMs: num(s['shutdown_grace_ms'], 2000),
      maxRestarts: num(s['max_restarts'], 3),
      restartWindowMs: num(s['restart_window_s'], 600) * 1000,
      raw: s,
    };
  });
  const listen = obj(raw['listen']);
  const limits = obj(raw['limits']);
  const li = obj(raw['local_identity']);
  const log = obj(raw['log']);
  return {
    file,
    envUsed: [],
    servers,
    listen: {
      host: (listen['host'] as string | undefined) ?? '127.0.0.1',
      port: num(listen['port'], 8080),
      publicUrl: listen['public_url'] as string | undefined,
      allowedHosts: (listen['allowed_hosts'] as string[] | undefined) ?? [],
      allowedOrigins: (listen['allowed_origins'] as string[] | undefined) ?? [],
      trustedProxies: (listen['trusted_proxies'] as string[] | undefined) ?? [],
    },
    limits: {
      maxMessageBytes: num(limits['max_message_bytes'], 16 * 1024 * 1024),
      requestTimeoutMs: num(limits['request_timeout_s'], 120) * 1000,
      maxJsonDepth: num(limits['max_json_depth'], 64),
      maxHeaderBytes: num(limits['max_header_bytes'], 16 * 1024),
      wsPingIntervalMs: num(limits['ws_ping_interval_s'], 30) * 1000,
      busyPollUs: num(limits['busy_poll_us'], BUSY_POLL_US),
    },
    localIdentity: { sub: (li['sub'] as string | undefined) ?? defaultLocalSub(), scopes: (li['scopes'] as string[] | undefined) ?? [] },
    log: { level: log['level'] as string | undefined, file: log['file'] as string | undefined },
    raw,
  };
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): WardenConfig {
  const loaded: LoadedYaml = readYamlFile(file, env);
  if (loaded.value === null || loaded.value === undefined) loaded.value = {};
  validateYaml(loaded, configSchema(), ConfigError, [shippedSchema('redaction.schema.json')]);
  checkServers(loaded);
  const cfg = buildConfig(loaded.value, path.resolve(file));
  // What mcp-warden's own settings read; a server's env (servers.<name>.env) is meant for that server.
  cfg.envUsed = [...new Set(loaded.envRefs.filter((r) => !(r.at[0] === 'servers' && r.at[2] === 'env')).map((r) => r.name))];
  resolveRelativePaths(cfg);
  return cfg;
}

/** Rules the schema cannot say clearly: a server is a command or a URL, never both; where the audit sink may send; what a proxy address is. */
function checkServers(loaded: LoadedYaml): void {
  const servers = obj(obj(loaded.value)['servers']);
  const problems: string[] = [];
  for (const [name, v] of Object.entries(servers)) {
    const s = obj(v);
    const line = lineOf(loaded, keyNode(loaded.doc, ['servers'], name));
    const local = ['command', 'args', 'cwd'].filter((k) => k in s);
    if (s['url'] === undefined && s['command'] === undefined) problems.push(`${loaded.file}:${line}: servers.${name}: needs "command" (a local server) or "url" (a remote one)`);
    else if (s['url'] !== undefined && local.length > 0) problems.push(`${loaded.file}:${line}: servers.${name}: "url" cannot be combined with ${local.map((k) => `"${k}"`).join(', ')}`);
    else if (s['url'] === undefined && (s['transport'] !== undefined || s['headers'] !== undefined || s['auth'] !== undefined)) problems.push(`${loaded.file}:${line}: servers.${name}: "transport", "headers" and "auth" apply only to a "url" server`);
    if (s['sandbox'] !== undefined && s['command'] === undefined) problems.push(`${loaded.file}:${line}: servers.${name}: "sandbox" applies only to a "command" server`);
    if (obj(s['sandbox'])['type'] === 'user' && obj(s['sandbox'])['uid'] === undefined) problems.push(`${loaded.file}:${line}: servers.${name}.sandbox: type user needs "uid"`);
    const a = obj(s['auth']);
    const one = (keys: string[]) => keys.filter((k) => a[k] !== undefined).length === 1;
    if (a['type'] === 'bearer' && !one(['token', 'token_file'])) problems.push(`${loaded.file}:${line}: servers.${name}.auth: bearer needs exactly one of "token" or "token_file"`);
    if (a['type'] === 'header' && !one(['value', 'value_file'])) problems.push(`${loaded.file}:${line}: servers.${name}.auth: header needs exactly one of "value" or "value_file"`);
    if ((a['type'] === 'client_credentials' || a['type'] === 'token_exchange') && a['issuer'] === undefined && a['token_endpoint'] === undefined) problems.push(`${loaded.file}:${line}: servers.${name}.auth: ${String(a['type'])} needs "issuer" or "token_endpoint"`);
    // Sent on every request to the server: Node refuses a line break in a header at the first one, after start.
    for (const [h, v] of Object.entries(obj(s['headers']))) {
      if (!sendableHeaderName(h)) problems.push(`${loaded.file}:${line}: servers.${name}.headers: ${JSON.stringify(h.slice(0, 64))} is not an HTTP header name`);
      else if (typeof v === 'string' && !sendableHeaderValue(v)) problems.push(`${loaded.file}:${line}: servers.${name}.headers: the value of ${h} cannot be sent as an HTTP header (a line break or a character past U+00FF)`);
    }
    for (const k of ['token', 'value']) {
      if (typeof a[k] === 'string' && !sendableHeaderValue(a[k])) problems.push(`${loaded.file}:${line}: servers.${name}.auth.${k} cannot be sent as an HTTP header (a line break or a character past U+00FF)`);
    }
    if (typeof s['url'] === 'string' && /^wss?:/.test(s['url']) && s['transport'] !== undefined && s['transport'] !== 'websocket') problems.push(`${loaded.file}:${line}: servers.${name}: a ws:// url needs transport: websocket`);
    if (typeof s['url'] === 'string' && /^https?:/.test(s['url']) && s['transport'] === 'websocket') problems.push(`${loaded.file}:${line}: servers.${name}: transport websocket needs a ws:// or wss:// url`);
  }
  const sink = obj(obj(obj(loaded.value)['audit'])['sink']);
  for (const kind of ['syslog', 'https'] as const) {
    const problem = typeof sink[kind] === 'string' ? sinkTargetProblem(kind, sink[kind]) : undefined;
    if (problem) problems.push(`${loaded.file}:${lineOf(loaded, keyNode(loaded.doc, ['audit', 'sink'], kind))}: audit.sink.${kind} ${problem}`);
  }
  if (sink['syslog'] !== undefined && sink['https'] !== undefined) problems.push(`${loaded.file}:${lineOf(loaded, keyNode(loaded.doc, ['audit'], 'sink'))}: audit.sink: one of "syslog" or "https", not both`);
  const proxies = obj(obj(loaded.value)['listen'])['trusted_proxies'];
  for (const entry of Array.isArray(proxies) ? proxies.filter((p): p is string => typeof p === 'string') : []) {
    try {
      proxySet([entry]);
    } catch (e) {
      problems.push(`${loaded.file}:${lineOf(loaded, keyNode(loaded.doc, ['listen'], 'trusted_proxies'))}: listen.trusted_proxies: ${(e as Error).message}`);
    }
  }
  const auth = obj(obj(loaded.value)['auth']);
  if (obj(loaded.value)['auth'] !== undefined && !['issuer', 'jwks_uri', 'jwks_file', 'introspection'].some((k) => auth[k] !== undefined)) {
    problems.push(`${loaded.file}:${lineOf(loaded, keyNode(loaded.doc, [], 'auth'))}: auth: needs "issuer", "jwks_uri", "jwks_file" or "introspection" to check tokens with`);
  }
  if (problems.length) {
    const m = /:(\d+):/.exec(problems[0]!);
    throw new ConfigError(problems.join('\n'), loaded.file, m ? Number(m[1]) : undefined);
  }
}

/** Paths in a config file are relative to that file (`~/` is the home directory). */
function resolveRelativePaths(cfg: WardenConfig): void {
  if (!cfg.file) return;
  const dir = path.dirname(cfg.file);
  for (const s of cfg.servers) if (s.cwd) s.cwd = configPath(s.cwd, dir);
  if (cfg.log.file) cfg.log.file = configPath(cfg.log.file, dir);
}

export type ConfigSource = 'flag' | 'env' | 'user' | 'none';

/**
 * SPEC §2 lookup: `--config`, else `$MCP_WARDEN_CONFIG`, else the user's config file. Never the current
 * directory. A missing explicit file is an error; a missing user file means built-in defaults.
 */
export function findConfig(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { config: WardenConfig; source: ConfigSource } {
  if (flag) {
    if (!existsSync(flag)) throw new ConfigError(`${flag}: config file not found`, flag);
    return { config: loadConfigFile(flag, env), source: 'flag' };
  }
  const fromEnv = env['MCP_WARDEN_CONFIG'];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new ConfigError(`${fromEnv}: config file not found (from MCP_WARDEN_CONFIG)`, fromEnv);
    return { config: loadConfigFile(fromEnv, env), source: 'env' };
  }
  const user = userConfigFile();
  if (existsSync(user)) return { config: loadConfigFile(user, env), source: 'user' };
  return { config: buildConfig({}, undefined), source: 'none' };
}
