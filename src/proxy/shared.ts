/**
 * `isolation: shared`: one upstream child serves every session of a server. Opt-in, because a stdio server was not
 * written to tell callers apart; what the proxy can do it does:
 *  - sessions draw request ids from one counter, so responses route by id without rewriting;
 *  - progress tokens are prefixed with the session id (the Session does it) and route back by that prefix;
 *  - the legacy handshake happens once: later `initialize` calls get the first answer, `notifications/initialized`
 *    is sent once, `logging/setLevel` is answered per session and not forwarded;
 *  - a server request or log line with no known owner goes to the session that most recently had a request in
 *    flight (or is dropped when none has); `resources/updated` goes to the sessions that subscribed to the URI;
 *    list-changed notifications go to everyone.
 * Policy, redaction and audit still run per session.
 */
import type { Logger } from '../log/logger.js';
import { isObject } from '../protocol/jsonrpc.js';
import type { Upstream, UpstreamCloseInfo, UpstreamSendOptions } from './../transports/types.js';

interface Parsed {
  id?: unknown;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: unknown;
}

export class SharedUpstream {
  private real: Upstream | undefined;
  private starting: Promise<void> | undefined;
  private readonly ports = new Set<SharedPort>();
  private readonly requests = new Map<number, SharedPort>();
  private readonly serverRequests = new Map<string, SharedPort>();
  private nextId = 1;
  private initializeAnswer: Record<string, unknown> | undefined;
  private initializeWaiters: ((r: Record<string, unknown> | undefined) => void)[] = [];
  private initializeId: number | undefined;
  private initializedSent = false;
  private lastActive: SharedPort | undefined;

  constructor(private readonly make: () => Upstream, private readonly log: Logger) {}

  allocateId = (): number => this.nextId++;

  port(): SharedPort {
    const p = new SharedPort(this);
    this.ports.add(p);
    return p;
  }

  get size(): number {
    return this.ports.size;
  }

  async start(): Promise<void> {
    if (this.real) return this.starting;
    const up = this.make();
    this.real = up;
    up.onmessage = (text, bytes, related) => this.fromServer(text, bytes, related);
    up.onbadmessage = (reason, prefix, bytes) => {
      for (const p of this.ports) p.onbadmessage?.(reason, prefix, bytes);
    };
    up.onrequestfailed = (id, failure) => this.requests.get(id)?.onrequestfailed?.(id, failure);
    up.onclose = (info: UpstreamCloseInfo) => {
      this.real = undefined;
      this.starting = undefined;
      this.initializeAnswer = undefined;
      this.initializedSent = false;
      for (const p of [...this.ports]) p.onclose?.(info);
    };
    // A start that fails (the command not there yet, a secret file being rotated) is forgotten, so the next session
    // tries again: a process that never ran closes nothing, and every later session was refused until a restart.
    this.starting = up.start().catch((e: unknown) => {
      if (this.real === up) {
        this.real = undefined;
        this.starting = undefined;
      }
      throw e;
    });
    return this.starting;
  }

  get pid(): number | undefined {
    return this.real?.pid;
  }

  get label(): string {
    return this.real?.label ?? 'shared';
  }

  send(port: SharedPort, text: string, o: UpstreamSendOptions): boolean {
    const real = this.real;
    if (!real) return true;
    if (o.kind === 'request' && o.upId !== undefined) {
      if (o.method === 'initialize') {
        if (this.initializeAnswer) {
          this.answer(port, o.upId, this.initializeAnswer);
          return true;
        }
        if (this.initializeId !== undefined) {
          this.initializeWaiters.push((r) => (r ? this.answer(port, o.upId!, r) : port.onrequestfailed?.(o.upId!, { code: -32011, message: 'The shared upstream refused initialize' })));
          return true;
        }
        this.initializeId = o.upId;
      }
      if (o.method === 'logging/setLevel') {
        // Per session: the shared server's level is not one caller's to change.
        this.answer(port, o.upId, {});
        return true;
      }
      if (o.method === 'resources/subscribe' || o.method === 'resources/unsubscribe') {
        const uri = uriOf(text);
        if (uri) (o.method === 'resources/subscribe' ? port.subscriptions.add(uri) : port.subscriptions.delete(uri));
      }
      this.requests.set(o.upId, port);
      this.lastActive = port;
    }
    if (o.kind === 'notification' && o.method === 'notifications/initialized') {
      if (this.initializedSent) return true;
      this.initializedSent = true;
    }
    return real.send(text, o);
  }

