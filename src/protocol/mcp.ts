/**
 * Knowledge of MCP methods the proxy core needs: which parameter names the target of a request.
 */
import { isObject } from './jsonrpc.js';

/** The tool, prompt, resource or task a request is about (also what `Mcp-Name` mirrors). */
export function targetOf(method: string, params: unknown): string | undefined {
  if (!isObject(params)) return undefined;
  let v: unknown;
  switch (method) {
    case 'tools/call':
    case 'prompts/get':
      v = params['name'];
      break;
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      v = params['uri'];
      break;
    case 'tasks/get':
    case 'tasks/result':
    case 'tasks/cancel':
    case 'tasks/update':
      v = params['taskId'];
      break;
    case 'completion/complete': {
      const ref = params['ref'];
      if (isObject(ref)) v = ref['name'] ?? ref['uri'];
      break;
    }
    default:
      return undefined;
  }
  return typeof v === 'string' ? v : undefined;
}

/** Methods whose results are lists a policy may filter. */
export const LIST_METHODS = new Set(['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'server/discover']);
