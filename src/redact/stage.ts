/**
 * The redaction stage (SPEC §5): the last stage before the server on the way in, the first after it on the way
 * out, so it sees what the server really sent and every stage above it sees the redacted message.
 *
 * Outbound (server → client): the result of every request but those that are the server's definitions (tools/call,
 * tasks/*, resources/read, prompts/get, completion/complete, ping, a vendor's own methods; `input_required`
 * payloads inside them); every error message and `data`; log,
 * progress and other notifications; server-initiated requests (sampling, elicitation). Inbound (client →
 * server): tool, prompt and completion arguments, resource URIs, and the client's answers to server requests
 * (2025 responses, 2026 `inputResponses`), with the inbound action (`detect` by default).
 *
 * A tool result's `structuredContent` is redacted once and the text blocks that mirror it are regenerated from
 * it, so both views agree; if the tool declares an `outputSchema` the redacted value is validated against it, and
 * a value the schema no longer accepts withholds the result (isError) rather than break a validating client.
 */
import { ErrorCode, isObject, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/jsonrpc.js';
import { headerDeclarations, paramHeadersFor } from '../protocol/headers.js';
import { canonicalJson } from '../protocol/canonical.js';
import { markDirty, type Exchange, type Stage, type StageResult, type ToolEntry } from '../pipeline/types.js';
import { checkArgs } from '../policy/input-schema.js';
import { mergeCounts, NOTHING, type Redactor, type RedactOutcome } from './redactor.js';
import type { Redaction } from './setup.js';
import type { Detector } from './detector.js';
import type { Rule } from './rules.js';

/** Requests whose target is a resource URI the caller wrote. */
const URI_METHODS = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);
/**
 * Responses whose results are not scanned here: what a server says about itself, whose prose the definitions stage
 * masks (names, URIs and schemas must pass unchanged). Every other result is scanned whatever its method — `ping`,
 * `tasks/cancel`, a vendor's own method a policy allows — and errors are scanned for every method.
 */
const DEFINITION_METHODS = new Set(['initialize', 'server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']);

const TASK_TOOLS = 'redact.taskTools';

function noteCounts(ex: Exchange, field: 'redactions' | 'inboundRedactions', counts: Record<string, number>): void {
  if (Object.keys(counts).length === 0) return;
  ex.notes[field] = mergeCounts(ex.notes[field] ?? {}, counts);
}

function blockedText(b: NonNullable<RedactOutcome['blocked']>, what: string): string {
  if (b.category === 'schema') return `mcp-warden withheld ${what}: redaction (rule ${b.rule}) changed values the tool's outputSchema requires, so the result could not be passed on intact.`;
  if (b.rule === 'too-many-findings') return `mcp-warden withheld ${what}: it holds more sensitive values than the redaction limit allows.`;
  return `mcp-warden withheld ${what}: it contained ${b.category === 'pii' ? 'personal data' : b.category === 'secret' ? 'a secret' : `${b.category} data`} (rule ${b.rule}) that may not be passed on.`;
}

/** Text blocks of a tool result that are the JSON text of its structuredContent, with the indentation used. */
function mirrors(result: Record<string, unknown>): { block: Record<string, unknown>; indent: number | undefined }[] {
  const sc = result['structuredContent'];
  const content = result['content'];
  if (sc === undefined || !Array.isArray(content)) return [];
  const out: { block: Record<string, unknown>; indent: number | undefined }[] = [];
  let compact: string | undefined;
  let pretty: string | undefined;
  let canonical: string | undefined;
  for (const b of content) {
    if (!isObject(b) || b['type'] !== 'text' || typeof b['text'] !== 'string') continue;
    const text = b['text'];
    const c0 = text.trimStart()[0];
    if (c0 !== '{' && c0 !== '[' && c0 !== '"' && !/^[-\d tfn]/.test(c0 ?? '')) continue;
    compact ??= JSON.stringify(sc);
    if (text === compact) {
      out.push({ block: b, indent: undefined });
      continue;
    }
    pretty ??= JSON.stringify(sc, null, 2);
    if (text === pretty) {
      out.push({ block: b, indent: 2 });
      continue;
    }
    if (Math.abs(text.length - compact.length) > compact.length + 64) continue;
    try {
      canonical ??= canonicalJson(sc);
      if (canonicalJson(JSON.parse(text)) === canonical) out.push({ block: b, indent: /\n( +)/.exec(text)?.[1]?.length });
    } catch {
      /* not JSON */
    }
  }
  return out;
}

export interface RedactionStageOptions {
  redaction: Redaction;
}

/** A frame's text as received, while no stage has changed it. */
function rawOf(frame: Exchange['message'] | undefined): string | undefined {
  return frame && !frame.dirty ? frame.raw : undefined;
}

/**
 * What a frame's raw text says: 'clean' (nothing can be found: forward the original bytes), the rules it enables,
 * or undefined (the decoded strings must be looked at). See Detector.rawTriggered.
 */
