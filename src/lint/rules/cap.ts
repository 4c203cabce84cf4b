/**
 * Capability labels (CAP-*) and toxic flows (TF). Deterministic and explainable: each label lists the signals
 * that produced it (name tokens, parameters, description phrases, annotations). Annotations may add a label
 * (destructiveHint: true) but never remove one — they come from the server and are untrusted.
 */
import { first, nameTokens, normalize } from '../text.js';
import type { Finding, LintContext, Rule, ServerModel, Severity, ToolModel } from '../types.js';
import { props } from './tp.js';

export type Capability =
  | 'CAP-EXEC'
  | 'CAP-BROWSER'
  | 'CAP-FS-READ'
  | 'CAP-FS-WRITE'
  | 'CAP-DESTRUCTIVE'
  | 'CAP-NET-EGRESS'
  | 'CAP-NET-SEND'
  | 'CAP-CRED'
  | 'CAP-DB-WRITE'
  | 'CAP-INFRA'
  | 'CAP-INFRA-WRITE'
  | 'CAP-FIN'
  | 'CAP-UNTRUSTED-INPUT'
  | 'CAP-PRIVATE-DATA';

export const CAP_SEVERITY: Record<Capability, Severity> = {
  'CAP-EXEC': 'HIGH',
  'CAP-CRED': 'HIGH',
  'CAP-BROWSER': 'HIGH',
  'CAP-FS-WRITE': 'MED',
  'CAP-DESTRUCTIVE': 'MED',
  'CAP-INFRA-WRITE': 'MED',
  'CAP-DB-WRITE': 'MED',
  'CAP-FIN': 'MED',
  'CAP-FS-READ': 'LOW',
  'CAP-NET-EGRESS': 'LOW',
  'CAP-NET-SEND': 'LOW',
  'CAP-INFRA': 'LOW',
  'CAP-UNTRUSTED-INPUT': 'LOW',
  'CAP-PRIVATE-DATA': 'LOW',
};

const has = (tokens: Set<string>, words: string[]) => words.some((w) => tokens.has(w));

export interface Classified {
  labels: Map<Capability, string[]>;
}

