/**
 * Drift against a lock file (DR rules): what changed since the definitions were pinned.
 */
import { definitionHash, textHash, viewListings, type PinFile } from '../pin/pins.js';
import { capabilities } from './rules/cap.js';
import type { Finding, Rule } from './types.js';

/**
 * `views`: per server linted live, the hash of each view (`ui://` page) read from it (a lock file written with
 * `--pin-out` or by `mcp-warden pin` holds them); views are compared only for those servers. Views' listings (the host
 * `_meta` of their entries in a resource list) are compared wherever the list is, live or in a file.
 */
export function driftRules(lock: PinFile, views: ReadonlyMap<string, Record<string, string>> = new Map()): Rule[] {
  return [
    {
      id: 'DR',
      title: 'Drift since pinning',
      severity: 'MED',
      family: 'DR',
      help: 'Compared with the lock file: changed (DR001), new (DR002) and removed (DR003) tools, changed instructions (DR005), changed, new or removed views of a live server, and changed or new view listings (DR011); a new tool with the body of a removed one is a rename.',
      check(ctx) {
        const out: Finding[] = [];
        const caps = capabilities(ctx);
        for (const s of ctx.servers) {
          const sp = lock.servers[s.name];
          if (!sp) continue;
          const f = (rule: string, severity: Finding['severity'], target: string, message: string, pointer: string) => out.push({ rule, severity, target: `${s.name}/${target}`, message, location: { file: s.file, pointer }, server: s.name });
          const present = new Set(s.tools.map((t) => t.name));
          for (const t of s.tools) {
            const h = definitionHash('tools', t.raw);
            const pinned = sp.tools[t.name];
            if (pinned?.hash === h.hash) continue;
            const c = caps.get(t)!;
            if (pinned) {
              f('DR001', c.has('CAP-EXEC') || c.has('CAP-CRED') ? 'HIGH' : 'MED', t.name, `${t.name} changed since it was pinned`, t.pointer);
              continue;
            }
            const twin = Object.entries(sp.tools).find(([n, p]) => p.body === h.body && !present.has(n));
            if (twin) f('DR001', 'MED', t.name, `${t.name} is ${twin[0]} renamed`, t.pointer);
            else f('DR002', c.has('CAP-EXEC') || c.has('CAP-CRED') || c.has('CAP-FS-WRITE') ? 'HIGH' : 'MED', t.name, `${t.name} is new since the server was pinned${c.size ? ` (${[...c.keys()].join(', ')})` : ''}`, t.pointer);
          }
          for (const n of Object.keys(sp.tools)) if (!present.has(n)) f('DR003', 'INFO', n, `${n} was removed since pinning`, s.pointer);
          if (s.instructions && sp.instructions !== textHash(s.instructions.text)) f('DR005', 'HIGH', 'instructions', 'server instructions changed since pinning', s.instructions.pointer);
          else if (!s.instructions && sp.instructions && s.format === 'live') f('DR005', 'HIGH', 'instructions', 'server instructions were removed since pinning', s.pointer);
          const read = views.get(s.name);
          if (read) {
            // A view is code the host runs, shown tool results and able to call tools: a changed page is HIGH.
            for (const [uri, hash] of Object.entries(read)) {
              const pinned = sp.views[uri];
              if (pinned?.hash === hash) continue;
              f('DR011', pinned ? 'HIGH' : 'MED', uri, pinned ? `the view ${uri} changed since it was pinned` : `the view ${uri} is new since the server was pinned`, s.pointer);
            }
            for (const uri of Object.keys(sp.views)) if (!(uri in read)) f('DR011', 'INFO', uri, `the view ${uri} was not found (removed, or could not be read) since pinning`, s.pointer);
          }
          // A view's listing (the CSP domains, the devices) applies to a page that has none of its own; one removed
          // leaves the page its own settings or the host's strictest, so only a change or an addition counts.
          const listed = viewListings(s);
          const at = listed.size ? new Map(s.resources.filter((x) => !x.template).map((x) => [x.uri, x.pointer])) : undefined;
          for (const [uri, hash] of listed) {
            const pinned = sp.viewListings[uri];
            if (pinned?.hash === hash) continue;
            f('DR011', pinned ? 'HIGH' : 'MED', uri, pinned ? `the listing of the view ${uri} (its _meta in resources/list) changed since it was pinned` : `the listing of the view ${uri} (its _meta in resources/list) is new since the server was pinned`, at?.get(uri) ?? s.pointer);
          }
        }
        return out;
      },
    },
  ];
}
