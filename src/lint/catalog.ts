/**
 * Titles and help for every rule id the linter reports (rule modules may report several ids: the format rules
 * report SJ/MB/CF ids, the capability rule reports one CAP-* id per label). Used for SARIF rule descriptors, the
 * text output's legend and docs/lint.md. Ids are stable across releases.
 */
import { RULES } from './run.js';

export interface RuleInfo {
  id: string;
  title: string;
  help: string;
  tags: string[];
  /** OWASP MCP Top 10 (beta) item. */
  owasp?: string;
}

const EXTRA: Omit<RuleInfo, 'tags'>[] = [
  { id: 'CF001', title: 'Unreadable file or unknown shape', help: 'The input is neither a tools/prompts/resources list, a server.json, an MCPB manifest, a host config nor a Docker catalog; or an item of a list is not a tool, prompt or resource (an object with a string name, or uri), so it was not reviewed.' },
  { id: 'CF002', title: 'Plaintext secret in a host config', help: 'A token, key or password written into env, headers, args, a URL query or (mcp-warden\'s config) `auth.token` / `auth.client_secret`. Use ${input:…}, ${env:…}, ${VAR}, a keychain or a `*_file` (in Codex\'s config.toml, env_vars = ["NAME"]).', owasp: 'MCP01' },
  { id: 'CF003', title: 'Insecure or deprecated transport', help: 'http:// or ws:// to a non-loopback host (credentials and tool traffic in clear), or the deprecated HTTP+SSE transport: the entry\'s own url, or the one `mcp-warden wrap --url` connects to (CF002 reads that URL\'s query too); also an entry\'s env that turns certificate checks off (NODE_TLS_REJECT_UNAUTHORIZED=0, PYTHONHTTPSVERIFY=0, GIT_SSL_NO_VERIFY).', owasp: 'MCP07' },
  { id: 'CF004', title: 'Unpinned launch', help: 'npx/uvx/docker without a version or digest runs whatever is published next. In an entry that runs `mcp-warden wrap -- …`, mcp-warden\'s own launch and the server\'s command are checked each on its own (so are CF005 and CF006).', owasp: 'MCP04' },
  { id: 'CF005', title: 'Shell wrapper or inline script', help: 'sh -c, cmd /c, pipes to a shell, && or $(…) in a server launch.', owasp: 'MCP05' },
  { id: 'CF006', title: 'Dangerous launch', help: 'sudo, rm -rf, chmod 777, privileged docker, host network, Docker socket or credential folders mounted.', owasp: 'MCP05' },
  { id: 'CF007', title: 'Command with embedded spaces', help: 'Clients split a command with spaces differently; put arguments in args.' },
  { id: 'CF008', title: 'Filesystem server granted a whole root', help: '/, ~ or the whole home given to a filesystem server.', owasp: 'MCP02' },
  { id: 'CF011', title: "mcp-warden's config moved by the entry", help: "MCP_WARDEN_CONFIG or MCP_WARDEN_STATE_DIR in an entry's env (or, for an entry that runs mcp-warden wrap, XDG_CONFIG_HOME, XDG_STATE_HOME or HOME), or wrap's --config, --policy or --audit-db as a relative path or a project variable (${workspaceFolder}), decides which config, policy and audit trail apply: from a project's config, the project's own. MCP_WARDEN_NO_KEYCHAIN in an entry's env moves the key to its stored OAuth tokens from the OS keychain to a file beside them.", owasp: 'MCP02' },
  { id: 'CF012', title: 'Entry env acts inside mcp-warden', help: "For an entry that runs mcp-warden wrap, a variable of its env that loads code into mcp-warden itself (NODE_OPTIONS, NODE_PATH, LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, DYLD_*: HIGH) or changes its TLS trust (NODE_TLS_REJECT_UNAUTHORIZED, NODE_EXTRA_CA_CERTS: MED): from a project's config, code beside the audit key and the policy, outside any sandbox of the server.", owasp: 'MCP05' },
  { id: 'CF013', title: 'Key set twice', help: 'A JSON object that sets a key more than once. JSON.parse and the hosts keep the last value; a person reading the file or reviewing its diff often sees the first, so a project can show one command and run another. An ERROR: such a file does not pass.', owasp: 'MCP05' },
  { id: 'CF010', title: 'Auto-approval', help: 'alwaysAllow, autoApprove or enableAllProjectMcpServers let tools run without a person.', owasp: 'MCP02' },
  { id: 'SJ001', title: 'server.json schema', help: 'Missing or unknown $schema, outdated schema date, missing required fields.' },
  { id: 'SJ003', title: 'Server name not namespace/name', help: 'Reverse-DNS namespace, one slash, alphanumeric at both ends, at most 200 characters.' },
  { id: 'SJ004', title: 'Description or title out of bounds', help: 'description 1–100 characters; title not only whitespace.' },
  { id: 'SJ005', title: 'Version range, latest or placeholder', help: 'Server and package versions must be exact; ${…} placeholders must be resolved before publishing.', owasp: 'MCP04' },
  { id: 'SJ006', title: 'Package version missing or latest', help: 'npm, PyPI and NuGet packages need an exact version.', owasp: 'MCP04' },
  { id: 'SJ007', title: 'Package integrity', help: 'MCPB packages need fileSha256; OCI images need a tag (INFO: pin a digest).', owasp: 'MCP04' },
  { id: 'SJ009', title: 'Remote URL', help: 'Remotes over https, not loopback or private addresses; a user-chosen host receiving secret headers.', owasp: 'MCP07' },
  { id: 'SJ010', title: 'Transport mismatch', help: 'stdio with a url, or http/sse without one.' },
  { id: 'SJ011', title: 'Undefined URL variable', help: 'Every {var} in a remote URL needs a definition in variables.' },
  { id: 'SJ012', title: 'Argument problems', help: 'Positional arguments without value or valueHint, bad named-argument names, values starting with the flag, shell metacharacters.', owasp: 'MCP05' },
  { id: 'SJ013', title: 'runtimeArguments without runtimeHint', help: 'Clients need the runtime (npx, uvx, docker) to apply runtime arguments.' },
  { id: 'SJ014', title: 'Unreachable server', help: 'Neither packages nor remotes.' },
  { id: 'SJ015', title: 'Secret input not marked', help: 'Secret-looking env, header or argument names need isSecret: true and no literal value or default.', owasp: 'MCP01' },
  { id: 'SJ016', title: '_meta the registry drops', help: 'Only io.modelcontextprotocol.registry/publisher-provided is kept, up to 4 KB.' },
  { id: 'SJ017', title: 'Icon hygiene', help: 'Icons over https; SVG can carry script.' },
  { id: 'SJ018', title: 'Repository missing', help: 'A repository lets reviewers find the source (and the registry detect resurrection attacks).' },
  { id: 'SJ019', title: 'Deprecated SSE transport', help: 'HTTP+SSE is deprecated since 2025-03-26.' },
  { id: 'MB001', title: 'MCPB manifest fails its strict schema', help: 'Unknown keys, missing fields or bad values for the declared manifest_version (mcpb validate rejects them).' },
  { id: 'MB002', title: 'manifest_version missing or unsupported', help: 'Supported: 0.1–0.4; dxt_version alone is deprecated.' },
  { id: 'MB004', title: 'Secret passed in args', help: 'A sensitive user_config value interpolated into args is visible in process lists; use env.', owasp: 'MCP01' },
  { id: 'MB005', title: 'Secret user_config not sensitive', help: 'api_key, token or password settings need sensitive: true.', owasp: 'MCP01' },
  { id: 'MB006', title: 'Broad directory default', help: 'A directory or file setting defaulting to ${HOME}, / or a drive root.', owasp: 'MCP02' },
  { id: 'DR001', title: 'Tool changed since pinning', help: 'The definition differs from the lock file (a rename is reported here too).', owasp: 'MCP03' },
  { id: 'DR002', title: 'New tool since pinning', help: 'A tool the lock file does not know.', owasp: 'MCP02' },
  { id: 'DR003', title: 'Tool removed since pinning', help: 'Informational: removing a tool takes no power away from anyone.' },
  { id: 'DR005', title: 'Instructions changed since pinning', help: 'Server instructions reach the model before any tool is chosen.', owasp: 'MCP03' },
  { id: 'DR011', title: 'View changed since pinning', help: 'A live server\'s view (an MCP Apps ui:// page) differs from the lock file (HIGH: code the host runs, shown tool results and able to call tools), is new (MED), or was not found (INFO); so does the listing of a view, live or in a file (the _meta.ui of its resources/list entry, which hosts apply to a page without its own: HIGH when changed, MED when new).', owasp: 'MCP03' },
  { id: 'CAP-EXEC', title: 'Runs commands or code', help: 'Shell commands, scripts or code evaluation: the widest capability a tool can have.', owasp: 'MCP05' },
  { id: 'CAP-BROWSER', title: 'Automates a browser', help: 'Runs code or actions in the user\'s browser session.' },
  { id: 'CAP-FS-READ', title: 'Reads files', help: 'Reads files or directories.' },
  { id: 'CAP-FS-WRITE', title: 'Writes files', help: 'Creates, edits, moves files, or changes a git working tree.' },
  { id: 'CAP-DESTRUCTIVE', title: 'Destructive', help: 'Deletes, resets, merges, pushes or overwrites.' },
  { id: 'CAP-NET-EGRESS', title: 'Reaches the network', help: 'Fetches URLs the model chooses (SSRF-prone).' },
  { id: 'CAP-NET-SEND', title: 'Sends or publishes', help: 'Sends messages, e-mail, comments, gists: a public sink.' },
  { id: 'CAP-CRED', title: 'Touches credentials', help: 'Returns or handles secrets, tokens, passwords or the environment.', owasp: 'MCP01' },
  { id: 'CAP-DB-WRITE', title: 'Writes a database', help: 'Changes database content.' },
  { id: 'CAP-INFRA', title: 'Reads infrastructure', help: 'Kubernetes, cloud, Helm, Terraform, DNS.' },
  { id: 'CAP-INFRA-WRITE', title: 'Changes infrastructure', help: 'Deletes, scales, installs or switches infrastructure.' },
  { id: 'CAP-FIN', title: 'Moves money', help: 'Payments, transfers, refunds, trades.' },
  { id: 'CAP-UNTRUSTED-INPUT', title: 'Returns content others wrote', help: 'Web pages, issues, comments, mail, chat: where prompt injections come from.', owasp: 'MCP06' },
  { id: 'CAP-PRIVATE-DATA', title: 'Reads private data', help: 'Private repositories, files, mail, databases.' },
];

const OWASP: Record<string, string> = { TP: 'MCP03', NM: 'MCP09', TF: 'MCP06', DR: 'MCP03' };
/** Rules whose OWASP item is not their family's. */
const OWASP_OF: Record<string, string> = { TP020: 'MCP01' };

export function ruleInfo(id: string): RuleInfo {
  const extra = EXTRA.find((e) => e.id === id);
  const family = id.startsWith('CAP-') ? 'CAP' : id.slice(0, 2);
  const tags = ['security', 'mcp', family];
  if (extra) return { ...extra, tags: extra.owasp ? [...tags, `OWASP-${extra.owasp}`] : tags };
  const r = RULES.find((x) => x.id === id);
  const owasp = OWASP_OF[id] ?? OWASP[family];
  if (r) return { id, title: r.title, help: r.help, tags: owasp ? [...tags, `OWASP-${owasp}`] : tags, owasp };
  return { id, title: id, help: '', tags };
}

/** Every id the linter can report, for docs and SARIF. */
export function allRuleIds(): string[] {
  const direct = RULES.filter((r) => !['CAP', 'SJ', 'MB', 'CF', 'DR'].includes(r.id)).map((r) => r.id);
  return [...direct, ...EXTRA.map((e) => e.id)];
}