/** The capability labels of one tool, each with the signals that produced it. */
export function classify(tool: ToolModel): Map<Capability, string[]> {
  const t = new Set(nameTokens(tool.name));
  const params = Object.keys(props(tool.inputSchema)).map((p) => p.toLowerCase());
  const desc = normalize(tool.description ?? '').toLowerCase();
  const ann = tool.annotations ?? {};
  const labels = new Map<Capability, string[]>();
  const add = (c: Capability, why: string) => labels.set(c, [...(labels.get(c) ?? []), why]);
  const schemaText = JSON.stringify(tool.inputSchema ?? {}).toLowerCase();
  const isGit = t.has('git');

  // Shell and code execution.
  const execVerb = has(t, ['exec', 'execute', 'run', 'eval', 'spawn', 'shell', 'bash', 'cmd', 'powershell', 'script', 'terminal']);
  const execParam = params.some((p) => /^(command|cmd|script|code|shell|shell_command|commandline|command_line)$/.test(p));
  const execText = first(desc, String.raw`\b(shell|terminal|bash|system) commands?\b|\bexecut\w* (arbitrary |any )?(code|commands?|scripts?)\b|\brun (a |any |arbitrary )?(shell|bash|terminal|system)? ?commands?\b|\b(python|javascript|js|node) code\b`, '');
  const browser = has(t, ['browser', 'tab', 'navigate', 'click', 'selector', 'screenshot', 'chrome', 'safari', 'page']) || !!first(desc, String.raw`\b(browser|web page|tab|chrome|safari|applescript)\b`, '');
  if (browser && (has(t, ['javascript', 'js', 'execute', 'run', 'eval']) || first(desc, String.raw`\b(javascript|execute|run)\b`, ''))) add('CAP-BROWSER', 'runs code or automation in a browser');
  else if ((execVerb && (execParam || execText)) || execParam || (execText && has(t, ['run', 'exec', 'execute', 'shell', 'command', 'eval']))) add('CAP-EXEC', execParam ? `parameter ${params.find((p) => /^(command|cmd|script|code|shell)/.test(p))}` : 'runs commands or code');

  // Files.
  const fileNoun = has(t, ['file', 'files', 'dir', 'directory', 'directories', 'folder', 'path', 'tree', 'fs']) || params.some((p) => /^(path|paths|file|filename|file_path|filepath|dir|directory|glob|source|destination)$/.test(p));
  const readVerb = has(t, ['read', 'list', 'get', 'search', 'tree', 'stat', 'find', 'info', 'view', 'show', 'cat', 'open', 'load']);
  const writeVerb = has(t, ['write', 'edit', 'create', 'move', 'rename', 'mkdir', 'copy', 'save', 'append', 'upload', 'touch', 'chmod', 'patch', 'apply', 'replace', 'update', 'put']);
  const gitWrite = isGit && has(t, ['commit', 'add', 'checkout', 'stage', 'unstage', 'reset', 'branch', 'merge', 'rebase', 'init', 'create', 'tag', 'stash', 'restore']) && !has(t, ['log', 'show', 'status', 'diff']);
  if (fileNoun && writeVerb) add('CAP-FS-WRITE', 'writes files');
  else if (gitWrite) add('CAP-FS-WRITE', 'changes a git working tree or history');
  else if (fileNoun && (readVerb || !writeVerb)) add('CAP-FS-READ', 'reads files or directories');

  // Destructive.
  const destructive = has(t, ['delete', 'remove', 'rm', 'drop', 'destroy', 'purge', 'truncate', 'reset', 'wipe', 'erase', 'merge', 'push', 'overwrite', 'kill', 'terminate', 'revoke', 'uninstall']);
  if (destructive) add('CAP-DESTRUCTIVE', `name says ${[...t].find((x) => ['delete', 'remove', 'rm', 'drop', 'destroy', 'purge', 'truncate', 'reset', 'wipe', 'erase', 'merge', 'push', 'overwrite', 'kill', 'terminate', 'revoke', 'uninstall'].includes(x))}`);
  else if (ann['destructiveHint'] === true) add('CAP-DESTRUCTIVE', 'annotated destructiveHint: true');

  // Network.
  const urlParam = params.some((p) => /^(url|uri|urls|endpoint|host|hostname|webhook|webhook_url|link|href|address)$/.test(p)) || /"format":"uri"/.test(schemaText);
  if (urlParam || first(desc, String.raw`\b(fetch(es)?|download(s)?|http request|https? get|retriev\w* (a |the )?url|from the internet|web page|crawl|scrape)\b`, '')) add('CAP-NET-EGRESS', urlParam ? 'takes a URL' : 'fetches from the network');
  const sendVerb = has(t, ['send', 'post', 'publish', 'email', 'mail', 'tweet', 'upload', 'gist', 'webhook', 'notify', 'reply', 'share', 'broadcast', 'dm', 'sms']);
  const recipient = params.some((p) => /^(to|cc|bcc|recipient|recipients|channel|channel_id|chat_id|phone|phone_number|email|address)$/.test(p));
  const publicWrite = has(t, ['create', 'add', 'open', 'submit', 'comment', 'write', 'update', 'request']) && has(t, ['comment', 'comments', 'gist', 'issue', 'pull', 'pr', 'review', 'message', 'post', 'tweet', 'discussion']);
  if (sendVerb || (recipient && !readVerb) || publicWrite) add('CAP-NET-SEND', sendVerb ? 'sends or publishes' : recipient ? 'takes a recipient' : 'writes where others read');

  // Credentials.
  const credToken = has(t, ['env', 'secret', 'secrets', 'token', 'tokens', 'password', 'passwords', 'credential', 'credentials', 'keychain', 'vault', 'apikey', 'cookie', 'cookies']);
  if (credToken || first(desc, String.raw`\b(environment variables|secrets?\b|credentials|api keys?|passwords?|access tokens?|cookies)\b`, '') && (readVerb || t.has('env') || first(desc, String.raw`\b(returns?|reads?|lists?|gets?|shows?|dumps?)\b`, ''))) add('CAP-CRED', credToken ? 'name says credentials or environment' : 'returns credentials or environment');

  // Databases.
  const sqlParam = params.some((p) => /^(sql|query|statement)$/.test(p));
  if ((has(t, ['query', 'sql', 'execute', 'exec']) && sqlParam && (has(t, ['write', 'insert', 'update', 'delete', 'execute']) || first(desc, String.raw`\b(insert|update|delete|drop|create table|alter)\b`, ''))) || has(t, ['insert', 'upsert'])) add('CAP-DB-WRITE', 'changes a database');

  // Infrastructure.
  const infraNoun = has(t, ['k8s', 'kubernetes', 'kubectl', 'pod', 'pods', 'deployment', 'deployments', 'helm', 'chart', 'charts', 'cluster', 'namespace', 'node', 'nodes', 'terraform', 'dns', 'instance', 'instances', 'container', 'containers', 'service', 'services', 'ingress', 'resource', 'resources', 'vm', 'stack', 'context', 'kubeconfig', 'release', 'releases', 'replica', 'replicas']) || !!first(desc, String.raw`\b(kubernetes|k8s|kubectl|helm|cluster|terraform|deployment)\b`, '');
  const infraWrite = has(t, ['delete', 'scale', 'install', 'upgrade', 'apply', 'create', 'patch', 'restart', 'rollout', 'drain', 'cordon', 'uninstall', 'rollback', 'deploy', 'destroy', 'exec', 'update', 'set', 'switch', 'use']);
  if (infraNoun && infraWrite && !isGit) add('CAP-INFRA-WRITE', 'changes infrastructure');
  else if (infraNoun && !isGit && !fileNoun) add('CAP-INFRA', 'reads infrastructure');

  // Money.
  if (!isGit && has(t, ['pay', 'payment', 'payments', 'transfer', 'charge', 'refund', 'trade', 'wallet', 'invoice', 'payout', 'purchase', 'buy', 'sell'])) add('CAP-FIN', 'moves money');

  // Content written by third parties, and private data.
  if (has(t, ['issue', 'issues', 'pull', 'pr', 'comment', 'comments', 'discussion', 'discussions', 'email', 'emails', 'inbox', 'mail', 'message', 'messages', 'chat', 'chats', 'ticket', 'tickets', 'review', 'reviews', 'notification', 'notifications', 'feed', 'post', 'posts', 'page', 'web', 'url']) && (readVerb || has(t, ['fetch'])) ||
    has(t, ['fetch', 'browse', 'scrape', 'crawl']) || (labels.has('CAP-NET-EGRESS') && readVerb) || (browser && has(t, ['get', 'read', 'content'])))
    add('CAP-UNTRUSTED-INPUT', 'returns content others wrote');
  if (labels.has('CAP-FS-READ') || (readVerb && has(t, ['repo', 'repository', 'repositories', 'file', 'contents', 'content', 'code', 'mail', 'email', 'inbox', 'message', 'messages', 'database', 'db', 'record', 'records', 'customer', 'customers', 'user', 'users', 'account', 'accounts', 'secret', 'secrets', 'document', 'documents'])) || (readVerb && first(desc, String.raw`\bprivate\b`, '')))
    add('CAP-PRIVATE-DATA', 'reads private data');
  return labels;
}

