/**
 * A least-privilege policy drafted from capability labels and findings (`lint --policy-out`, `policy init
 * --from`): deny tools that run commands or touch credentials, ask a person before writes, sends, destructive,
 * infrastructure and money tools, allow what only reads — unless the linter found poisoning in it, which is
 * denied too. Default deny, so tools that appear later are refused until the policy says otherwise. Annotations
 * can make a tool stricter (destructiveHint: true → ask), never looser. The views (MCP Apps `ui://` pages) of the
 * tools it allows or asks about are allowed to be read; nothing else of the server's resources is.
 */
import { stringify } from 'yaml';
import { viewUris } from '../pin/pins.js';
import { capabilities, type Capability } from './rules/cap.js';
import { SEVERITY_RANK, type Finding, type LintContext, type ServerModel } from './types.js';

const DENY: Capability[] = ['CAP-EXEC', 'CAP-CRED', 'CAP-BROWSER'];
const ASK: Capability[] = ['CAP-FS-WRITE', 'CAP-DESTRUCTIVE', 'CAP-NET-SEND', 'CAP-DB-WRITE', 'CAP-INFRA-WRITE', 'CAP-FIN'];

export interface Draft {
  yaml: string;
  deny: string[];
  ask: string[];
  allow: string[];
  /** Tools named in no rule (default deny refuses them): their name, or their server's, holds a glob character. */
  leftOut: number;
}

/**
 * A name a policy would read as a glob (`*` any run, `?` one character): a server names its tools, and a host config
 * its servers, so `*` in the allow rule would have allowed every tool, those the server adds later included. Such
 * names go into no rule; default deny refuses them.
 */
function globLike(name: string): boolean {
  return name.includes('*') || name.includes('?');
}

function ruleId(server: string, what: string): string {
  return `${server.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'server'}-${what}`;
}

/** What a draft holds, in words, for the line the CLI prints. */
export function draftCounts(d: Draft): string {
  return `${d.allow.length} allowed, ${d.ask.length} ask, ${d.deny.length} denied${d.leftOut ? `, ${d.leftOut} left to the default deny (a name with * or ?)` : ''}`;
}

export function draftPolicy(ctx: LintContext, findings: Finding[], serverName?: (s: ServerModel) => string): Draft {
  const caps = capabilities(ctx);
  const rules: Record<string, unknown>[] = [];
  const deny: string[] = [];
  const ask: string[] = [];
  const allow: string[] = [];
  let leftOut = 0;
  for (const s of ctx.servers) {
    if (!s.tools.length) continue;
    const name = serverName?.(s) ?? s.name;
    if (globLike(name)) {
      leftOut += s.tools.length;
      continue;
    }
    const toolsWith = (which: (rule: string) => boolean) => new Set(findings.filter((f) => which(f.rule) && SEVERITY_RANK[f.severity] >= SEVERITY_RANK.MED && f.server === s.name).map((f) => f.target.split('/')[1]?.split('.')[0]));
    // A tool the policy denies is hidden: its definition, and a secret in it (TP020), never reaches the model.
    const poisoned = toolsWith((r) => r.startsWith('TP') && r !== 'TP020');
    const leaking = toolsWith((r) => r === 'TP020');
    const d: string[] = [];
    const a: string[] = [];
    const ok: string[] = [];
    const why: string[] = [];
    for (const t of s.tools) {
      const c = caps.get(t)!;
      if (globLike(t.name)) leftOut++;
      else if (poisoned.has(t.name) || leaking.has(t.name)) {
        d.push(t.name);
        const reasons = [poisoned.has(t.name) && 'poisoning findings', leaking.has(t.name) && 'a secret in its definition'].filter(Boolean);
        why.push(`${t.name}: ${reasons.join(', ')}`);
      } else if (DENY.some((x) => c.has(x))) {
        d.push(t.name);
        why.push(`${t.name}: ${DENY.filter((x) => c.has(x)).join(', ')}`);
      } else if (ASK.some((x) => c.has(x)) || t.annotations?.['destructiveHint'] === true) a.push(t.name);
      else ok.push(t.name);
    }
    if (d.length) rules.push({ id: ruleId(name, 'deny'), effect: 'deny', servers: [name], tools: d, description: `runs commands, touches credentials, carries poisoning or a secret (${why.join('; ').slice(0, 300)})`, message: 'this tool is denied by the least-privilege policy drafted by mcp-warden lint' });
    if (a.length) rules.push({ id: ruleId(name, 'ask'), effect: 'ask', servers: [name], tools: a, description: 'writes, sends, deletes or changes infrastructure: a person approves each call' });
    if (ok.length) rules.push({ id: ruleId(name, 'read'), effect: 'allow', servers: [name], tools: ok, description: 'reads only (as classified by mcp-warden lint)' });
    // The views (MCP Apps ui:// pages) of the tools a person may use: default deny would refuse the host reading them,
    // and show those tools without their pages. A denied tool's view stays refused; a URI with * or ? is no glob here.
    const usable = new Set([...a, ...ok]);
    const views = [...new Set(s.tools.filter((t) => usable.has(t.name)).flatMap((t) => viewUris(t.raw)))].filter((u) => !globLike(u));
    if (views.length) rules.push({ id: ruleId(name, 'views'), effect: 'allow', servers: [name], resources: views, description: 'the views (ui:// pages) of the tools above, which the host reads to show their results; their pages are pinned' });
    deny.push(...d);
    ask.push(...a);
    allow.push(...ok);
  }
  const doc = {
    version: 1,
    description: 'least-privilege draft from mcp-warden lint: review before use',
    default: 'deny',
    rules,
  };
  const header = [
    '# yaml-language-server: $schema=https://raw.githubusercontent.com/mcp-warden/mcp-warden/main/schemas/policy.schema.json',
    '#',
    '# Drafted by `mcp-warden lint` from capability labels. Review it: add argument constraints (paths under your',
    '# directories, allowed hosts) to the allow rules, and keep default: deny so tools that appear later are refused.',
    ...(leftOut ? [`#`, `# ${leftOut} tool(s) are in no rule, so default: deny refuses them: their name or their server's holds * or ?, which a`, '# policy reads as a glob (a tool named * in an allow rule would allow every tool).'] : []),
  ].join('\n');
  return { yaml: `${header}\n${stringify(doc, { lineWidth: 120 })}`, deny, ask, allow, leftOut };
}
