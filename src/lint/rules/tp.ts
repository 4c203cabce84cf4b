/**
 * Tool poisoning and injection (TP): text a server shows the model that tries to steer it. Every model-visible
 * string is checked (descriptions, titles, parameter names and schema strings, prompts, resources, server
 * instructions) after normalisation. Patterns use bounded windows (descriptions are long single lines), and
 * severities follow the catalogue: a single alarming word is never more than INFO; two independent families in
 * one text make it critical.
 */
import { controlChars, count, first, hiddenChars, nameTokens, normalize, safeExcerpt, visibleTexts, type VisibleText } from '../text.js';
import { raise, type Finding, type LintContext, type Rule, type ServerModel, type Severity } from '../types.js';

/** The signals of one text, computed once and shared by the TP rules. */
export interface Signals {
  markup?: string;
  conceal?: string;
  coerce?: string;
  sensitive?: string;
  sensitiveVerb?: boolean;
  exfil?: string;
  crossRef?: string;
  sinks: string[];
  encoded?: { evidence: string; decodedFindings: string[] };
  padding?: string;
  extraction?: string;
  payload?: string;
  hidden?: { count: number; chars: number[]; tagShadow: string };
  control?: { count: number; sample: string };
  imperatives: number;
  capsUrgency: number;
}

