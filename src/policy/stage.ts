/**
 * The policy stage: least privilege on every request, both directions.
 *
 * Three answers, never mixed up (SPEC §4):
 *  - a tool, prompt or resource the caller cannot see — hidden by policy, or not offered by the server — is
 *    answered as the spec answers an unknown name (-32602), without reaching the server;
 *  - a visible tool called with arguments or at a rate a rule forbids gets a CallToolResult with isError and a text
 *    the model can act on; other visible requests that are refused get -32010 with data.rule;
 *  - over HTTP, a call that needs a scope the token lacks is answered 403 insufficient_scope (the front turns the
 *    error's data into the HTTP answer) so the client can step up.
 * Lists show only what the caller could be allowed to use, and their cache hints become private.
 */
import { ErrorCode, isObject, type JsonRpcRequest, type JsonRpcResultResponse } from '../protocol/jsonrpc.js';
import { envelopeVersion, isModernVersion, META } from '../protocol/eras.js';
import { approvalArguments, HIDDEN_CHARS, visibleText } from '../protocol/escape.js';
import { exactNumbers, inexactLiterals } from '../protocol/frame.js';
import { breather } from '../pipeline/breather.js';
import { markDirty, principalKey, type Exchange, type PeerAnswer, type Stage, type StageResult, type ToolEntry } from '../pipeline/types.js';
import { APPROVAL_KEY, Approvals, argsHash } from './approvals.js';
import { evaluate, visible, type Decision, type PolicyInput } from './evaluate.js';
import { checkArgs } from './input-schema.js';
import { capacityAndRefill, type Limiter } from './rate.js';
import type { Policy } from './types.js';

export interface PolicyStageOptions {
  policy: () => Policy;
  limiter: Limiter;
  approvals: Approvals;
}

/** Protocol plumbing the default does not govern (an explicit rule still can). */
/** What an approval is bound to: the caller, the server, the tool and the exact arguments (numbers as written). */
function approvalFor(ex: Exchange, tool: string, args: unknown): { p: string; s: string; t: string; h: string } {
  return { p: principalKey(ex.principal), s: ex.session.server, t: tool, h: argsHash(args, inexactLiterals(ex.message)) };
}

/** Lists longer than this are judged with turns for other sessions between items (breather). */
const LONG_LIST = 1000;
const PLUMBING = new Set(['initialize', 'ping', 'server/discover', 'subscriptions/listen', 'logging/setLevel', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'completion/complete', 'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel', 'tasks/update']);

const INSUFFICIENT_SCOPE = 'insufficient_scope';

/**
 * The URI a resource template (RFC 6570) names with these variables; a variable not given stays as written. Values
 * go in as they are, not percent-encoded: the reading that shows most (the policy matches every reading anyway).
 */
export function expandTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([+#./;?&]?)([^{}]*)\}/g, (whole, op: string, vars: string) => {
    const names = vars.split(',').map((v) => v.trim().replace(/(\*|:\d+)$/, ''));
    const given = names.filter((n) => Object.hasOwn(values, n));
    if (given.length === 0) return whole;
    const named = op === ';' || op === '?' || op === '&';
    const parts = given.map((n) => (named ? `${n}=${values[n]}` : values[n]!));
    const sep = op === '/' || op === '.' || op === ';' ? op : op === '?' || op === '&' ? '&' : ',';
    const first = op === '' || op === '+' ? '' : op;
    return first + parts.join(sep);
  });
}

function params(ex: Exchange): Record<string, unknown> {
  const p = (ex.message.message as JsonRpcRequest).params;
  return isObject(p) ? p : {};
}

function isModern(ex: Exchange): boolean {
  const v = envelopeVersion(params(ex));
  return v !== undefined && isModernVersion(v);
}

function toolError(text: string, extra: Record<string, unknown> = {}): PeerAnswer {
  return { result: { content: [{ type: 'text', text }], isError: true, ...extra } };
}

