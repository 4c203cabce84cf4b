/**
 * Views (UI): MCP Apps (`io.modelcontextprotocol/ui`) and the OpenAI Apps SDK let a tool open a page that the host
 * renders in a sandboxed frame, fed with the tool's results and able to call the server's tools. What a reviewer needs
 * to know before installing: where that page comes from, where it may send what it is shown, which devices it may ask
 * for, and which tools only the page (not the model) calls.
 */
import { isObject } from '../../protocol/jsonrpc.js';
import { hostMeta, isViewUri, namedViews } from '../../pin/pins.js';
import type { Finding, LintContext, ResourceModel, Rule, ServerModel, Severity } from '../types.js';

function f(rule: string, severity: Severity, s: ServerModel, target: string, message: string, pointer: string): Finding {
  return { rule, severity, target: `${s.name}/${target}`, message, location: { file: s.file, pointer }, server: s.name };
}

/**
 * A CSP source that lets a page reach any host: `*`, a scheme alone (`https:`, `https://`, `https://*`), or a wildcard
 * over a whole top-level domain (`*.com`, `https://*.io`).
 */
export function anyHost(source: string): boolean {
  const d = source.trim().toLowerCase();
  return d === '*' || /^[a-z][a-z0-9+.-]*:(\/\/)?\*?$/.test(d) || /^([a-z][a-z0-9+.-]*:\/\/)?\*\.[a-z0-9-]+\.?$/.test(d);
}

/** The CSP keys, MCP Apps' `ui.csp` and OpenAI's `openai/widgetCSP` spelling, with what a page may do through each. */
const CSP_KEYS = ([
  { keys: ['connectDomains', 'connect_domains'], what: 'send requests (fetch, WebSocket) to', severity: 'HIGH' },
  { keys: ['resourceDomains', 'resource_domains'], what: 'load scripts and styles from', severity: 'MED' },
  { keys: ['frameDomains', 'frame_domains'], what: 'embed frames from', severity: 'MED' },
  { keys: ['baseUriDomains'], what: 'set its base URI to', severity: 'MED' },
] as { keys: string[]; what: string; severity: Severity }[]).flatMap(({ keys, ...how }) => keys.map((key) => ({ key, ...how })));

/**
 * A resource's CSPs (MCP Apps `ui.csp`, OpenAI's `openai/widgetCSP`: a server may declare both, one for each kind of
 * host, and each is checked) with their pointers, and its MCP Apps `ui.permissions`.
 */
function viewDeclarations(r: ResourceModel): { csps: { csp: Record<string, unknown>; at: string }[]; permissions: Record<string, unknown> | undefined } {
  const ui = r.meta?.['ui'];
  const openai = r.meta?.['openai/widgetCSP'];
  const csps: { csp: Record<string, unknown>; at: string }[] = [];
  if (isObject(ui) && isObject(ui['csp'])) csps.push({ csp: ui['csp'], at: `${r.pointer}/_meta/ui/csp` });
  if (isObject(openai)) csps.push({ csp: openai, at: `${r.pointer}/_meta/openai~1widgetCSP` });
  return { csps, permissions: isObject(ui) && isObject(ui['permissions']) ? ui['permissions'] : undefined };
}

const DEVICES: Record<string, Severity> = { camera: 'MED', microphone: 'MED', geolocation: 'MED', clipboardWrite: 'LOW' };

function eachServer(ctx: LintContext, fn: (s: ServerModel, out: Finding[]) => void): Finding[] {
  const out: Finding[] = [];
  for (const s of ctx.servers) fn(s, out);
  return out;
}

export const UI_RULES: Rule[] = [
  {
    id: 'UI001',
    title: 'View outside ui://',
    severity: 'ERROR',
    family: 'UI',
    help: 'A tool\'s view (MCP Apps _meta.ui.resourceUri, OpenAI openai/outputTemplate) must be a ui:// resource the server serves and a host can pin; any other URI is a page from elsewhere, or one no host renders.',
    check: (ctx) =>
      eachServer(ctx, (s, out) => {
        for (const t of s.tools) for (const v of namedViews(t.raw)) if (!isViewUri(v.uri)) out.push(f('UI001', 'ERROR', s, t.name, `opens the view ${JSON.stringify(typeof v.uri === 'string' ? v.uri.slice(0, 200) : v.uri)}, not a ui:// resource`, `${t.pointer}/_meta/${v.at}`));
      }),
  },
  {
    id: 'UI002',
    title: 'View may reach any host',
    severity: 'HIGH',
    family: 'UI',
    help: 'A view is shown tool results and can call tools. A CSP that lets it connect anywhere (*, https:, *.com) lets it send what it is shown anywhere (HIGH); one that lets it load scripts, frames or a base URI from anywhere runs code nobody reviewed (MED). Name the hosts.',
    check: (ctx) =>
      eachServer(ctx, (s, out) => {
        for (const r of s.resources) {
          for (const { csp, at } of viewDeclarations(r).csps) {
            for (const { key, what, severity } of CSP_KEYS) {
              const list = csp[key];
              if (!Array.isArray(list)) continue;
              const broad = list.filter((d): d is string => typeof d === 'string' && anyHost(d));
              if (broad.length) out.push(f('UI002', severity, s, r.uri, `the view may ${what} any host (${key}: ${broad.slice(0, 3).map((d) => JSON.stringify(d)).join(', ')})`, `${at}/${key}`));
            }
          }
        }
      }),
  },
  {
    id: 'UI003',
    title: 'View asks for devices',
    severity: 'MED',
    family: 'UI',
    help: 'A view can ask the host for the camera, microphone or location (MED) or to write the clipboard (LOW). A host may grant them to the page; a tool that needs none of them should not ask.',
    check: (ctx) =>
      eachServer(ctx, (s, out) => {
        for (const r of s.resources) {
          const { permissions } = viewDeclarations(r);
          if (!permissions) continue;
          const asked = Object.keys(DEVICES).filter((d) => permissions[d] !== undefined && permissions[d] !== false);
          if (!asked.length) continue;
          const severity = asked.some((d) => DEVICES[d] === 'MED') ? 'MED' : 'LOW';
          out.push(f('UI003', severity, s, r.uri, `the view asks for ${asked.join(', ')}`, `${r.pointer}/_meta/ui/permissions`));
        }
      }),
  },
  {
    id: 'UI004',
    title: 'Tool only its view calls',
    severity: 'INFO',
    family: 'UI',
    help: 'A tool with visibility ["app"] is hidden from the model and called by the page. Review it like any tool: a policy that allows it allows the page code to call it.',
    check: (ctx) =>
      eachServer(ctx, (s, out) => {
        for (const t of s.tools) {
          const ui = hostMeta(t.raw)?.['ui'];
          const vis = isObject(ui) ? ui['visibility'] : undefined;
          if (Array.isArray(vis) && vis.includes('app') && !vis.includes('model')) out.push(f('UI004', 'INFO', s, t.name, 'hidden from the model, called by the server\'s view (visibility: ["app"])', `${t.pointer}/_meta/ui/visibility`));
        }
      }),
  },
];
