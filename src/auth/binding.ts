/**
 * State that outlives a request is bound to the principal that created it (SPEC §1):
 *  - task ids: a task created in one session can be read, updated or cancelled only from it; other ids are
 *    answered as unknown, task lists and status notifications show only the session's own tasks;
 *  - 2026-07-28 `requestState`: what the server hands out is wrapped in an HMAC'd envelope naming the principal,
 *    and unwrapped only for that principal, so one caller cannot replay another's state against a shared upstream.
 * Sessions are per principal, so "the session's tasks" are the principal's tasks.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { eraOfMessage } from '../protocol/eras.js';
import { ErrorCode, isObject, type JsonRpcRequest, type JsonRpcResultResponse } from '../protocol/jsonrpc.js';
import { markDirty, principalKey, type Exchange, type SessionInfo, type Stage } from '../pipeline/types.js';

const PREFIX = 'mcpwb1.';
const TASKS = 'binding.tasks';
/** Task methods that name a task, per era (2026-07-28 removed tasks/result and added tasks/update). */
const LEGACY_TASK_METHODS = new Set(['tasks/get', 'tasks/result', 'tasks/cancel']);
const MODERN_TASK_METHODS = new Set(['tasks/get', 'tasks/update', 'tasks/cancel']);

function owned(session: SessionInfo): Set<string> {
  let s = session.state.get(TASKS) as Set<string> | undefined;
  if (!s) session.state.set(TASKS, (s = new Set()));
  return s;
}

export function bindingStage(key: Buffer = randomBytes(32)): Stage {
  const wrap = (principal: string, state: string): string => {
    const body = Buffer.from(JSON.stringify([principal, state])).toString('base64url');
    return `${PREFIX}${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
  };
  const unwrap = (principal: string, token: string): string | undefined => {
    const rest = token.slice(PREFIX.length);
    const dot = rest.lastIndexOf('.');
    if (dot < 0) return undefined;
    const body = rest.slice(0, dot);
    const mac = Buffer.from(rest.slice(dot + 1), 'base64url');
    const want = createHmac('sha256', key).update(body).digest();
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return undefined;
    try {
      const [p, state] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [string, string];
      return p === principal && typeof state === 'string' ? state : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    name: 'binding',
    request(ex: Exchange) {
      if (ex.direction !== 'to-server' || ex.kind !== 'request') return undefined;
      const params = (ex.message.message as JsonRpcRequest).params;
      if (!isObject(params)) return undefined;
      if ((eraOfMessage(ex.method, params) === 'modern' ? MODERN_TASK_METHODS : LEGACY_TASK_METHODS).has(ex.method)) {
        const id = params['taskId'];
        if (typeof id !== 'string' || !owned(ex.session).has(id)) {
          return { answer: { error: { code: ErrorCode.InvalidParams, message: `Task ${typeof id === 'string' ? id : ''} not found`.trim() } }, outcome: 'denied' };
        }
      }
      const state = params['requestState'];
      if (typeof state === 'string') {
        if (!state.startsWith(PREFIX)) {
          return { answer: { error: { code: ErrorCode.InvalidParams, message: 'Invalid params: requestState was not issued for this session' } }, outcome: 'denied' };
        }
        const inner = unwrap(principalKey(ex.principal), state);
        if (inner === undefined) return { answer: { error: { code: ErrorCode.InvalidParams, message: 'Invalid params: requestState belongs to another principal or was altered' } }, outcome: 'denied' };
        params['requestState'] = inner;
        markDirty(ex.message);
      }
      return undefined;
    },
    response(ex: Exchange) {
      if (ex.direction !== 'to-server' || ex.kind !== 'request' || !ex.response || ex.answeredBy) return;
      const result = (ex.response.message as JsonRpcResultResponse).result;
      if (!isObject(result)) return;
      const task = result['task'];
      if (isObject(task) && typeof task['taskId'] === 'string') owned(ex.session).add(task['taskId']);
      if (ex.method === 'tasks/list' && Array.isArray(result['tasks'])) {
        const mine = owned(ex.session);
        const kept = result['tasks'].filter((t) => isObject(t) && typeof t['taskId'] === 'string' && mine.has(t['taskId']));
        if (kept.length !== result['tasks'].length) {
          result['tasks'] = kept;
          markDirty(ex.response);
        }
      }
      if (result['resultType'] === 'input_required' && typeof result['requestState'] === 'string') {
        result['requestState'] = wrap(principalKey(ex.principal), result['requestState']);
        markDirty(ex.response);
      }
    },
  };
}
