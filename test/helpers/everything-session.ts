/**
 * One scripted session against server-everything, covering what a transparent proxy must carry: tools
 * (structured content, resource links, progress, cancellation, tasks), resources (all pages, read, templates,
 * subscribe), prompts, completion, logging, and the server→client round trips (sampling, elicitation, roots).
 * The transcript is normalised (timestamps) so runs can be compared.
 */
import { until, type McpClient } from './clients.js';

type T = Record<string, unknown>;

async function allPages(list: (cursor?: string) => Promise<T>, key: string): Promise<{ items: unknown[]; pages: number }> {
  const items: unknown[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list(cursor);
    pages++;
    items.push(...((page[key] as unknown[]) ?? []));
    cursor = page['nextCursor'] as string | undefined;
  } while (cursor && pages < 50);
  return { items, pages };
}

/** Timestamps vary between runs, also inside base64 blobs. */
export function normalize<V>(v: V): V {
  const decoded = JSON.stringify(v, (k, val: unknown) =>
    k === 'blob' && typeof val === 'string' ? `base64:${Buffer.from(val, 'base64').toString('utf8')}` : val,
  );
  return JSON.parse(
    decoded
      .replace(/\b\d{1,2}:\d{2}:\d{2}(\s?[AP]M)?\b/g, '<time>')
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<iso>'),
  ) as V;
}

export async function everythingSession(c: McpClient): Promise<T> {
  const t: T = {};
  t['server'] = c.serverVersion()?.name;
  t['tools'] = await allPages((cur) => c.listTools(cur), 'tools');
  t['echo'] = await c.callTool('echo', { message: 'héllo "wörld" \u2028 <b>' });
  t['structured'] = await c.callTool('get-structured-content', { location: 'Chicago' });
  t['links'] = await c.callTool('get-resource-links', { count: 4 });
  t['annotated'] = await c.callTool('get-annotated-message', { messageType: 'error', includeImage: true });
  t['image'] = await c.callTool('get-tiny-image', {});
  t['sum'] = await c.callTool('get-sum', { a: 2, b: 40.5 });
  t['badArgs'] = await c.callTool('get-sum', { a: 'two' }).catch((e: Error) => ({ thrown: e.message.replace(/\s+/g, ' ').slice(0, 60) }));

  const progress: number[] = [];
  t['long'] = await c.callTool('trigger-long-running-operation', { duration: 0.6, steps: 3 }, { onprogress: (p) => progress.push(p.progress) });
  // The server sends its last progress notification without waiting for it, so it may trail the response.
  t['progress'] = progress.length > 0 && progress.every((p, i) => i === 0 || p > progress[i - 1]!);

  const ac = new AbortController();
  const cancelled = c.callTool('trigger-long-running-operation', { duration: 2, steps: 4 }, { signal: ac.signal, onprogress: () => ac.abort() });
  t['cancelled'] = await cancelled.then(
    () => 'completed',
    () => 'aborted',
  );
  t['afterCancel'] = await c.callTool('echo', { message: 'still here' });

  const task = await c.request('tools/call', { name: 'simulate-research-query', arguments: { topic: 'proxies' }, task: { ttl: 60_000 } });
  const taskId = (task['task'] as { taskId: string }).taskId;
  let status = '';
  for (let i = 0; i < 100 && status !== 'completed' && status !== 'failed'; i++) {
    const got = await c.request('tasks/get', { taskId });
    status = String(got['status']);
    if (status !== 'completed') await new Promise((r) => setTimeout(r, 100));
  }
  const taskResult = await c.request('tasks/result', { taskId });
  t['task'] = { created: (task['task'] as { status: string }).status, status, resultKind: Array.isArray(taskResult['content']) ? 'content' : Object.keys(taskResult) };

  t['resources'] = await allPages((cur) => c.listResources(cur), 'resources');
  t['templates'] = await c.listResourceTemplates();
  t['readText'] = await c.readResource('demo://resource/dynamic/text/3');
  t['readBlob'] = await c.readResource('demo://resource/dynamic/blob/2');
  t['readStatic'] = await c.readResource('demo://resource/static/document/features.md').then((r) => ({ length: JSON.stringify(r).length }));

  const uri = 'demo://resource/dynamic/text/1';
  await c.subscribe(uri);
  await c.callTool('toggle-subscriber-updates', {});
  await until(() => c.notifications.some((n) => n.method === 'notifications/resources/updated'), 10_000, 'resources/updated');
  await c.callTool('toggle-subscriber-updates', {});
  await c.unsubscribe(uri);
  t['updated'] = [...new Set(c.notifications.filter((n) => n.method === 'notifications/resources/updated').map((n) => n.params['uri']))];

  t['prompts'] = await c.listPrompts();
  t['simplePrompt'] = await c.getPrompt('simple-prompt');
  t['argsPrompt'] = await c.getPrompt('args-prompt', { city: 'Paris', state: 'TX' });
  t['resourcePrompt'] = await c.getPrompt('resource-prompt', { resourceType: 'Text', resourceId: '2' });
  t['completeDept'] = await c.complete({ type: 'ref/prompt', name: 'completable-prompt' }, { name: 'department', value: 'S' });
  t['completeName'] = await c.complete({ type: 'ref/prompt', name: 'completable-prompt' }, { name: 'name', value: '' }, { arguments: { department: 'Engineering' } });

  await c.setLoggingLevel('debug');
  const before = c.notifications.filter((n) => n.method === 'notifications/message').length;
  await c.callTool('toggle-simulated-logging', {});
  await until(() => c.notifications.filter((n) => n.method === 'notifications/message').length > before, 10_000, 'a log message');
  await c.callTool('toggle-simulated-logging', {});
  t['logging'] = 'received';

  t['sampling'] = await c.callTool('trigger-sampling-request', { prompt: 'What is 2+2?', maxTokens: 20 });
  t['elicitation'] = await c.callTool('trigger-elicitation-request', {});
  t['roots'] = await c.callTool('get-roots-list', {});
  t['serverRequests'] = [...new Set(c.serverRequests.map((r) => r.method))].sort();
  t['ping'] = await c.ping();
  return normalize(t);
}
