/**
 * Identity and naming (NM): names outside the spec's character set, look-alike names (mixed scripts, confusable
 * skeletons), and duplicates.
 */
import { safeExcerpt } from '../text.js';
import type { Finding, Rule, ServerModel } from '../types.js';

/** Letters that look like ASCII letters (Cyrillic, Greek, Armenian, Latin look-alikes), mapped to what they mimic. */
const CONFUSABLES: Record<string, string> = {
  а: 'a', е: 'e', о: 'o', р: 'p', с: 'c', у: 'y', х: 'x', і: 'i', ј: 'j', ѕ: 's', ԁ: 'd', һ: 'h', ӏ: 'l', ԛ: 'q', ԝ: 'w', ց: 'g', ո: 'n', ս: 'u',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X', І: 'I', Ј: 'J', Ѕ: 'S',
  α: 'a', ο: 'o', ν: 'v', ρ: 'p', τ: 't', υ: 'u', ι: 'i', κ: 'k', χ: 'x', ε: 'e',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X',
  ı: 'i', ɡ: 'g', ℓ: 'l', '＿': '_', '‐': '-', '‑': '-', '–': '-',
};

/** A skeleton for comparison: NFKC, confusables folded, lower case, separators unified, 0/1 folded. */
export function skeleton(name: string): string {
  let out = '';
  for (const ch of name.normalize('NFKC')) out += CONFUSABLES[ch] ?? ch;
  return out.toLowerCase().replace(/[-.\s]/g, '_').replace(/0/g, 'o').replace(/[1l|]/g, 'i').replace(/rn/g, 'm');
}

function scripts(name: string): Set<string> {
  const s = new Set<string>();
  for (const ch of name) {
    if (/\p{Script=Latin}/u.test(ch)) s.add('Latin');
    else if (/\p{Script=Cyrillic}/u.test(ch)) s.add('Cyrillic');
    else if (/\p{Script=Greek}/u.test(ch)) s.add('Greek');
    else if (/\p{Script=Armenian}/u.test(ch)) s.add('Armenian');
    else if (/\p{L}/u.test(ch)) s.add('other');
  }
  return s;
}

const WELL_KNOWN = ['read_file', 'write_file', 'list_directory', 'search_files', 'fetch', 'send_email', 'send_message', 'execute_command', 'run_command', 'get_file_contents', 'create_issue', 'create_pull_request', 'query', 'search'];

function names(server: ServerModel): { kind: string; name: string; pointer: string }[] {
  return [
    ...server.tools.map((t) => ({ kind: 'tool', name: t.name, pointer: `${t.pointer}/name` })),
    ...server.prompts.map((p) => ({ kind: 'prompt', name: p.name, pointer: `${p.pointer}/name` })),
  ];
}