  private answer(port: SharedPort, id: number, result: Record<string, unknown>): void {
    const text = JSON.stringify({ jsonrpc: '2.0', id, result });
    setImmediate(() => port.onmessage?.(text, Buffer.byteLength(text), undefined));
  }

  done(id: number): void {
    this.requests.delete(id);
    this.real?.requestDone?.(id);
  }

  private owner(): SharedPort | undefined {
    const candidates = new Set(this.requests.values());
    if (this.lastActive && candidates.has(this.lastActive)) return this.lastActive;
    return candidates.values().next().value;
  }

  private fromServer(text: string, bytes: number, related: number | undefined): void {
    let m: Parsed;
    try {
      m = JSON.parse(text) as Parsed;
    } catch {
      // The sessions' own parsing reports it; any one of them will do.
      this.owner()?.onmessage?.(text, bytes, related);
      return;
    }
    if (!isObject(m)) return;
    if (m.method === undefined) {
      if (typeof m.id === 'number') {
        if (m.id === this.initializeId) {
          this.initializeId = undefined;
          const r = isObject(m.result) ? m.result : undefined;
          this.initializeAnswer = r;
          for (const w of this.initializeWaiters.splice(0)) w(r);
        }
        const port = this.requests.get(m.id);
        port?.onmessage?.(text, bytes, related);
      }
      return;
    }
    if (m.id !== undefined) {
      const port = this.owner();
      if (!port) {
        this.log.warn({ method: m.method }, 'shared upstream: a server request with no session to answer it');
        this.real?.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: 'No client session is available for this request' } }), { kind: 'response', method: undefined, upId: undefined, era: 'legacy' });
        return;
      }
      this.serverRequests.set(JSON.stringify(m.id), port);
      port.onmessage?.(text, bytes, related);
      return;
    }
    const p = isObject(m.params) ? m.params : {};
    switch (m.method) {
      case 'notifications/progress': {
        const token = String(p['progressToken'] ?? '');
        for (const port of this.ports) if (port.sessionId && token.startsWith(`${port.sessionId}:`)) port.onmessage?.(text, bytes, related);
        return;
      }
      case 'notifications/cancelled': {
        const port = this.serverRequests.get(JSON.stringify(p['requestId']));
        port?.onmessage?.(text, bytes, related);
        return;
      }
      case 'notifications/resources/updated': {
        for (const port of this.ports) if (port.subscriptions.has(String(p['uri']))) port.onmessage?.(text, bytes, related);
        return;
      }
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        for (const port of this.ports) port.onmessage?.(text, bytes, related);
        return;
      default:
        this.owner()?.onmessage?.(text, bytes, related);
    }
  }

  async detach(port: SharedPort): Promise<void> {
    this.ports.delete(port);
    for (const [id, p] of this.requests) if (p === port) this.requests.delete(id);
    for (const [id, p] of this.serverRequests) if (p === port) this.serverRequests.delete(id);
    if (this.lastActive === port) this.lastActive = undefined;
    if (this.ports.size === 0 && this.real) {
      const r = this.real;
      this.real = undefined;
      r.onclose = undefined;
      this.initializeAnswer = undefined;
      this.initializedSent = false;
      await r.close();
    }
  }
}

function uriOf(text: string): string | undefined {
  try {
    const m = JSON.parse(text) as Parsed;
    return typeof m.params?.['uri'] === 'string' ? m.params['uri'] : undefined;
  } catch {
    return undefined;
  }
}

/** One session's view of the shared upstream. */
export class SharedPort implements Upstream {
  readonly kind = 'stdio' as const;
  onmessage?: Upstream['onmessage'];
  onbadmessage?: Upstream['onbadmessage'];
  onrequestfailed?: Upstream['onrequestfailed'];
  onclose?: Upstream['onclose'];
  ondrain?: () => void;
  sessionId: string | undefined;
  readonly subscriptions = new Set<string>();

  constructor(private readonly hub: SharedUpstream) {}

  get label(): string {
    return `${this.hub.label} (shared)`;
  }

  get pid(): number | undefined {
    return this.hub.pid;
  }

  start(): Promise<void> {
    return this.hub.start();
  }

  send(text: string, o: UpstreamSendOptions): boolean {
    return this.hub.send(this, text, o);
  }

  requestDone(upId: number): void {
    this.hub.done(upId);
  }

  close(): Promise<void> {
    return this.hub.detach(this);
  }
}
