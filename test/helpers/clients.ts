/**
 * The official SDK clients, 1.x and v2, behind one small interface so the same scripted session runs on both.
 * Each client answers server→client requests (sampling, elicitation, roots) the way a host would, and records
 * what the server sent it.
 */
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { WebSocket as NodeWebSocket } from 'ws';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { z } from 'zod';

const AnyResult = z.looseObject({});

export type Sdk = 'v1' | 'v2';

export type Target =
  | { kind: 'stdio'; command: string; args: string[]; env?: Record<string, string>; cwd?: string }
  | { kind: 'http'; url: string; headers?: Record<string, string> }
  | { kind: 'sse'; url: string }
  | { kind: 'ws'; url: string };

export interface CallOptions {
  onprogress?: (p: { progress: number; total?: number }) => void;
  signal?: AbortSignal;
  timeout?: number;
}

export interface Received {
  method: string;
  params: Record<string, unknown>;
}

export interface McpClient {
  sdk: Sdk;
  notifications: Received[];
  serverRequests: Received[];
  serverVersion(): { name?: string; version?: string } | undefined;
  /** The server's `capabilities`, as the client received them. */
  serverCapabilities(): Record<string, unknown> | undefined;
  /** The server's `instructions`, as the client received them. */
  instructions(): string | undefined;
  protocolVersion(): string | undefined;
  callTool(name: string, args?: Record<string, unknown>, opts?: CallOptions): Promise<Record<string, unknown>>;
  listTools(cursor?: string): Promise<Record<string, unknown>>;
  listResources(cursor?: string): Promise<Record<string, unknown>>;
  listResourceTemplates(): Promise<Record<string, unknown>>;
  readResource(uri: string): Promise<Record<string, unknown>>;
  subscribe(uri: string): Promise<unknown>;
  unsubscribe(uri: string): Promise<unknown>;
  listPrompts(): Promise<Record<string, unknown>>;
  getPrompt(name: string, args?: Record<string, string>): Promise<Record<string, unknown>>;
  complete(ref: Record<string, unknown>, argument: { name: string; value: string }, context?: Record<string, unknown>): Promise<Record<string, unknown>>;
  setLoggingLevel(level: string): Promise<unknown>;
  ping(): Promise<unknown>;
  /** Any request, result unvalidated (tasks, extensions). */
  request(method: string, params: Record<string, unknown>, opts?: CallOptions): Promise<Record<string, unknown>>;
  close(): Promise<void>;
  stderr: () => string;
}

export interface ConnectOptions {
  name?: string;
  roots?: { uri: string; name: string }[];
  /** v2 only: probe with server/discover first. */
  negotiation?: 'legacy' | 'auto';
  elicitation?: (params: Record<string, unknown>) => Record<string, unknown>;
}

export const SAMPLE_ROOTS = [{ uri: 'file:///tmp/warden-root', name: 'warden-root' }];

function samplingAnswer(params: Record<string, unknown>): Record<string, unknown> {
  const msgs = (params['messages'] as { content: { text?: string } }[] | undefined) ?? [];
  const last = msgs[msgs.length - 1]?.content?.text ?? '';
  return { role: 'assistant', content: { type: 'text', text: `sampled: ${last}` }, model: 'test-model', stopReason: 'endTurn' };
}

function elicitationAnswer(): Record<string, unknown> {
  return { action: 'accept', content: { name: 'Ada Lovelace', check: true, integer: 7 } };
}