function refusal(d: { rule?: string | undefined; reason: string }, data: Record<string, unknown> = {}): PeerAnswer {
  return { error: { code: ErrorCode.PolicyDenied, message: `mcp-warden: ${d.reason}`, data: { rule: d.rule ?? null, ...data } } };
}

/** The proxy's name as a server could write it into a question: any case, spacing, dash, width or hidden character. */
const WARDEN_NAME = /mcp[\s\p{Pd}_.]*warden/iu;

/**
 * A server's question to the person (`elicitation/create`) that names mcp-warden is marked as the server's: the
 * proxy's approval prompt is the question a person learns to trust, and a server's copy of it ("mcp-warden asks for
 * approval", then a field for a token) must not pass for it. Questions that do not name the proxy are left as sent.
 */
function markServerQuestion(p: Record<string, unknown>, server: string): boolean {
  const m = p['message'];
  if (typeof m !== 'string') return false;
  // The form's field titles and descriptions are shown to the person too.
  const shown = `${m}\n${JSON.stringify(p['requestedSchema'] ?? null)}`;
  if (!WARDEN_NAME.test(shown.normalize('NFKC').replace(HIDDEN_CHARS, ''))) return false;
  p['message'] = `This question comes from the server ${JSON.stringify(visibleText(server))}, not from mcp-warden.\n${m}`;
  return true;
}

function record(ex: Exchange, d: Decision, policy: Policy): void {
  ex.notes.policyVersion = policy.version;
  if (d.effect === 'allow' && d.shadow) ex.decision = { effect: d.shadow.effect, rule: d.shadow.rule, reason: d.shadow.reason, mode: 'shadow' };
  else ex.decision = { effect: d.effect, rule: d.rule, reason: d.reason, mode: 'enforce' };
}