const memo = new WeakMap<LintContext, Map<ToolModel, Map<Capability, string[]>>>();

export function capabilities(ctx: LintContext): Map<ToolModel, Map<Capability, string[]>> {
  let m = memo.get(ctx);
  if (!m) {
    m = new Map();
    for (const s of ctx.servers) for (const t of s.tools) m.set(t, classify(t));
    memo.set(ctx, m);
  }
  return m;
}

function capFindings(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const caps = capabilities(ctx);
  for (const s of ctx.servers)
    for (const t of s.tools)
      for (const [c, why] of caps.get(t)!) out.push({ rule: c, severity: CAP_SEVERITY[c], target: `${s.name}/${t.name}`, message: `${t.name}: ${why.join('; ')}`, location: { file: s.file, pointer: t.pointer }, server: s.name, capabilities: [c] });
  return out;
}

function flows(server: ServerModel, caps: Map<ToolModel, Map<Capability, string[]>>): { source?: ToolModel; data?: ToolModel; sink?: ToolModel } {
  const find = (pred: (c: Map<Capability, string[]>) => boolean) => server.tools.find((t) => pred(caps.get(t)!));
  return {
    source: find((c) => c.has('CAP-UNTRUSTED-INPUT')),
    data: find((c) => c.has('CAP-PRIVATE-DATA') || c.has('CAP-CRED')),
    sink: find((c) => c.has('CAP-NET-SEND') || c.has('CAP-NET-EGRESS') || c.has('CAP-EXEC')),
  };
}