export async function connectClient(sdk: Sdk, target: Target, opts: ConnectOptions = {}): Promise<McpClient> {
  const notifications: Received[] = [];
  const serverRequests: Received[] = [];
  const roots = opts.roots ?? SAMPLE_ROOTS;
  const elicit = opts.elicitation ?? (() => elicitationAnswer());
  const info = { name: opts.name ?? `warden-test-${sdk}`, version: '1.0.0' };
  const capabilities = { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } };
  let stderrText = '';

  if (sdk === 'v1') {
    const client = new ClientV1(info, { capabilities });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      serverRequests.push({ method: req.method, params: req.params as Record<string, unknown> });
      return samplingAnswer(req.params as Record<string, unknown>) as never;
    });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      serverRequests.push({ method: req.method, params: req.params as Record<string, unknown> });
      return elicit(req.params as Record<string, unknown>) as never;
    });
    client.setRequestHandler(ListRootsRequestSchema, async (req) => {
      serverRequests.push({ method: req.method, params: (req.params ?? {}) as Record<string, unknown> });
      return { roots };
    });
    for (const schema of [LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema]) {
      client.setNotificationHandler(schema, async (n) => {
        notifications.push({ method: n.method, params: (n.params ?? {}) as Record<string, unknown> });
      });
    }
    let transport;
    if (target.kind === 'stdio') {
      const t = new StdioV1({ command: target.command, args: target.args, env: target.env, cwd: target.cwd, stderr: 'pipe' });
      t.stderr?.on('data', (d: Buffer) => (stderrText += d.toString()));
      transport = t;
    } else if (target.kind === 'http') transport = new HttpV1(new URL(target.url), { requestInit: { headers: target.headers ?? {} } });
    else if (target.kind === 'ws') {
      // The SDK's WebSocket transport uses the global WebSocket, which Node 20 does not have without a flag.
      const g = globalThis as { WebSocket?: unknown };
      g.WebSocket ??= NodeWebSocket;
      transport = new WebSocketClientTransport(new URL(target.url));
    } else transport = new SSEClientTransport(new URL(target.url));
    let negotiated: string | undefined;
    const t = transport as { setProtocolVersion?: (v: string) => void };
    const original = t.setProtocolVersion?.bind(t);
    t.setProtocolVersion = (v: string) => {
      negotiated = v;
      original?.(v);
    };
    await client.connect(transport);
    const o = (opts2?: CallOptions) => (opts2 ? { onprogress: opts2.onprogress, signal: opts2.signal, timeout: opts2.timeout } : undefined);
    return {
      sdk,
      notifications,
      serverRequests,
      serverVersion: () => client.getServerVersion(),
      serverCapabilities: () => client.getServerCapabilities() as Record<string, unknown> | undefined,
      instructions: () => client.getInstructions(),
      protocolVersion: () => negotiated,
      callTool: (name, args, opts2) => client.callTool({ name, arguments: args ?? {} }, undefined, o(opts2)) as Promise<Record<string, unknown>>,
      listTools: (cursor) => client.listTools(cursor ? { cursor } : undefined) as Promise<Record<string, unknown>>,
      listResources: (cursor) => client.listResources(cursor ? { cursor } : undefined) as Promise<Record<string, unknown>>,
      listResourceTemplates: () => client.listResourceTemplates() as Promise<Record<string, unknown>>,
      readResource: (uri) => client.readResource({ uri }) as Promise<Record<string, unknown>>,
      subscribe: (uri) => client.subscribeResource({ uri }),
      unsubscribe: (uri) => client.unsubscribeResource({ uri }),
      listPrompts: () => client.listPrompts() as Promise<Record<string, unknown>>,
      getPrompt: (name, args) => client.getPrompt({ name, arguments: args }) as Promise<Record<string, unknown>>,
      complete: (ref, argument, context) => client.complete({ ref, argument, ...(context ? { context } : {}) } as never) as Promise<Record<string, unknown>>,
      setLoggingLevel: (level) => client.setLoggingLevel(level as never),
      ping: () => client.ping(),
      request: (method, params, opts2) => client.request({ method, params } as never, AnyResult as never, o(opts2)) as Promise<Record<string, unknown>>,
      close: () => client.close(),
      stderr: () => stderrText,
    };
  }

  const client = new ClientV2(info, { capabilities, versionNegotiation: { mode: opts.negotiation ?? 'legacy' } } as never);
  const c = client as unknown as {
    setRequestHandler(method: string, h: (req: { method: string; params: Record<string, unknown> }) => Promise<unknown>): void;
    setNotificationHandler(method: string, h: (n: { method: string; params?: Record<string, unknown> }) => void): void;
  };
  c.setRequestHandler('sampling/createMessage', async (req) => {
    serverRequests.push({ method: req.method, params: req.params });
    return samplingAnswer(req.params);
  });
  c.setRequestHandler('elicitation/create', async (req) => {
    serverRequests.push({ method: req.method, params: req.params });
    return elicit(req.params);
  });
  c.setRequestHandler('roots/list', async (req) => {
    serverRequests.push({ method: req.method, params: req.params ?? {} });
    return { roots };
  });
  for (const m of ['notifications/message', 'notifications/resources/updated', 'notifications/tools/list_changed']) {
    c.setNotificationHandler(m, (n) => notifications.push({ method: n.method, params: n.params ?? {} }));
  }
  let transport;
  if (target.kind === 'stdio') {
    const t = new StdioV2({ command: target.command, args: target.args, env: target.env, cwd: target.cwd, stderr: 'pipe' });
    t.stderr?.on('data', (d: Buffer) => (stderrText += d.toString()));
    transport = t;
  } else if (target.kind === 'http') transport = new HttpV2(new URL(target.url), { requestInit: { headers: target.headers ?? {} } });
  else throw new Error(`the v2 SDK has no ${target.kind} client transport`);
  await client.connect(transport as never);
  const o = (opts2?: CallOptions) => (opts2 ? { onprogress: opts2.onprogress, signal: opts2.signal, timeout: opts2.timeout } : undefined);
  const cl = client as unknown as Record<string, (...a: unknown[]) => Promise<Record<string, unknown>>>;
  return {
    sdk,
    notifications,
    serverRequests,
    serverVersion: () => client.getServerVersion() as { name?: string },
    serverCapabilities: () => (client as unknown as { getServerCapabilities(): Record<string, unknown> | undefined }).getServerCapabilities(),
    instructions: () => (client as unknown as { getInstructions(): string | undefined }).getInstructions(),
    protocolVersion: () => client.getNegotiatedProtocolVersion(),
    callTool: (name, args, opts2) => cl['callTool']!.call(client, { name, arguments: args ?? {} }, o(opts2)),
    listTools: (cursor) => cl['listTools']!.call(client, cursor ? { cursor } : undefined),
    listResources: (cursor) => cl['listResources']!.call(client, cursor ? { cursor } : undefined),
    listResourceTemplates: () => cl['listResourceTemplates']!.call(client),
    readResource: (uri) => cl['readResource']!.call(client, { uri }),
    subscribe: (uri) => cl['subscribeResource']!.call(client, { uri }),
    unsubscribe: (uri) => cl['unsubscribeResource']!.call(client, { uri }),
    listPrompts: () => cl['listPrompts']!.call(client),
    getPrompt: (name, args) => cl['getPrompt']!.call(client, { name, arguments: args }),
    complete: (ref, argument, context) => cl['complete']!.call(client, { ref, argument, ...(context ? { context } : {}) }),
    setLoggingLevel: (level) => cl['setLoggingLevel']!.call(client, level),
    ping: () => cl['ping']!.call(client),
    request: (method, params, opts2) => cl['request']!.call(client, { method, params }, AnyResult, o(opts2)),
    close: () => client.close(),
    stderr: () => stderrText,
  };
}

/** Polls until `check` holds or the time runs out. */
export async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