export const NM_RULES: Rule[] = [
  {
    id: 'NM001',
    title: 'Name outside the tool-name character set',
    severity: 'WARN',
    family: 'NM',
    help: 'Tool names SHOULD be 1–128 characters of A-Z a-z 0-9 _ - . (MCP 2025-11-25); non-ASCII names are how look-alikes get in.',
    check(ctx) {
      const out: Finding[] = [];
      for (const server of ctx.servers)
        for (const t of server.tools) {
          if (/^[A-Za-z0-9_.-]{1,128}$/.test(t.name)) continue;
          const nonAscii = /[^\x00-\x7f]/.test(t.name);
          out.push({ rule: 'NM001', severity: nonAscii ? 'HIGH' : 'WARN', target: `${server.name}/${safeExcerpt(t.name)}`, message: nonAscii ? 'the tool name has non-ASCII characters' : 'the tool name has characters outside A-Z a-z 0-9 _ - . or is longer than 128', location: { file: server.file, pointer: `${t.pointer}/name` }, evidence: safeExcerpt([...t.name].map((c) => (c.charCodeAt(0) > 127 ? `<U+${c.codePointAt(0)!.toString(16).toUpperCase()}>` : c)).join('')), server: server.name });
        }
      return out;
    },
  },
  {
    id: 'NM002',
    title: 'Look-alike name',
    severity: 'HIGH',
    family: 'NM',
    help: 'A name that mixes scripts, or whose confusable skeleton equals another tool\'s or a well-known tool\'s name, impersonates it.',
    check(ctx) {
      const out: Finding[] = [];
      const all = ctx.servers.flatMap((s) => s.tools.map((t) => ({ server: s, tool: t, sk: skeleton(t.name) })));
      // Tools by skeleton, in catalogue order (comparing every pair took 22 s over 5,000 tools).
      const bySkeleton = new Map<string, typeof all>();
      for (const e of all) {
        const same = bySkeleton.get(e.sk);
        if (same) same.push(e);
        else bySkeleton.set(e.sk, [e]);
      }
      const known = WELL_KNOWN.map((w) => ({ w, sk: skeleton(w) }));
      for (const { server, tool, sk } of all) {
        const sc = scripts(tool.name);
        const mixed = sc.size > 1;
        const twin = bySkeleton.get(sk)!.find((o) => o.tool !== tool && o.tool.name !== tool.name);
        const knownName = known.find((k) => k.w !== tool.name && k.sk === sk)?.w;
        if (!mixed && !twin && !knownName) continue;
        const what = twin ? `looks like "${twin.tool.name}"${twin.server !== server ? ` of ${twin.server.name}` : ''}` : knownName ? `looks like the well-known "${knownName}"` : `mixes ${[...sc].join(' and ')} letters`;
        out.push({ rule: 'NM002', severity: 'HIGH', target: `${server.name}/${safeExcerpt(tool.name)}`, message: `the tool name ${what}`, location: { file: server.file, pointer: `${tool.pointer}/name` }, evidence: [...tool.name].map((c) => (c.charCodeAt(0) > 127 ? `<U+${c.codePointAt(0)!.toString(16).toUpperCase()}>` : c)).join(''), server: server.name });
      }
      return out;
    },
  },
  {
    id: 'NM003',
    title: 'Duplicate name',
    severity: 'ERROR',
    family: 'NM',
    help: 'Two tools (or prompts, or resources) with one name in one server: which one runs is up to the client.',
    check(ctx) {
      const out: Finding[] = [];
      for (const server of ctx.servers) {
        const seen = new Map<string, string>();
        for (const n of names(server)) {
          const key = `${n.kind}\n${n.name}`;
          if (seen.has(key)) out.push({ rule: 'NM003', severity: 'ERROR', target: `${server.name}/${safeExcerpt(n.name)}`, message: `${n.kind} "${safeExcerpt(n.name)}" is defined twice`, location: { file: server.file, pointer: n.pointer }, server: server.name });
          else seen.set(key, n.pointer);
        }
        const uris = new Set<string>();
        for (const r of server.resources) {
          if (uris.has(r.uri)) out.push({ rule: 'NM003', severity: 'ERROR', target: `${server.name}/resource ${safeExcerpt(r.uri)}`, message: 'resource URI listed twice', location: { file: server.file, pointer: `${r.pointer}/uri` }, server: server.name });
          uris.add(r.uri);
        }
      }
      return out;
    },
  },
  {
    id: 'NM004',
    title: 'Name collision across servers',
    severity: 'WARN',
    family: 'NM',
    help: 'Two servers in one config expose the same tool name; clients must prefix to tell them apart, and the model may call the wrong one.',
    check(ctx) {
      const out: Finding[] = [];
      const byName = new Map<string, ServerModel[]>();
      for (const s of ctx.servers)
        for (const t of s.tools) {
          const have = byName.get(t.name);
          if (have) have.push(s);
          else byName.set(t.name, [s]);
        }
      for (const [name, servers] of byName) {
        const distinct = [...new Set(servers.map((s) => s.name))];
        if (distinct.length < 2) continue;
        const s = servers[1]!;
        const t = s.tools.find((x) => x.name === name)!;
        out.push({ rule: 'NM004', severity: 'WARN', target: `${s.name}/${safeExcerpt(name)}`, message: `"${safeExcerpt(name)}" is offered by ${distinct.join(' and ')}`, location: { file: s.file, pointer: `${t.pointer}/name` }, server: s.name });
      }
      return out;
    },
  },
];