const MARKUP = String.raw`<\s*/?\s*(important|system|instructions?|secret|critical|hidden|admin|override|system[_ -]?prompt|context|note|assistant)\s*>|\[\s*(system|hidden|admin|important)[^\]\n]{0,40}\]|\{\{\s*system|<!--[^>]{0,400}-->|\bSYSTEM OVERRIDE\b`;
const CONCEAL = [
  String.raw`\b(do not|don't|dont|never|must not|should not|shouldn't|no need to|avoid)\s+(\w+\s+){0,2}(mention|tell|inform|notify|alert|reveal|disclose|show)\w*\b`,
  String.raw`\b(user|human)\b[^.]{0,30}\b(should|must|need|does) not (see|know|be told|be informed|be aware|notice)`,
  String.raw`\bsilently\s+(include|add|send|pass|change|modify|forward|copy|append|replace|use|call|read|upload|exfiltrat\w*)\b|\b(do|act|proceed|operate) (this |it |so )?silently\b`,
  String.raw`\bwithout (further |any )?(explanation|telling|informing|notifying|asking|mentioning)`,
  String.raw`\bact (like|as if) you\b`,
  String.raw`\bjust say (that )?you (used|called)`,
  String.raw`\b(a )?(mere|just an?) implementation detail`,
  String.raw`\bkeep (this|it) (secret|hidden|confidential)\b`,
  String.raw`\bsecret operation\b`,
];
const COERCE = [
  String.raw`\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|other|system|original)\s+(instructions|rules|directions|guidelines|prompts?)`,
  String.raw`\bbefore (using|calling|invoking|running) (any|every|all) other tools?`,
  String.raw`\b(always|must|first) (call|use|consult|invoke|run|check) this tool\b[^.]{0,40}\b(first|before|immediately|prior)`,
  String.raw`\b(consult|call|use|invoke) this tool (immediately|first)\b`,
  String.raw`\bas the first step\b`,
  String.raw`\b(otherwise|or else|if not|if you don't|sending without this|if you violate)\b[^.]{0,60}\b(will not work|won't work|will (crash|fail|break|be blocked)|will cause[^.]{0,20}crash)`,
  String.raw`\b(will crash|system (will )?crash\w*|data will be lost|all (user )?data will be lost)`,
  String.raw`\b(SOC ?2|GDPR|HIPAA|PCI|compliance)\b[^.]{0,40}\b(requires?|requirement|mandat\w*|required)`,
  String.raw`\brequired for [^.]{0,40}\b(compliance|auditing|SOC ?2|GDPR)`,
  String.raw`\b(although|even though|despite)\b[^.]{0,40}\byou\b[^.]{0,20}\b(did not|didn't|do not|don't|were not|cannot|could not) have\b`,
  String.raw`\b(this tool|now you) (now )?(grants?|gives?|allows?|lets?) you\b`,
];
const SENSITIVE = String.raw`~/\.ssh|\bid_(rsa|ed25519|ecdsa|dsa)\b|(^|[\s'"\x60(/])\.env\b|\bmcp\.json\b|claude_desktop_config\.json|\.cursor/|\.aws/credentials|\.kube/config|/etc/(passwd|shadow)\b|\bkeychain\b|browser (cookies|profile)|\bwallet\.dat\b|\.npmrc\b|\.pypirc\b|\.netrc\b|\.git-credentials\b|\.docker/config\.json`;
const SENSITIVE_VERB = String.raw`\b(read|cat|open|load|pass|send|include|upload|post|provide|attach|content|contents|copy|exfiltrat\w*|access)\b`;
const EXFIL = [
  String.raw`\bpass (its|the|their|all|this|that|your|his|her)?\s*(full\s+)?(content|contents|data|output|result|text|value|history|file)s?\b[^.]{0,40}\bas\b`,
  String.raw`\b(include|add|attach|append|put|insert|embed)\b[^.]{0,20}\b(full|complete|entire|whole) (list|copy|history|content|contents|log)s?\b`,
  String.raw`\bsend (a |all )?cop(y|ies) of\b`,
  String.raw`\b(bcc|cc)\b[^.]{0,80}@`,
  String.raw`\balways (bcc|cc|copy)\b`,
  String.raw`\b(use|via) the ['"\x60]?\w+['"\x60]? (field|param|parameter|argument) to (send|pass|include|store|copy)`,
  String.raw`\bforward (all|every|each|the) (message|email|mail|data|file)`,
  String.raw`\bsend all (emails|messages|mail)\b[^.]{0,40}\bto\b`,
  String.raw`\bchange (the )?recipient\b`,
];
const SINK_HOSTS = String.raw`\b(webhook\.site|requestbin\.\w+|pipedream\.net|ngrok(-free)?\.(io|app)|trycloudflare\.com|pastebin\.com|hastebin\.\w+|transfer\.sh|bit\.ly|tinyurl\.com|is\.gd|t\.co|burpcollaborator\.net|interact\.sh|oast\.\w+|canarytokens\.com)\b`;
const EMAIL = String.raw`\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}\b`;
const PHONE = String.raw`\+[1-9][0-9]{7,14}\b`;
const IPV4 = String.raw`\b(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3}\b`;
const EXTRACTION = String.raw`\b(system prompt|system message|conversation history|chat history|previous messages|prior messages|chain[- ]of[- ]thought|your (hidden )?instructions|(all|every) (the )?(tools|functions) (you have|available)|tool list|prior tool results|previous tool (results|outputs)|which model you are|your model name)\b`;
const EXTRACTION_PARAMS = /^(conversation_?history|chat_?history|system_?prompt|previous_?messages|chain_?of_?thought|tool_?list|model_?name|prior_?context)$/i;
const PAYLOAD = String.raw`\bcurl\b[^|\n]{0,120}\|\s*(sudo\s+)?(ba|z)?sh\b|\bwget\b[^|\n]{0,120}\|\s*(ba)?sh\b|\bchmod\s+(-R\s+)?[0-7]{3,4}\b|\brm\s+-(rf|fr|r)\b|\bpowershell(\.exe)?\s+-(e|enc|encodedcommand)\b|\bnc\s+-e\b|\bbash\s+-i\s*>&|/dev/tcp/|\bmkfifo\b|(\.\./){2,}|\bpath traversal\b|\(\.\./\)`;
const CROSS_DIRECTIVE = String.raw`\b(when|whenever|if|before|after|each time)\b[^.]{0,80}\b(invoked|called|used|available|run)\b|\b(must|should|always|never|make sure|instead|change|modify|side effect)\b`;
const WELL_KNOWN_TOOLS = ['send_email', 'send_message', 'send_mail', 'list_chats', 'read_file', 'write_file', 'execute_command', 'run_command', 'create_issue', 'send_slack_message', 'post_message', 'transfer_funds', 'git_push'];
const SIDE_CHANNEL = /^(notes?|sidenote|side_note|context|debug|metadata|extra|feedback|reasoning|remarks?|annotations?|comment|details|additional_?info|info)$/i;

function firstOf(text: string, patterns: string[]): string | undefined {
  for (const p of patterns) {
    const m = first(text, p);
    if (m) return m;
  }
  return undefined;
}

function sinksIn(text: string): string[] {
  const out: string[] = [];
  for (const p of [SINK_HOSTS, EMAIL, PHONE, IPV4]) {
    const m = first(text, p);
    if (m) out.push(m);
  }
  return out;
}

