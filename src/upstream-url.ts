/**
 * Connections to a URL upstream (Streamable HTTP, SSE or WebSocket), with the credentials it needs: a person's
 * OAuth login under `wrap`, or the configured `auth` (bearer, header, client credentials, token exchange).
 * Loaded by `upstreamFactory` only when a server has a URL.
 */
import path from 'node:path';
import type { UpstreamDeps } from './assemble.js';
import { OAuthLogin } from './auth/login.js';
import { TokenStore } from './auth/token-store.js';
import { upstreamCredentials } from './auth/upstream.js';
import type { ServerConfig } from './config/config.js';
import { stateDir } from './config/paths.js';
import { ConfigError } from './errors.js';
import type { Principal } from './pipeline/types.js';
import { HttpUpstream } from './transports/http-client.js';
import type { Upstream } from './transports/types.js';
import { WsUpstream } from './transports/ws-client.js';

export function urlUpstreamFactory(server: ServerConfig, url: string, deps: UpstreamDeps): (principal?: Principal) => Upstream {
  const websocket = server.transport === 'websocket' || /^wss?:/i.test(url);
  const baseDir = deps.baseDir ?? process.cwd();
  const a = server.raw['auth'] as Record<string, unknown> | undefined;
  // wrap: a person is at the host, so a server that asks for a login gets one (unless auth says otherwise).
  const login =
    deps.mode === 'wrap' && (a === undefined || a['type'] === 'oauth')
      ? new OAuthLogin({
          // OAuth names resources by their http(s) URL; a WebSocket server's is the same address.
          serverUrl: url.replace(/^ws(s?):/i, 'http$1:'),
          server: server.name,
          clientId: a?.['client_id'] as string | undefined,
          clientSecret: a?.['client_secret'] as string | undefined,
          scope: a?.['scope'] as string | undefined,
          redirectPort: a?.['redirect_port'] as number | undefined,
          allowPrivate: a?.['allow_private_networks'] === true,
          store: new TokenStore(path.join(stateDir(), 'tokens')),
          log: deps.log,
        })
      : undefined;
  if (deps.mode === 'serve' && a?.['type'] === 'oauth') throw new ConfigError(`servers.${server.name}.auth: type oauth (a person's login) works with wrap only; serve needs bearer, header, client_credentials or token_exchange`);
  return (principal?: Principal) => {
    const provider = login ?? upstreamCredentials(server, { mode: deps.mode, log: deps.log, baseDir, principal });
    const common = {
      url,
      headers: server.headers,
      maxMessageBytes: deps.maxMessageBytes,
      log: deps.log,
      server: server.name,
      credentials: provider ? (caller?: Principal) => provider.headers(caller) : undefined,
      unauthorized: provider?.unauthorized ? (c: string | undefined, p?: Principal) => provider.unauthorized!(c, p) : undefined,
    };
    if (websocket) return new WsUpstream({ ...common, pingIntervalMs: deps.wsPingIntervalMs });
    return new HttpUpstream({ ...common, transport: server.transport ?? 'streamable-http', requestTimeoutMs: deps.requestTimeoutMs });
  };
}