export function pretest(detector: Detector, frame: Exchange['message'] | undefined): 'clean' | Set<Rule> | undefined {
  const raw = rawOf(frame);
  if (raw === undefined) return undefined;
  const pre = detector.rawTriggered(raw, frame!.utf8);
  return pre && pre.size === 0 ? 'clean' : pre;
}

export function redactionStage({ redaction }: RedactionStageOptions): Stage {
  const out = redaction.outbound;
  const inb = redaction.inbound;

  function toolFor(ex: Exchange, name: unknown): ToolEntry | undefined | Promise<ToolEntry | undefined> {
    if (typeof name !== 'string') return undefined;
    const t = ex.session.tools.get(name);
    if (t) return t;
    return ex.session.catalog().then((c) => c?.get(name), () => undefined);
  }

  /** Inbound: arguments of a client request. */
  function inbound(ex: Exchange): StageResult | Promise<StageResult> {
    const req = ex.message.message as JsonRpcRequest;
    const params = req.params;
    if (!isObject(params)) return;
    let target: unknown;
    // A resource URI is the caller's text too: `https://evil.example/?k=<secret>` carries a secret out as well as an
    // argument does. Scanned as a one-key object and written back when masked (an HTTP upstream's Mcp-Name header
    // is made from the body as it is sent).
    let uri: { uri: unknown } | undefined;
    if (ex.method === 'tools/call' || ex.method === 'prompts/get') target = params['arguments'];
    else if (ex.method === 'completion/complete') target = { argument: params['argument'], context: params['context'] };
    else if (URI_METHODS.has(ex.method) && typeof params['uri'] === 'string') target = uri = { uri: params['uri'] };
    // 2026-07-28: the person's answers to the server's questions ride in the retried request, where a 2025 client
    // sends them as responses (scanned in `response` below): the same scan as those, masked in place.
    const answers = params['inputResponses'];
    const hasArgs = target !== undefined && target !== null && typeof target === 'object';
    if (!hasArgs && !isObject(answers)) return;
    const pre = pretest(redaction.detector, ex.message);
    if (pre === 'clean') {
      ex.notes.cleanRequestText = rawOf(ex.message);
      return;
    }
    const ra = hasArgs ? inb.redact(target, { rules: pre }) : NOTHING;
    const rr = isObject(answers) && !ra.blocked ? redaction.answers.redact(answers, { rules: pre }) : NOTHING;
    const r = { changed: ra.changed || rr.changed, counts: mergeCounts({ ...ra.counts }, rr.counts), blocked: ra.blocked ?? rr.blocked };
    noteCounts(ex, 'inboundRedactions', r.counts);
    if (r.blocked) {
      ex.notes['redactionBlocked'] = r.blocked.rule;
      const text = blockedText(r.blocked, uri ? 'this request (it was not sent)' : 'this request (its arguments were not sent)');
      if (ex.method === 'tools/call') return { answer: { result: { content: [{ type: 'text', text }], isError: true } }, outcome: 'denied' };
      return { answer: { error: { code: ErrorCode.RedactionBlocked, message: text, data: { rule: r.blocked.rule } } }, outcome: 'denied' };
    }
    if (!r.changed) return;
    if (uri) params['uri'] = uri.uri;
    markDirty(ex.message);
    if (ex.method === 'tools/call' && ex.headers && Object.keys(ex.headers).some((h) => h.startsWith('mcp-param-'))) {
      // 2026-07-28: mirrored arguments travel as Mcp-Param-* headers too; they must say what the body says.
      const rewrite = (tool: ToolEntry | undefined): StageResult => {
        const decl = headerDeclarations(tool?.definition['inputSchema']).declarations;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(ex.headers!)) if (!k.startsWith('mcp-param-')) headers[k] = v;
        Object.assign(headers, paramHeadersFor(decl, params['arguments']));
        ex.headers = headers;
      };
      const t = toolFor(ex, params['name']);
      return t instanceof Promise ? t.then(rewrite) : rewrite(t);
    }
  }

  /** Outbound: a server notification or request on its way to the client. */
  function fromServer(ex: Exchange): StageResult {
    if (ex.method === 'ping' || ex.method.endsWith('/list_changed')) return;
    const msg = ex.message.message as JsonRpcRequest;
    if (!isObject(msg.params)) return;
    const pre = pretest(redaction.detector, ex.message);
    if (pre === 'clean') return;
    const r = out.redact(msg.params, { rules: pre });
    noteCounts(ex, 'redactions', r.counts);
    if (r.blocked) {
      ex.notes['redactionBlocked'] = r.blocked.rule;
      if (ex.kind === 'notification') return { drop: true };
      return { answer: { error: { code: ErrorCode.RedactionBlocked, message: blockedText(r.blocked, 'this request to the client'), data: { rule: r.blocked.rule } } }, outcome: 'denied' };
    }
    if (r.changed) markDirty(ex.message);
  }

  function blockResponse(ex: Exchange, resp: JsonRpcResponse, b: NonNullable<RedactOutcome['blocked']>, toolResult: boolean): void {
    ex.notes['redactionBlocked'] = b.rule;
    ex.outcome = 'denied';
    const text = blockedText(b, 'this result');
    const r = resp as unknown as Record<string, unknown>;
    if (toolResult) {
      const prev = r['result'] as Record<string, unknown>;
      const result: Record<string, unknown> = { content: [{ type: 'text', text }], isError: true };
      if (prev['resultType'] !== undefined) result['resultType'] = prev['resultType'];
      r['result'] = result;
    } else {
      delete r['result'];
      r['error'] = { code: ErrorCode.RedactionBlocked, message: text, data: { rule: b.rule } };
    }
  }

  /** Outbound: the server's response to a client request. */
  function response(ex: Exchange): void | Promise<void> {
    const frame = ex.response!;
    const resp = frame.message as JsonRpcResponse;
    if ('error' in resp) {
      const pre = pretest(redaction.detector, frame);
      if (pre === 'clean') return;
      const r = out.redact(resp.error, { rules: pre });
      noteCounts(ex, 'redactions', r.counts);
      if (r.blocked) {
        ex.notes['redactionBlocked'] = r.blocked.rule;
        resp.error = { code: resp.error.code, message: blockedText(r.blocked, 'this error message') };
        markDirty(frame);
      } else if (r.changed) markDirty(frame);
      return;
    }
    if (DEFINITION_METHODS.has(ex.method) || !isObject(resp.result)) return;
    const result = resp.result;
    const params = (ex.message.message as JsonRpcRequest).params;
    // Remember which tool a task runs, to check its result's outputSchema later.
    if (ex.method === 'tools/call' && isObject(result['task']) && typeof result['task']['taskId'] === 'string' && isObject(params)) {
      let m = ex.session.state.get(TASK_TOOLS) as Map<string, string> | undefined;
      if (!m) ex.session.state.set(TASK_TOOLS, (m = new Map()));
      if (m.size > 10_000) m.clear();
      m.set(result['task']['taskId'], String(params['name']));
    }
    const pre = pretest(redaction.detector, frame);
    if (pre === 'clean') return;
    const isToolResult = ex.method === 'tools/call' || ex.method === 'tasks/result';
    const mirrored = isToolResult ? mirrors(result) : [];
    const r = out.redact(result, { rules: pre, skip: mirrored.length ? new Set(mirrored.map((m) => m.block)) : undefined });
    noteCounts(ex, 'redactions', r.counts);
    if (r.blocked) {
      blockResponse(ex, resp, r.blocked, isToolResult);
      markDirty(frame);
      return;
    }
    if (!r.changed) return;
    markDirty(frame);
    for (const m of mirrored) m.block['text'] = JSON.stringify(result['structuredContent'], null, m.indent);
    if (!isToolResult || result['structuredContent'] === undefined || result['isError'] === true) return;
    let name: unknown = isObject(params) ? params['name'] : undefined;
    if (ex.method === 'tasks/result' && isObject(params)) name = (ex.session.state.get(TASK_TOOLS) as Map<string, string> | undefined)?.get(String(params['taskId']));
    const check = (tool: ToolEntry | undefined): void => {
      const schema = tool?.definition['outputSchema'];
      if (schema === undefined) return;
      const v = checkArgs(schema, result['structuredContent']);
      if (!v.valid) blockResponse(ex, resp, { rule: Object.keys(r.counts)[0] ?? 'unknown', category: 'schema' }, true);
    };
    const t = toolFor(ex, name);
    if (t instanceof Promise) return t.then(check);
    check(t);
  }

  return {
    name: 'redact',
    request(ex) {
      if (ex.direction === 'to-server') return ex.kind === 'request' ? inbound(ex) : undefined;
      return fromServer(ex);
    },
    response(ex) {
      if (!ex.response || ex.answeredBy) return;
      if (ex.direction === 'to-server') return response(ex);
      // The client's answer to a server request (sampling, elicitation): inbound.
      const resp = ex.response.message as JsonRpcResponse;
      if (!('result' in resp) || !isObject(resp.result)) return;
      const pre = pretest(redaction.detector, ex.response);
      if (pre === 'clean') return;
      const r = redaction.answers.redact(resp.result, { rules: pre });
      noteCounts(ex, 'inboundRedactions', r.counts);
      if (r.blocked) {
        ex.notes['redactionBlocked'] = r.blocked.rule;
        const rr = resp as unknown as Record<string, unknown>;
        delete rr['result'];
        rr['error'] = { code: ErrorCode.RedactionBlocked, message: blockedText(r.blocked, "the client's answer"), data: { rule: r.blocked.rule } };
        markDirty(ex.response);
      } else if (r.changed) markDirty(ex.response);
    },
  };
}

export type { Redactor };