function decodeCandidates(raw: string): { evidence: string; text: string }[] {
  const out: { evidence: string; text: string }[] = [];
  for (const m of raw.matchAll(/[A-Za-z0-9+/]{40,}={0,2}|[A-Za-z0-9_-]{40,}/g)) {
    if (out.length >= 8) break;
    const s = m[0];
    const buf = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    const t = buf.toString('utf8');
    const printable = t.length > 0 && [...t].filter((c) => c >= ' ' && c <= '~').length / t.length > 0.9;
    if (printable) out.push({ evidence: s.slice(0, 48), text: t });
  }
  for (const m of raw.matchAll(/\b[0-9a-fA-F]{64,}\b/g)) {
    const t = Buffer.from(m[0], 'hex').toString('utf8');
    if ([...t].every((c) => c >= ' ' && c <= '~')) out.push({ evidence: m[0].slice(0, 48), text: t });
  }
  return out;
}

/** The TP signals of one string (a pure function of the text and the names of its server's tools). */
export function signals(raw: string, ctx: { serverTools: Set<string>; ownParams?: Set<string>; ownName?: string }, depth = 0): Signals {
  const text = normalize(raw);
  const s: Signals = { sinks: sinksIn(text), imperatives: count(text, String.raw`\byou (must|should|need to|have to|will)\b`), capsUrgency: count(text, String.raw`\b(MUST|IMPORTANT|CRITICAL|REQUIRED|ALWAYS|NEVER|VERY)\b`, 'g') };
  s.markup = first(text, MARKUP);
  s.conceal = firstOf(text, CONCEAL);
  s.coerce = firstOf(text, COERCE);
  s.sensitive = first(text, SENSITIVE);
  if (s.sensitive) s.sensitiveVerb = !!first(text, SENSITIVE_VERB);
  s.exfil = firstOf(text, EXFIL);
  s.extraction = first(text, EXTRACTION);
  s.payload = first(text, PAYLOAD);
  // Cross-tool references: identifiers that name another server's (or a well-known) tool, in a directive.
  const ids = new Set<string>();
  for (const m of text.matchAll(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/gi)) ids.add(m[0]);
  const foreign = [...ids].filter((id) => {
    const lower = id.toLowerCase();
    if (ctx.serverTools.has(id) || ctx.ownParams?.has(id) || id === ctx.ownName) return false;
    return WELL_KNOWN_TOOLS.includes(lower) || /^mcp_/.test(lower) || WELL_KNOWN_TOOLS.some((w) => lower.endsWith(`_${w}`));
  });
  const mcpPrefixed = first(text, String.raw`\(mcp_\w+\)`);
  if ((foreign.length || mcpPrefixed) && first(text, CROSS_DIRECTIVE)) s.crossRef = foreign[0] ?? mcpPrefixed;
  const h = hiddenChars(raw);
  if (h.count) s.hidden = h;
  const c = controlChars(raw);
  if (c.count) s.control = c;
  const pad = first(raw, String.raw`[ \x{00A0}\t]{20,}|(\r?\n[ \t]*){6,}`, '');
  if (pad) s.padding = pad.includes('\n') ? `${pad.split('\n').length - 1} line breaks` : `${pad.length} blank characters`;
  if (depth === 0) {
    for (const d of decodeCandidates(raw)) {
      const inner = signals(d.text, ctx, depth + 1);
      const fams = families(inner);
      s.encoded = { evidence: d.evidence, decodedFindings: fams };
      if (fams.length) break;
    }
  }
  return s;
}

/** The independent TP families present. */
function families(s: Signals): string[] {
  const f: string[] = [];
  if (s.markup) f.push('TP001');
  if (s.hidden) f.push('TP002');
  if (s.control) f.push('TP003');
  if (s.conceal) f.push('TP004');
  if (s.coerce) f.push('TP005');
  if (s.sensitive) f.push('TP006');
  if (s.exfil) f.push('TP007');
  if (s.crossRef) f.push('TP008');
  if (s.extraction) f.push('TP015');
  if (s.payload) f.push('TP016');
  return f;
}

interface Analysed {
  vt: VisibleText;
  s: Signals;
  fams: string[];
}

const memo = new WeakMap<LintContext, Analysed[]>();

export function analyse(ctx: LintContext): Analysed[] {
  let a = memo.get(ctx);
  if (a) return a;
  a = [];
  for (const server of ctx.servers) {
    const serverTools = new Set(server.tools.map((t) => t.name));
    for (const p of server.prompts) serverTools.add(p.name);
    const params = new Map(server.tools.map((t) => [t.name, new Set(Object.keys(props(t.inputSchema)))]));
    for (const vt of visibleTexts(server)) {
      if (vt.kind === 'tool-name' || vt.kind === 'param-name') continue;
      const s = signals(vt.text, { serverTools, ownParams: vt.owner ? params.get(vt.owner) : undefined, ownName: vt.owner });
      a.push({ vt, s, fams: families(s) });
    }
  }
  memo.set(ctx, a);
  return a;
}