export function policyStage(opts: PolicyStageOptions): Stage {
  const input = (ex: Exchange, extra: Partial<PolicyInput>): PolicyInput => ({ server: ex.session.server, method: ex.method, principal: ex.principal, ...extra });
  /** Reading a resource by this URI (or template): what lists, completions, subscriptions and updates are judged by. */
  const readOf = (ex: Exchange, uri: string): PolicyInput => input(ex, { method: 'resources/read', resource: uri });

  function rateCheck(ex: Exchange, d: Decision): { ok: true } | { ok: false; text: string; retryAfterMs: number; rule: string } {
    const buckets = d.rules
      .filter((r) => r.rate)
      .map((r) => {
        const per = r.rate!.per ?? 'principal';
        const who = per === 'global' ? '*' : per === 'session' ? ex.session.id : principalKey(ex.principal);
        return { key: `${r.id}\n${who}`, rate: r.rate!, rule: r };
      });
    if (!buckets.length) return { ok: true };
    const t = opts.limiter.take(buckets);
    if (t.ok) return t;
    const b = buckets.find((x) => x.key === t.key)!;
    const { count, window } = capacityAndRefill(b.rate);
    const secs = Math.max(1, Math.ceil(t.retryAfterMs / 1000));
    return { ok: false, retryAfterMs: t.retryAfterMs, rule: b.rule.id, text: `mcp-warden: rate limit reached — at most ${count} per ${window} (rule ${b.rule.id}). Retry after ${secs} s.` };
  }

  async function ask(ex: Exchange, d: Decision, tool: string, args: unknown): Promise<StageResult> {
    const policy = opts.policy();
    // Numbers as the caller wrote them: the person approves the call the server will get, digit for digit.
    const shown = approvalArguments(args, (json) => exactNumbers(ex.message, json));
    const message = `mcp-warden asks for approval.\nServer: ${visibleText(ex.session.server)}\nTool: ${visibleText(tool)}\nArguments: ${shown}\nRule: ${d.rule ?? '-'}`;
    const requestedSchema = { type: 'object', properties: { approve: { type: 'boolean', title: 'Approve this call', description: 'Run the tool with exactly these arguments' } }, required: ['approve'] };
    if (isModern(ex)) {
      const caps = (params(ex)['_meta'] as Record<string, unknown> | undefined)?.[META.clientCapabilities];
      if (!isObject(caps) || !isObject(caps['elicitation'])) {
        ex.notes.approval = 'unavailable';
        return { answer: toolError(`mcp-warden: this call needs a person's approval (rule ${d.rule}), and this client cannot ask one (no elicitation capability).`), outcome: 'denied' };
      }
      const token = opts.approvals.issue({ ...approvalFor(ex, tool, args), e: Date.now() + policy.askTimeoutMs, a: false });
      ex.notes.approval = 'requested';
      return { answer: { result: { resultType: 'input_required', inputRequests: { [APPROVAL_KEY]: { method: 'elicitation/create', params: { mode: 'form', message, requestedSchema } } }, requestState: token } }, outcome: 'ok' };
    }
    if (!isObject(ex.session.clientCapabilities?.['elicitation'])) {
      ex.notes.approval = 'unavailable';
      return { answer: toolError(`mcp-warden: this call needs a person's approval (rule ${d.rule}), and this host cannot ask one (it did not declare elicitation).`), outcome: 'denied' };
    }
    const answer = await ex.session.requestDownstream('elicitation/create', { message, requestedSchema }, ex, policy.askTimeoutMs);
    if ('error' in answer) {
      const cancelled = isObject(answer.error.data) && answer.error.data['cancelled'] === true;
      ex.notes.approval = cancelled ? 'cancelled' : answer.error.code === ErrorCode.RequestTimeout ? 'timeout' : 'unavailable';
      return { answer: toolError(`mcp-warden: no approval for this call (${answer.error.code === ErrorCode.RequestTimeout ? `no answer within ${Math.round(policy.askTimeoutMs / 1000)} s` : 'the host could not ask'}). It was not run.`), outcome: 'denied' };
    }
    const r = answer.result;
    if (r['action'] === 'accept' && isObject(r['content']) && r['content']['approve'] === true) {
      ex.notes.approval = 'approved';
      return undefined;
    }
    ex.notes.approval = 'declined';
    return { answer: toolError('mcp-warden: a person declined this call. It was not run; do not retry it unchanged.'), outcome: 'denied' };
  }

  /** A modern retry carrying our approval state: check it, then hand the server the request without it. */
  function redeem(ex: Exchange, tool: string, args: unknown): { ok: true; approved: boolean } | { ok: false; answer: PeerAnswer } {
    const p = params(ex);
    const state = p['requestState'];
    if (!Approvals.isOurs(state)) return { ok: true, approved: false };
    const check = opts.approvals.redeem(state, approvalFor(ex, tool, args));
    if (!check.ok) {
      ex.notes.approval = 'declined';
      return { ok: false, answer: toolError(`mcp-warden: this approval cannot be used: ${check.why}. The call was not run.`) };
    }
    const responses = isObject(p['inputResponses']) ? p['inputResponses'] : {};
    if (!check.claims.a) {
      const mine = responses[APPROVAL_KEY];
      const ok = isObject(mine) && mine['action'] === 'accept' && isObject(mine['content']) && mine['content']['approve'] === true;
      if (!ok) {
        ex.notes.approval = 'declined';
        return { ok: false, answer: toolError('mcp-warden: a person declined this call. It was not run; do not retry it unchanged.') };
      }
    }
    // The server never sees the proxy's question, answer or state.
    delete responses[APPROVAL_KEY];
    if (isObject(p['inputResponses']) && Object.keys(p['inputResponses']).length === 0) delete p['inputResponses'];
    if (check.claims.st !== undefined) p['requestState'] = check.claims.st;
    else delete p['requestState'];
    markDirty(ex.message);
    ex.notes.approval = 'approved';
    ex.notes['approvedFor'] = approvalFor(ex, tool, args);
    return { ok: true, approved: true };
  }

  /** Synchronous while the session holds the server's complete tool list (the pipeline then stays synchronous). */
  function toolCall(ex: Exchange): StageResult | Promise<StageResult> {
    const p = params(ex);
    const name = p['name'];
    if (typeof name !== 'string') return { answer: { error: { code: ErrorCode.InvalidParams, message: 'Invalid params: tools/call needs a string "name"' } }, outcome: 'denied' };
    if (ex.session.catalogComplete()) return decideToolCall(ex, p, name, ex.session.tools);
    return ex.session.catalog().then((catalog) => decideToolCall(ex, p, name, catalog));
  }

  function decideToolCall(ex: Exchange, p: Record<string, unknown>, name: string, catalog: Map<string, ToolEntry> | undefined): StageResult | Promise<StageResult> {
    const policy = opts.policy();
    const args = p['arguments'];
    const entry = catalog?.get(name);
    const annotations = isObject(entry?.definition['annotations']) ? (entry!.definition['annotations'] as Record<string, unknown>) : entry ? {} : undefined;
    const base = input(ex, { tool: name, args, annotations });
    const unknown = (why: string): StageResult => {
      ex.notes.policyVersion = policy.version;
      ex.decision = { effect: 'deny', reason: why, mode: 'enforce' };
      return { answer: { error: { code: ErrorCode.InvalidParams, message: `Tool ${name} not found` } }, outcome: 'denied' };
    };
    if (catalog && !entry) return unknown('the server does not offer this tool');
    if (!visible(policy, base)) return unknown('hidden by policy');
    if (entry) {
      const c = checkArgs(entry.definition['inputSchema'], args ?? {});
      if (!c.valid) {
        base.argsValid = false;
        base.argsProblem = c.problem;
      }
    }
    const redeemed = redeem(ex, name, args);
    if (!redeemed.ok) {
      record(ex, { effect: 'deny', rule: undefined, reason: 'approval refused', rules: [] }, policy);
      return { answer: redeemed.answer, outcome: 'denied' };
    }
    const d = evaluate(policy, base);
    record(ex, d, policy);
    if (d.effect === 'deny') {
      if (d.missingScopes?.length && ex.session.transport !== 'stdio') {
        return { answer: { error: { code: ErrorCode.PolicyDenied, message: `mcp-warden: ${d.reason}`, data: { rule: d.rule ?? null, error: INSUFFICIENT_SCOPE, scopes: d.missingScopes } } }, outcome: 'denied' };
      }
      return { answer: toolError(`mcp-warden refused this call: ${d.reason}.`), outcome: 'denied' };
    }
    const rate = rateCheck(ex, d);
    if (!rate.ok) {
      ex.decision = { effect: 'deny', rule: rate.rule, reason: 'rate limit', mode: 'enforce' };
      return { answer: toolError(rate.text, { _meta: { 'mcp-warden/retryAfterMs': rate.retryAfterMs } }), outcome: 'denied' };
    }
    if (d.effect === 'ask' && !redeemed.approved) return ask(ex, d, name, args);
    return undefined;
  }

  function named(ex: Exchange, kind: 'prompt' | 'resource'): StageResult {
    const policy = opts.policy();
    const p = params(ex);
    const value = kind === 'prompt' ? p['name'] : p['uri'];
    if (typeof value !== 'string') {
      // Nothing to judge is no decision to pass on: a server could read another member (`URI`) as the target.
      const key = kind === 'prompt' ? 'name' : 'uri';
      ex.notes.policyVersion = policy.version;
      ex.decision = { effect: 'deny', reason: `no string "${key}"`, mode: 'enforce' };
      // 2026-07-28 has no resources/subscribe or unsubscribe (subscriptions/listen replaced them): one without a URI
      // is answered as the removed method it is (HTTP 404), as a server of that era answers it.
      if (kind === 'resource' && ex.method !== 'resources/read' && isModern(ex)) {
        return { answer: { error: { code: ErrorCode.MethodNotFound, message: `Method not found: ${ex.method} is not a method of 2026-07-28` } }, outcome: 'denied' };
      }
      return { answer: { error: { code: ErrorCode.InvalidParams, message: `Invalid params: ${ex.method} needs a string "${key}"` } }, outcome: 'denied' };
    }
    const base = input(ex, kind === 'prompt' ? { prompt: value, args: p['arguments'] } : { resource: value, args: p });
    if (!visible(policy, base)) {
      ex.notes.policyVersion = policy.version;
      ex.decision = { effect: 'deny', reason: 'hidden by policy', mode: 'enforce' };
      const msg = kind === 'prompt' ? `Prompt ${value} not found` : `Resource ${value} not found`;
      return { answer: { error: { code: ErrorCode.InvalidParams, message: msg, ...(kind === 'resource' ? { data: { uri: value } } : {}) } }, outcome: 'denied' };
    }
    return generic(ex, base);
  }

  function generic(ex: Exchange, base: PolicyInput): StageResult {
    const policy = opts.policy();
    const d = evaluate(policy, base);
    const plumbing = PLUMBING.has(ex.method) && d.rule === undefined;
    record(ex, plumbing ? { ...d, effect: 'allow', reason: 'protocol method', shadow: undefined } : d, policy);
    if (plumbing || d.effect === 'allow') {
      const rate = rateCheck(ex, d);
      if (!rate.ok) return { answer: refusal({ rule: rate.rule, reason: rate.text.replace(/^mcp-warden: /, '') }, { retryAfterMs: rate.retryAfterMs }), outcome: 'denied' };
      return undefined;
    }
    if (d.missingScopes?.length && ex.session.transport !== 'stdio') return { answer: refusal(d, { error: INSUFFICIENT_SCOPE, scopes: d.missingScopes }), outcome: 'denied' };
    // `ask` on anything but a tool call cannot carry an approval round trip: refused, with the reason.
    return { answer: refusal(d.effect === 'ask' ? { rule: d.rule, reason: `${d.reason}; approvals are only available for tool calls` } : d), outcome: 'denied' };
  }

  /**
   * Completion names a prompt or a resource template: one the caller cannot see is answered as unknown, as the SDK
   * answers an unknown one, without reaching the server (its suggestions would show that it exists, and what it
   * holds — file names under a hidden folder).
   */
  function completion(ex: Exchange): StageResult {
    const ref = params(ex)['ref'];
    if (isObject(ref)) {
      const policy = opts.policy();
      const hidden = (message: string): StageResult => {
        ex.notes.policyVersion = policy.version;
        ex.decision = { effect: 'deny', reason: 'hidden by policy', mode: 'enforce' };
        return { answer: { error: { code: ErrorCode.InvalidParams, message } }, outcome: 'denied' };
      };
      if (ref['type'] === 'ref/prompt' && typeof ref['name'] === 'string' && !visible(policy, input(ex, { method: 'prompts/get', prompt: ref['name'] }))) return hidden(`Prompt ${ref['name']} not found`);
      if (ref['type'] === 'ref/resource' && typeof ref['uri'] === 'string' && !visible(policy, readOf(ex, ref['uri']))) return hidden(`Resource template ${ref['uri']} not found`);
    }
    return generic(ex, input(ex, { args: params(ex) }));
  }

  /**
   * The values a server suggests for a visible resource template's variable name URIs too: `file:///{path}` may be
   * visible while `file:///secrets/**` is not, and suggesting `secrets/keys.txt` would show what the hidden folder
   * holds. Each value is put into the template (with the other variables the completion's context gives) and kept
   * only if the caller could read the URI it makes. More than LONG_LIST values (the protocol allows 100) are cut;
   * the template is at most 8,192 characters (a longer one is no visible URI, and the request never left).
   */
  function completionValues(ex: Exchange, result: Record<string, unknown>, policy: Policy): void {
    const p = params(ex);
    const ref = p['ref'];
    const arg = p['argument'];
    const completion = result['completion'];
    if (!isObject(ref) || ref['type'] !== 'ref/resource' || typeof ref['uri'] !== 'string' || !isObject(arg) || typeof arg['name'] !== 'string') return;
    if (!isObject(completion) || !Array.isArray(completion['values'])) return;
    const template = ref['uri'];
    const name = arg['name'];
    // No prototype: a variable the caller names `__proto__` is filled like any other (on a plain object the assignment
    // was dropped, and the template was judged with that variable unexpanded).
    const known: Record<string, string> = Object.create(null) as Record<string, string>;
    const ctx = p['context'];
    if (isObject(ctx) && isObject(ctx['arguments'])) for (const [k, v] of Object.entries(ctx['arguments'])) if (typeof v === 'string') known[k] = v;
    const values = completion['values'];
    const kept = values.slice(0, LONG_LIST).filter((v) => typeof v === 'string' && visible(policy, readOf(ex, expandTemplate(template, { ...known, [name]: v }))));
    if (kept.length === values.length) return;
    completion['values'] = kept;
    if (typeof completion['total'] === 'number') completion['total'] = Math.max(kept.length, completion['total'] - (values.length - kept.length));
    markDirty(ex.response!);
  }

  /**
   * 2026-07-28 `subscriptions/listen` subscribes to resources by URI (as `resources/subscribe` did, which is a
   * resource request): the URIs the caller cannot see are taken out of the filter before the server sees it, so no
   * update about them is ever sent. The stream itself is protocol plumbing.
   */
  function listen(ex: Exchange): StageResult {
    const filter = params(ex)['notifications'];
    if (isObject(filter) && Array.isArray(filter['resourceSubscriptions'])) {
      const policy = opts.policy();
      const asked = filter['resourceSubscriptions'] as unknown[];
      const kept = asked.filter((u) => typeof u === 'string' && visible(policy, readOf(ex, u)));
      if (kept.length !== asked.length) {
        filter['resourceSubscriptions'] = kept;
        markDirty(ex.message);
      }
    }
    return generic(ex, input(ex, { args: params(ex) }));
  }

  function serverInitiated(ex: Exchange): StageResult {
    // Sampling, elicitation and roots requests from the server: matched on their params too.
    const p = params(ex);
    const args: Record<string, unknown> = { ...p };
    // Convenience selectors: the host of a URL-mode elicitation, sampling's includeContext.
    if (typeof p['url'] === 'string') args['url'] = p['url'];
    const d = evaluate(opts.policy(), input(ex, { args }));
    record(ex, d, opts.policy());
    if (d.effect === 'allow') {
      if (ex.method === 'elicitation/create' && markServerQuestion(p, ex.session.server)) markDirty(ex.message);
      return undefined;
    }
    return { answer: refusal(d), outcome: 'denied' };
  }

  return {
    name: 'policy',
    request(ex) {
      if (ex.kind !== 'request') {
        // An update about a resource the caller cannot see would show that it exists (and when it changes).
        if (ex.direction === 'to-client' && ex.method === 'notifications/resources/updated') {
          const uri = params(ex)['uri'];
          if (typeof uri !== 'string' || !visible(opts.policy(), readOf(ex, uri))) return { drop: true };
        }
        return undefined;
      }
      if (ex.direction === 'to-client') return serverInitiated(ex);
      switch (ex.method) {
        case 'tools/call':
          return toolCall(ex);
        case 'prompts/get':
          return named(ex, 'prompt');
        case 'resources/read':
        case 'resources/subscribe':
        case 'resources/unsubscribe':
          return named(ex, 'resource');
        case 'completion/complete':
          return completion(ex);
        case 'subscriptions/listen':
          return listen(ex);
        default:
          return generic(ex, input(ex, { args: params(ex) }));
      }
    },
    response(ex) {
      if (ex.direction !== 'to-server' || !ex.response || ex.answeredBy) return;
      const msg = ex.response.message as JsonRpcResultResponse;
      if (!isObject(msg.result)) return;
      const result = msg.result;
      const policy = opts.policy();
      // 2026-07-28: the server's requests to the client ride inside input_required results. They are policy
      // subjects exactly like 2025 server-initiated requests.
      if (result['resultType'] === 'input_required' && isObject(result['inputRequests'])) {
        for (const [key, req] of Object.entries(result['inputRequests'])) {
          if (!isObject(req) || typeof req['method'] !== 'string') continue;
          const d = evaluate(policy, input(ex, { method: req['method'], args: isObject(req['params']) ? req['params'] : {} }));
          if (d.effect === 'allow') {
            if (req['method'] === 'elicitation/create' && isObject(req['params']) && markServerQuestion(req['params'], ex.session.server)) markDirty(ex.response);
            continue;
          }
          ex.decision = { effect: d.effect, rule: d.rule, reason: d.reason, mode: 'enforce' };
          const text = `mcp-warden refused the server's request for ${req['method']} (input ${JSON.stringify(key)}): ${d.reason}`;
          const replacement = ex.method === 'tools/call' ? { content: [{ type: 'text', text }], isError: true } : undefined;
          if (replacement) (ex.response.message as JsonRpcResultResponse).result = replacement;
          else {
            delete (ex.response.message as Partial<JsonRpcResultResponse>).result;
            (ex.response.message as unknown as { error: unknown }).error = { code: ErrorCode.PolicyDenied, message: text, data: { rule: d.rule ?? null } };
          }
          ex.outcome = 'denied';
          markDirty(ex.response);
          return;
        }
      }
      // An approved call whose server asks for input itself (and may, by the rules above): keep the approval with
      // the server's state, so the retry that answers the server is not asked about again.
      if (ex.method === 'tools/call' && result['resultType'] === 'input_required' && ex.notes['approvedFor']) {
        const a = ex.notes['approvedFor'] as ReturnType<typeof approvalFor>;
        const st = typeof result['requestState'] === 'string' ? result['requestState'] : undefined;
        result['requestState'] = opts.approvals.issue({ ...a, e: Date.now() + policy.askTimeoutMs, a: true, ...(st !== undefined ? { st } : {}) });
        markDirty(ex.response);
        return;
      }
      const filter = (key: string, make: (item: Record<string, unknown>) => PolicyInput | undefined): void | Promise<void> => {
        const list = result[key];
        if (!Array.isArray(list)) return;
        const shown = (item: unknown) => {
          if (!isObject(item)) return false;
          const inp = make(item);
          return inp ? visible(policy, inp) : true;
        };
        const done = (kept: unknown[]) => {
          if (kept.length !== list.length) {
            result[key] = kept;
            markDirty(ex.response!);
          }
          if (result['cacheScope'] !== undefined && result['cacheScope'] !== 'private') {
            result['cacheScope'] = 'private';
            markDirty(ex.response!);
          }
        };
        if (list.length <= LONG_LIST) return done(list.filter(shown));
        // A list of hundreds of thousands of resources takes seconds to judge: other sessions get turns meanwhile.
        return (async () => {
          const kept: unknown[] = [];
          const yielder = breather();
          for (const item of list) {
            await yielder();
            if (shown(item)) kept.push(item);
          }
          done(kept);
        })();
      };
      switch (ex.method) {
        case 'tools/list':
          return filter('tools', (t) => (typeof t['name'] === 'string' ? input(ex, { method: 'tools/call', tool: t['name'], annotations: isObject(t['annotations']) ? t['annotations'] : {} }) : undefined));
        case 'prompts/list':
          return filter('prompts', (t) => (typeof t['name'] === 'string' ? input(ex, { method: 'prompts/get', prompt: t['name'] }) : undefined));
        case 'resources/list':
          return filter('resources', (t) => (typeof t['uri'] === 'string' ? readOf(ex, t['uri']) : undefined));
        case 'resources/templates/list':
          return filter('resourceTemplates', (t) => (typeof t['uriTemplate'] === 'string' ? readOf(ex, t['uriTemplate']) : undefined));
        case 'completion/complete':
          return completionValues(ex, result, policy);
        case 'resources/read':
          // A read may answer with more than the URI asked for (a folder's files): each content the caller could
          // not read by itself is left out, so reading the parent of a hidden resource does not reveal it.
          return filter('contents', (c) => readOf(ex, typeof c['uri'] === 'string' ? c['uri'] : ''));
        default:
          return;
      }
    },
  };
}

export { INSUFFICIENT_SCOPE };