export const CAP_RULES: Rule[] = [
  {
    id: 'CAP',
    title: 'Capability labels',
    severity: 'INFO',
    family: 'CAP',
    help: 'What each tool can do — run commands, write files, reach the network, touch credentials — as a reviewer and a least-privilege policy need to know. EXEC, CRED and BROWSER report HIGH, file writes MED, the rest LOW.',
    check: capFindings,
  },
  {
    id: 'TF001',
    title: 'Toxic flow (untrusted input, private data and a sink)',
    severity: 'HIGH',
    family: 'TF',
    help: 'One agent can read content an attacker wrote, reach private data or credentials, and send data out: the "lethal trifecta". Within one server HIGH; across the servers of one config MED.',
    check(ctx) {
      const out: Finding[] = [];
      const caps = capabilities(ctx);
      for (const s of ctx.servers) {
        const f = flows(s, caps);
        if (f.source && f.data && f.sink) out.push({ rule: 'TF001', severity: 'HIGH', target: s.name, message: `in one server: ${f.source.name} returns content others wrote, ${f.data.name} reads private data, ${f.sink.name} sends data out`, location: { file: s.file, pointer: s.pointer }, server: s.name });
      }
      if (ctx.servers.length > 1) {
        const all = ctx.servers.map((s) => flows(s, caps));
        const source = all.findIndex((f) => f.source);
        const data = all.findIndex((f) => f.data);
        const sink = all.findIndex((f) => f.sink);
        const withinOne = ctx.servers.some((_, i) => all[i]!.source && all[i]!.data && all[i]!.sink);
        if (source >= 0 && data >= 0 && sink >= 0 && !withinOne && new Set([source, data, sink]).size > 1) {
          const s = ctx.servers[source]!;
          out.push({ rule: 'TF001', severity: 'MED', target: 'config', message: `across servers: ${ctx.servers[source]!.name} (${all[source]!.source!.name}) returns content others wrote, ${ctx.servers[data]!.name} (${all[data]!.data!.name}) reads private data, ${ctx.servers[sink]!.name} (${all[sink]!.sink!.name}) sends data out`, location: { file: s.file, pointer: '' } });
        }
      }
      return out;
    },
  },
  {
    id: 'TF002',
    title: 'One tool is both source and sink',
    severity: 'MED',
    family: 'TF',
    help: 'A tool that reads untrusted content and sends data out in the same call (fetch-and-post).',
    check(ctx) {
      const out: Finding[] = [];
      const caps = capabilities(ctx);
      for (const s of ctx.servers)
        for (const t of s.tools) {
          const c = caps.get(t)!;
          if (c.has('CAP-UNTRUSTED-INPUT') && c.has('CAP-NET-SEND')) out.push({ rule: 'TF002', severity: 'MED', target: `${s.name}/${t.name}`, message: `${t.name} reads content others wrote and sends data out`, location: { file: s.file, pointer: t.pointer }, server: s.name });
        }
      return out;
    },
  },
];