export function props(schema: unknown): Record<string, unknown> {
  if (!schema || typeof schema !== 'object') return {};
  const p = (schema as Record<string, unknown>)['properties'];
  return p && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

function finding(rule: string, severity: Severity, a: Analysed, message: string, evidence?: string): Finding {
  const inInstructions = a.vt.kind === 'instructions';
  return {
    rule,
    severity: inInstructions ? raise(severity) : severity,
    target: `${a.vt.server.name}/${a.vt.target}`,
    message: inInstructions ? `${message} (in the server instructions, which reach the model before any tool is chosen)` : message,
    location: { file: a.vt.server.file, pointer: a.vt.pointer },
    evidence: evidence === undefined ? undefined : safeExcerpt(evidence),
    server: a.vt.server.name,
  };
}

function textRule(id: string, title: string, severity: Severity, help: string, pick: (a: Analysed) => { severity: Severity; message: string; evidence?: string } | undefined): Rule {
  return {
    id,
    title,
    severity,
    family: 'TP',
    help,
    check(ctx) {
      const out: Finding[] = [];
      for (const a of analyse(ctx)) {
        const r = pick(a);
        if (r) out.push(finding(id, r.severity, a, r.message, r.evidence));
      }
      return out;
    },
  };
}

const others = (a: Analysed, self: string) => a.fams.filter((f) => f !== self);

export const TP_RULES: Rule[] = [
  textRule('TP001', 'Pseudo-markup addressing the model', 'HIGH', 'Tags such as <IMPORTANT> or <system> in text a model reads are a hallmark of tool poisoning.', (a) =>
    a.s.markup ? { severity: others(a, 'TP001').some((f) => ['TP004', 'TP006', 'TP007', 'TP008', 'TP016'].includes(f)) ? 'CRIT' : 'HIGH', message: 'text addresses the model with pseudo-markup', evidence: a.s.markup } : undefined,
  ),
  textRule('TP002', 'Invisible, format or bidi characters', 'HIGH', 'Zero-width, bidi, tag and private-use characters hide text from people while the model still reads it.', (a) => {
    const h = a.s.hidden;
    if (!h) return undefined;
    const shadowBad = h.tagShadow.replace(/[^A-Za-z]/g, '').length >= 10;
    return { severity: shadowBad ? 'CRIT' : 'HIGH', message: `${h.count} hidden character(s): ${h.chars.map((c) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`).join(' ')}${h.tagShadow ? `; tag characters spell "${safeExcerpt(h.tagShadow, 60)}"` : ''}` };
  }),
  textRule('TP003', 'ANSI escapes or control characters', 'HIGH', 'Terminal escapes can hide or rewrite what a person sees in a console while the model reads the raw text.', (a) =>
    a.s.control ? { severity: 'HIGH', message: `${a.s.control.count} control character(s) or ANSI escape(s)`, evidence: a.s.control.sample } : undefined,
  ),
  textRule('TP004', 'Concealment from the user', 'HIGH', 'Text that tells the model to hide what it does from the person it works for.', (a) => (a.s.conceal ? { severity: 'HIGH', message: 'text tells the model to keep something from the user', evidence: a.s.conceal } : undefined)),
  textRule('TP005', 'Coercion or priority override', 'MED', 'Text that overrides earlier instructions, demands to be called first, or threatens failure to force compliance.', (a) => {
    if (a.s.coerce) return { severity: others(a, 'TP005').some((f) => ['TP001', 'TP004', 'TP007', 'TP008'].includes(f)) ? 'HIGH' : 'MED', message: 'text pressures the model or overrides its instructions', evidence: a.s.coerce };
    if (a.s.capsUrgency >= 4 && a.fams.length) return { severity: 'LOW', message: `${a.s.capsUrgency} capitalised urgency words` };
    return undefined;
  }),
  textRule('TP006', 'Reference to sensitive files or stores', 'MED', 'SSH keys, .env files, host MCP configs, cloud credentials: a tool description has no reason to point the model at them.', (a) =>
    a.s.sensitive ? { severity: a.s.sensitiveVerb ? 'HIGH' : 'MED', message: a.s.sensitiveVerb ? 'text asks the model to read or pass a sensitive file' : 'text names a sensitive file', evidence: a.s.sensitive } : undefined,
  ),
  textRule('TP007', 'Exfiltration instruction', 'CRIT', 'Text that tells the model to move data into a parameter, a copy or another recipient.', (a) => (a.s.exfil ? { severity: 'CRIT', message: 'text tells the model to move data somewhere it was not asked to', evidence: a.s.exfil } : undefined)),
  textRule('TP008', 'Reference to another server\'s tool', 'CRIT', 'Text that steers how the model uses a tool of another server (shadowing).', (a) => (a.s.crossRef ? { severity: 'CRIT', message: `text gives the model directions about a tool this server does not offer (${a.s.crossRef})`, evidence: a.s.crossRef } : undefined)),
  textRule('TP009', 'Hard-coded sink', 'MED', 'E-mail addresses, phone numbers, IP addresses or paste and tunnel hosts written into text a model reads.', (a) =>
    a.s.sinks.length && a.vt.kind !== 'resource' ? { severity: a.s.exfil || a.s.crossRef ? 'HIGH' : 'MED', message: `text carries a destination: ${a.s.sinks.map((x) => safeExcerpt(x, 60)).join(', ')}`, evidence: a.s.sinks[0] } : undefined,
  ),
  textRule('TP010', 'Encoded blob', 'MED', 'Base64 or hex in a description hides content from reviewers; decoded, it is scanned again.', (a) => {
    const e = a.s.encoded;
    if (!e) return undefined;
    return { severity: e.decodedFindings.length ? 'HIGH' : 'MED', message: e.decodedFindings.length ? `an encoded blob decodes to text that ${e.decodedFindings.join(', ')} flag` : 'an encoded blob that decodes to text', evidence: e.evidence };
  }),
  textRule('TP011', 'Padding that pushes text out of view', 'MED', 'Long runs of spaces or blank lines move instructions past what a person sees in a UI.', (a) => (a.s.padding ? { severity: 'MED', message: `padding: ${a.s.padding}` } : undefined)),
  {
    id: 'TP012',
    title: 'Name and description disagree',
    severity: 'MED',
    family: 'TP',
    help: 'A tool named for one thing whose text asks for another (an adder that wants your SSH key).',
    check(ctx) {
      const out: Finding[] = [];
      for (const a of analyse(ctx)) {
        if (a.vt.kind !== 'tool-description' || !a.vt.owner) continue;
        if (!(a.s.sensitive || a.s.exfil || a.s.payload || a.s.markup)) continue;
        const tokens = nameTokens(a.vt.owner).filter((t) => t.length > 2);
        const fileish = tokens.some((t) => /^(read|file|files|get|fetch|cat|open|load|secret|secrets|key|keys|ssh|config|env|credential|credentials|path|dir)$/.test(t));
        const firstSentence = normalize(a.vt.text).split(/[.\n]/)[0]!.toLowerCase();
        const mentioned = tokens.some((t) => firstSentence.includes(t.slice(0, Math.min(5, t.length))));
        if (!fileish || !mentioned) out.push(finding('TP012', 'MED', a, `"${a.vt.owner}" ${mentioned ? 'is named for something else than' : 'is not what its description starts by saying, and'} its text asks for files, data or commands`, firstSentence.slice(0, 80)));
      }
      return out;
    },
  },
  {
    id: 'TP013',
    title: 'Poisoning inside a parameter',
    severity: 'HIGH',
    family: 'TP',
    help: 'Schema descriptions, defaults and enum values are read by the model like the tool description.',
    check(ctx) {
      const out: Finding[] = [];
      for (const a of analyse(ctx)) {
        if (a.vt.kind !== 'param-text') continue;
        const fams = a.fams.filter((f) => f !== 'TP009');
        const optionalButRequired = first(normalize(a.vt.text), String.raw`\b(marked|is|as) optional\b[^.]{0,60}\b(required|must)\b`);
        if (fams.length || optionalButRequired) out.push(finding('TP013', 'HIGH', a, `a parameter's text carries ${fams.length ? fams.join(', ') : 'a "required although optional" demand'}`, optionalButRequired ?? a.s.markup ?? a.s.conceal ?? a.s.exfil ?? a.s.extraction));
      }
      return out;
    },
  },
  {
    id: 'TP014',
    title: 'Side-channel parameter',
    severity: 'LOW',
    family: 'TP',
    help: 'A free-text parameter such as notes, debug or metadata that the tool does not need is a channel for data the model should not send.',
    check(ctx) {
      const out: Finding[] = [];
      for (const server of ctx.servers) {
        for (const t of server.tools) {
          for (const [name, sch] of Object.entries(props(t.inputSchema))) {
            if (!SIDE_CHANNEL.test(name)) continue;
            const type = sch && typeof sch === 'object' ? (sch as Record<string, unknown>)['type'] : undefined;
            if (type !== undefined && type !== 'string' && type !== 'object') continue;
            const desc = normalize(t.description ?? '');
            const told = first(desc, String.raw`['"\x60]${name}['"\x60]|\b${name}\b (field|param|parameter|argument)`) !== undefined && !!first(desc, String.raw`\b(pass|include|put|send|add|use|provide)\b`);
            out.push({ rule: 'TP014', severity: told ? 'HIGH' : 'LOW', target: `${server.name}/${t.name}.inputSchema.properties.${name}`, message: told ? `the description tells the model to fill "${name}"` : `"${name}" is a free-text parameter the tool's purpose does not explain`, location: { file: server.file, pointer: `${t.pointer}/inputSchema/properties/${name}` }, server: server.name });
          }
        }
      }
      return out;
    },
  },
  {
    id: 'TP015',
    title: 'Extraction of model internals',
    severity: 'HIGH',
    family: 'TP',
    help: 'Asking for the system prompt, conversation history or other tools\' results, in text or as parameter names.',
    check(ctx) {
      const out: Finding[] = [];
      for (const a of analyse(ctx)) if (a.s.extraction) out.push(finding('TP015', 'HIGH', a, 'text asks for the model\'s context or internals', a.s.extraction));
      for (const server of ctx.servers)
        for (const t of server.tools)
          for (const name of Object.keys(props(t.inputSchema)))
            if (EXTRACTION_PARAMS.test(name)) out.push({ rule: 'TP015', severity: 'HIGH', target: `${server.name}/${t.name}.inputSchema.properties.${name}`, message: `parameter "${name}" asks for the model's context`, location: { file: server.file, pointer: `${t.pointer}/inputSchema/properties/${name}` }, server: server.name });
      return out;
    },
  },
  textRule('TP016', 'Command or code payload', 'HIGH', 'Shell pipelines, permission changes, reverse shells or traversal guidance in text a model reads.', (a) => (a.s.payload ? { severity: 'HIGH', message: 'text carries a command payload or traversal guidance', evidence: a.s.payload } : undefined)),
  textRule('TP017', 'Oversized or imperative text', 'INFO', 'Very long descriptions and many sentences addressed to "you" crowd the model\'s context and are a poisoning smell.', (a) => {
    if (a.vt.kind !== 'tool-description' && a.vt.kind !== 'instructions') return undefined;
    if (a.vt.text.length > 4000) return { severity: 'INFO', message: `${a.vt.text.length} characters` };
    if (a.s.imperatives >= 5) return { severity: 'LOW', message: `${a.s.imperatives} sentences tell the model what it must do` };
    return undefined;
  }),
  {
    id: 'TP018',
    title: 'Poisoning in server instructions',
    severity: 'HIGH',
    family: 'TP',
    help: 'Server instructions reach the model at initialisation, before any tool is chosen ("line jumping"); findings there are raised one step.',
    check(ctx) {
      const out: Finding[] = [];
      for (const a of analyse(ctx)) {
        if (a.vt.kind !== 'instructions' || a.fams.length === 0) continue;
        // finding() raises instruction findings one step: HIGH becomes CRIT.
        const base: Severity = a.fams.some((f) => ['TP001', 'TP002', 'TP004', 'TP006', 'TP007', 'TP008', 'TP015', 'TP016'].includes(f)) ? 'HIGH' : 'MED';
        out.push(finding('TP018', base, a, `server instructions carry ${a.fams.join(', ')}`));
      }
      return out;
    },
  },
  textRule('TP019', 'Poisoning in a prompt template', 'MED', 'Prompts are inserted into the conversation as if the user wrote them.', (a) =>
    (a.vt.kind === 'prompt' || a.vt.kind === 'prompt-text') && a.fams.length ? { severity: 'MED', message: `a prompt carries ${a.fams.join(', ')}` } : undefined,
  ),
];

/** The TP and NM checks pinning runs on a tool seen for the first time. */
export function screenServer(server: ServerModel): Finding[] {
  const ctx: LintContext = { servers: [server], documents: [] };
  return TP_RULES.flatMap((r) => r.check(ctx));
}
