/**
 * Validity and hygiene per input format: MCP Registry server.json (SJ), MCPB/DXT manifests (MB) and host configs
 * (CF). These rules read the document itself; the server model carries only what the text rules need.
 */
import path from 'node:path';
import { isObject } from '../../protocol/jsonrpc.js';
import { secretsDetector } from './secrets.js';
import type { Finding, LintContext, LintDocument, Rule, Severity } from '../types.js';
import { esc, safeExcerpt } from '../text.js';
import { insideWardenEnv, movesWarden, WRAP_VALUE_OPTIONS, wrapped } from '../../cli/install.js';

const SECRET_NAME = /(^|_|-)(token|key|secret|password|passwd|pwd|credential|credentials|auth|authorization|apikey|api_key|private)($|_|-)/i;

function docs(ctx: LintContext, format: LintDocument['format']): LintDocument[] {
  return ctx.documents.filter((d) => d.format === format);
}

function fd(rule: string, severity: Severity, d: LintDocument, pointer: string, message: string, target?: string): Finding {
  return { rule, severity, target: target ?? (pointer || d.file), message, location: { file: d.file, pointer } };
}

// ── server.json ──────────────────────────────────────────────────────────────────────────────────

const SCHEMA_DATES = ['2025-07-09', '2025-09-16', '2025-09-29', '2025-10-11', '2025-10-17', '2025-12-11'];
const LATEST = '2025-12-11';

function serverJson(d: LintDocument): { v: Record<string, unknown>; base: string } | undefined {
  const top = d.value;
  if (!isObject(top)) return undefined;
  if (isObject(top['server']) && typeof top['server']['name'] === 'string') return { v: top['server'], base: '/server' };
  return { v: top, base: '' };
}

function isRangeOrLatest(v: string): string | undefined {
  if (v === 'latest') return 'is "latest"';
  if (/\$\{[^}]*\}|\{[A-Za-z_][A-Za-z0-9_]*\}/.test(v)) return 'is an unresolved placeholder';
  if (/^[\^~]|^[<>]=?|\|\||\s-\s|\.[x*](\.|$)|^[x*]$/.test(v)) return 'is a range';
  return undefined;
}

function sjChecks(d: LintDocument): Finding[] {
  const out: Finding[] = [];
  const sj = serverJson(d);
  if (!sj) return out;
  const { v, base } = sj;
  const p = (k: string) => `${base}/${k}`;
  // SJ001: $schema.
  const schema = v['$schema'];
  if (typeof schema !== 'string') out.push(fd('SJ001', 'WARN', d, base, 'no $schema: the file does not say which server.json version it follows'));
  else {
    const date = /schemas\/(\d{4}-\d{2}-\d{2})\/server\.schema\.json/.exec(schema)?.[1];
    if (!date || !SCHEMA_DATES.includes(date)) out.push(fd('SJ001', 'WARN', d, p('$schema'), `unknown $schema ${schema.slice(0, 120)}`));
    else if (date !== LATEST) out.push(fd('SJ001', 'INFO', d, p('$schema'), `schema ${date} is outdated (latest ${LATEST})`));
  }
  for (const k of ['name', 'description', 'version']) if (typeof v[k] !== 'string') out.push(fd('SJ001', 'ERROR', d, base, `missing required "${k}"`));
  // SJ003 name.
  const name = v['name'];
  if (typeof name === 'string' && (!/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/.test(name) || name.length > 200 || !/^[a-zA-Z0-9].*[a-zA-Z0-9]\/[a-zA-Z0-9](.*[a-zA-Z0-9])?$/.test(name))) out.push(fd('SJ003', 'ERROR', d, p('name'), `name "${name.slice(0, 100)}" is not namespace/name (one slash, alphanumeric at both ends of each part, ≤ 200)`));
  // SJ004 description/title.
  const desc = v['description'];
  if (typeof desc === 'string' && (desc.length === 0 || desc.length > 100)) out.push(fd('SJ004', 'ERROR', d, p('description'), `description is ${desc.length} characters (1–100 allowed)`));
  if (typeof v['title'] === 'string' && !v['title'].trim()) out.push(fd('SJ004', 'ERROR', d, p('title'), 'title is only whitespace'));
  // SJ005 versions.
  if (typeof v['version'] === 'string') {
    const bad = isRangeOrLatest(v['version']);
    if (bad) out.push(fd('SJ005', bad.includes('placeholder') ? 'WARN' : 'ERROR', d, p('version'), `version "${v['version']}" ${bad}${bad.includes('placeholder') ? ' (fine in a source repository, an error at publish)' : ''}`));
  }
  const packages = Array.isArray(v['packages']) ? v['packages'] : [];
  const remotes = Array.isArray(v['remotes']) ? v['remotes'] : [];
  if (!packages.length && !remotes.length) out.push(fd('SJ014', 'WARN', d, base, 'neither packages nor remotes: nothing can reach this server'));
  packages.forEach((pkg, i) => {
    if (!isObject(pkg)) return;
    const pp = `${base}/packages/${i}`;
    const rt = String(pkg['registryType'] ?? '');
    const ver = pkg['version'];
    if (typeof ver === 'string') {
      const bad = isRangeOrLatest(ver);
      if (bad === 'is "latest"') out.push(fd('SJ006', 'ERROR', d, `${pp}/version`, `package version is "latest"`));
      else if (bad) out.push(fd('SJ005', bad.includes('placeholder') ? 'WARN' : 'ERROR', d, `${pp}/version`, `package version "${ver}" ${bad}`));
    } else if (['npm', 'pypi', 'nuget'].includes(rt)) out.push(fd('SJ006', 'ERROR', d, pp, `${rt} package without a version`));
    const id = typeof pkg['identifier'] === 'string' ? pkg['identifier'] : '';
    if (rt === 'oci') {
      if (/\$\{[^}]*\}/.test(id)) out.push(fd('SJ005', 'WARN', d, `${pp}/identifier`, `identifier tag ${id.slice(id.lastIndexOf(':'))} is an unresolved placeholder`));
      else if (!/[:@]/.test(id.split('/').pop() ?? '')) out.push(fd('SJ007', 'ERROR', d, `${pp}/identifier`, 'OCI image without a tag or digest'));
      else if (!id.includes('@sha256:')) out.push(fd('SJ007', 'INFO', d, `${pp}/identifier`, 'OCI image pinned by tag, not digest'));
    }
    if (rt === 'mcpb' && !(typeof pkg['fileSha256'] === 'string' && /^[a-f0-9]{64}$/.test(pkg['fileSha256']))) out.push(fd('SJ007', 'ERROR', d, pp, 'MCPB package without a valid fileSha256'));
    const transport = isObject(pkg['transport']) ? pkg['transport'] : {};
    if (transport['type'] === 'stdio' && transport['url'] !== undefined) out.push(fd('SJ010', 'ERROR', d, `${pp}/transport`, 'stdio transport with a url'));
    if ((transport['type'] === 'streamable-http' || transport['type'] === 'sse') && typeof transport['url'] !== 'string') out.push(fd('SJ010', 'ERROR', d, `${pp}/transport`, `${String(transport['type'])} transport without a url`));
    if (transport['type'] === 'sse') out.push(fd('SJ019', 'INFO', d, `${pp}/transport`, 'sse transport is deprecated'));
    if (Array.isArray(pkg['runtimeArguments']) && pkg['runtimeArguments'].length && typeof pkg['runtimeHint'] !== 'string') out.push(fd('SJ013', 'INFO', d, `${pp}/runtimeArguments`, 'runtimeArguments without runtimeHint'));
    for (const key of ['runtimeArguments', 'packageArguments'] as const) {
      const args = Array.isArray(pkg[key]) ? pkg[key] : [];
      args.forEach((a, j) => {
        if (!isObject(a)) return;
        const ap = `${pp}/${key}/${j}`;
        if (a['type'] === 'positional' && a['value'] === undefined && a['valueHint'] === undefined) out.push(fd('SJ012', 'ERROR', d, ap, 'positional argument with neither value nor valueHint'));
        if (a['type'] === 'named' && typeof a['name'] === 'string' && /[\s<>$]/.test(a['name'])) out.push(fd('SJ012', 'ERROR', d, `${ap}/name`, `named argument "${a['name']}" contains a space, <, > or $`));
        for (const k of ['value', 'default'] as const) {
          const val = a[k];
          if (typeof val !== 'string') continue;
          if (a['type'] === 'named' && typeof a['name'] === 'string' && val.startsWith(a['name'])) out.push(fd('SJ012', 'ERROR', d, `${ap}/${k}`, `${k} starts with the flag name`));
          if (/;|&&|\|\||`|\$\(/.test(val)) out.push(fd('SJ012', 'WARN', d, `${ap}/${k}`, `${k} contains shell metacharacters`));
        }
        secretInputs(a, ap, d, out);
      });
    }
    const envs = Array.isArray(pkg['environmentVariables']) ? pkg['environmentVariables'] : [];
    envs.forEach((e, j) => isObject(e) && secretInputs(e, `${pp}/environmentVariables/${j}`, d, out));
  });
  remotes.forEach((r, i) => {
    if (!isObject(r)) return;
    const rp = `${base}/remotes/${i}`;
    const url = typeof r['url'] === 'string' ? r['url'] : undefined;
    if (r['type'] === 'stdio') out.push(fd('SJ010', 'ERROR', d, rp, 'a remote with transport stdio'));
    if (!url) out.push(fd('SJ010', 'ERROR', d, rp, 'remote without a url'));
    if (r['type'] === 'sse') out.push(fd('SJ019', 'INFO', d, rp, 'sse transport is deprecated'));
    if (url) {
      const vars = isObject(r['variables']) ? Object.keys(r['variables']) : [];
      for (const m of url.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) if (!vars.includes(m[1]!)) out.push(fd('SJ011', 'ERROR', d, `${rp}/url`, `URL variable {${m[1]}} is not defined`));
      const host = url.replace(/^[a-z]+:\/\//i, '').split(/[/:?#]/)[0] ?? '';
      if (/^http:\/\//i.test(url)) out.push(fd('SJ009', 'ERROR', d, `${rp}/url`, 'remote URL is not https'));
      if (/^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|\[?::1\]?)/i.test(host)) out.push(fd('SJ009', 'WARN', d, `${rp}/url`, 'remote URL points at a loopback, private or link-local address'));
      const headers = Array.isArray(r['headers']) ? r['headers'] : [];
      if (/^\{[A-Za-z_]/.test(host) && headers.some((h) => isObject(h) && h['isSecret'] === true)) out.push(fd('SJ009', 'INFO', d, `${rp}/url`, 'the host comes from a user variable while secret headers are sent to it'));
      headers.forEach((h, j) => isObject(h) && secretInputs(h, `${rp}/headers/${j}`, d, out));
    }
  });
  const meta = v['_meta'];
  if (isObject(meta)) {
    for (const k of Object.keys(meta)) if (k !== 'io.modelcontextprotocol.registry/publisher-provided') out.push(fd('SJ016', 'WARN', d, `${base}/_meta/${esc(k)}`, `_meta key "${k}" is dropped by the registry`));
    const pp = meta['io.modelcontextprotocol.registry/publisher-provided'];
    if (pp !== undefined && JSON.stringify(pp).length > 4096) out.push(fd('SJ016', 'WARN', d, `${base}/_meta`, 'publisher-provided _meta over 4 KB'));
  }
  const icons = Array.isArray(v['icons']) ? v['icons'] : [];
  icons.forEach((ic, i) => {
    if (!isObject(ic) || typeof ic['src'] !== 'string') return;
    if (!/^https:\/\//.test(ic['src'])) out.push(fd('SJ017', 'WARN', d, `${base}/icons/${i}/src`, 'icon is not served over https'));
    else if (/\.svg(\?|$)/i.test(ic['src']) || ic['mimeType'] === 'image/svg+xml') out.push(fd('SJ017', 'INFO', d, `${base}/icons/${i}`, 'SVG icons can carry script'));
  });
  if (!isObject(v['repository'])) out.push(fd('SJ018', 'INFO', d, base, 'no repository'));
  return out;
}

/** SJ015: a secret-looking input not marked isSecret, or a secret with a literal value. */
function secretInputs(e: Record<string, unknown>, ptr: string, d: LintDocument, out: Finding[]): void {
  const name = typeof e['name'] === 'string' ? e['name'] : '';
  const secretish = SECRET_NAME.test(name) && !/^-/.test(name);
  if (secretish && e['isSecret'] !== true) out.push(fd('SJ015', 'ERROR', d, ptr, `"${name}" looks like a secret but is not marked isSecret`));
  if (e['isSecret'] === true && typeof e['value'] === 'string' && !/\{[A-Za-z_][A-Za-z0-9_]*\}/.test(e['value'])) out.push(fd('SJ015', 'ERROR', d, `${ptr}/value`, `secret "${name}" has a literal value`));
  const vars = isObject(e['variables']) ? e['variables'] : {};
  for (const [vn, vv] of Object.entries(vars)) if (isObject(vv) && vv['isSecret'] === true && typeof vv['default'] === 'string' && vv['default']) out.push(fd('SJ015', 'ERROR', d, `${ptr}/variables/${esc(vn)}/default`, `secret variable "${vn}" has a default value`));
}

// ── MCPB ────────────────────────────────────────────────────────────────────────────────────────

const MB_TOP_01 = ['$schema', 'manifest_version', 'dxt_version', 'name', 'display_name', 'version', 'description', 'long_description', 'author', 'repository', 'homepage', 'documentation', 'support', 'icon', 'screenshots', 'server', 'tools', 'tools_generated', 'prompts', 'prompts_generated', 'keywords', 'license', 'compatibility', 'user_config'];
const MB_TOP: Record<string, string[]> = {
  '0.1': MB_TOP_01,
  '0.2': [...MB_TOP_01, 'privacy_policies'],
  '0.3': [...MB_TOP_01, 'privacy_policies', 'icons', 'localization', '_meta'],
  '0.4': [...MB_TOP_01, 'privacy_policies', 'icons', 'localization', '_meta'],
};
const MB_NESTED: Record<string, string[]> = {
  author: ['name', 'email', 'url'],
  server: ['type', 'entry_point', 'mcp_config'],
  mcp_config: ['command', 'args', 'env', 'platform_overrides'],
  repository: ['type', 'url'],
  compatibility: ['claude_desktop', 'platforms', 'runtimes'],
  tool: ['name', 'description'],
  prompt: ['name', 'description', 'arguments', 'text'],
  user_config: ['type', 'title', 'description', 'required', 'default', 'multiple', 'sensitive', 'min', 'max'],
};

function mbChecks(d: LintDocument): Finding[] {
  const out: Finding[] = [];
  const v = d.value;
  if (!isObject(v)) return out;
  const declared = v['manifest_version'] ?? v['dxt_version'];
  const version = typeof declared === 'string' ? declared : undefined;
  if (v['manifest_version'] === undefined && v['dxt_version'] !== undefined) out.push(fd('MB002', 'WARN', d, '/dxt_version', 'only the deprecated dxt_version is given'));
  if (!version || !MB_TOP[version]) {
    out.push(fd('MB002', 'ERROR', d, v['manifest_version'] !== undefined ? '/manifest_version' : '', version ? `manifest_version "${version}" is not supported (0.1–0.4)` : 'manifest_version is missing'));
    return out;
  }
  const strict = (obj: unknown, allowed: string[], ptr: string, what: string) => {
    if (!isObject(obj)) return;
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) out.push(fd('MB001', 'ERROR', d, `${ptr}/${esc(k)}`, `unknown key "${k}" in ${what} for manifest_version ${version}`));
  };
  strict(v, MB_TOP[version]!, '', 'the manifest');
  for (const k of ['name', 'version', 'description']) if (typeof v[k] !== 'string') out.push(fd('MB001', 'ERROR', d, '', `missing required "${k}"`));
  if (!isObject(v['author']) || typeof v['author']['name'] !== 'string') out.push(fd('MB001', 'ERROR', d, '/author', 'author.name is required'));
  else {
    strict(v['author'], MB_NESTED['author']!, '/author', 'author');
    if (typeof v['author']['email'] === 'string' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v['author']['email'])) out.push(fd('MB001', 'ERROR', d, '/author/email', 'author.email is not an e-mail address'));
  }
  const server = v['server'];
  if (!isObject(server)) out.push(fd('MB001', 'ERROR', d, '', 'server is required'));
  else {
    strict(server, MB_NESTED['server']!, '/server', 'server');
    const types = version === '0.1' || version === '0.2' ? ['python', 'node', 'binary'] : ['python', 'node', 'binary', 'uv'];
    if (!types.includes(String(server['type']))) out.push(fd('MB001', 'ERROR', d, '/server/type', `server.type "${String(server['type'])}" is not one of ${types.join(', ')}`));
    if (typeof server['entry_point'] !== 'string') out.push(fd('MB001', 'ERROR', d, '/server', 'server.entry_point is required'));
    if (!isObject(server['mcp_config'])) {
      if (!(server['type'] === 'uv' && version === '0.4')) out.push(fd('MB001', 'ERROR', d, '/server', 'server.mcp_config is required'));
    } else strict(server['mcp_config'], MB_NESTED['mcp_config']!, '/server/mcp_config', 'mcp_config');
  }
  strict(v['repository'], MB_NESTED['repository']!, '/repository', 'repository');
  strict(v['compatibility'], MB_NESTED['compatibility']!, '/compatibility', 'compatibility');
  if (Array.isArray(v['tools'])) v['tools'].forEach((t, i) => strict(t, MB_NESTED['tool']!, `/tools/${i}`, 'a tool'));
  if (Array.isArray(v['prompts'])) v['prompts'].forEach((t, i) => strict(t, MB_NESTED['prompt']!, `/prompts/${i}`, 'a prompt'));
  const uc = isObject(v['user_config']) ? v['user_config'] : {};
  for (const [k, e] of Object.entries(uc)) {
    strict(e, MB_NESTED['user_config']!, `/user_config/${esc(k)}`, `user_config.${k}`);
    if (!isObject(e)) continue;
    if (!['string', 'number', 'boolean', 'directory', 'file'].includes(String(e['type']))) out.push(fd('MB001', 'ERROR', d, `/user_config/${esc(k)}/type`, `user_config.${k}.type "${String(e['type'])}" is not string, number, boolean, directory or file`));
    if (SECRET_NAME.test(k) && e['sensitive'] !== true) out.push(fd('MB005', 'WARN', d, `/user_config/${esc(k)}`, `user_config "${k}" looks secret but is not marked sensitive`));
    if ((e['type'] === 'directory' || e['type'] === 'file') && typeof e['default'] === 'string' && /^(\$\{HOME\}|~|\/|[A-Za-z]:\\)\/?$/.test(e['default'].trim())) out.push(fd('MB006', 'WARN', d, `/user_config/${esc(k)}/default`, `user_config "${k}" defaults to a whole root (${e['default']})`));
  }
  // MB004: a secret interpolated into args (visible in process lists) instead of env.
  const mc = isObject(server) && isObject(server['mcp_config']) ? server['mcp_config'] : undefined;
  const args = mc && Array.isArray(mc['args']) ? mc['args'] : [];
  args.forEach((a, i) => {
    if (typeof a !== 'string') return;
    for (const m of a.matchAll(/\$\{user_config\.([A-Za-z0-9_]+)\}/g)) {
      const e = uc[m[1]!];
      if ((isObject(e) && e['sensitive'] === true) || SECRET_NAME.test(m[1]!)) out.push(fd('MB004', 'WARN', d, `/server/mcp_config/args/${i}`, `secret user_config.${m[1]} is passed in args, visible in process lists; use env`));
    }
  });
  return out;
}

// ── Host configs ───────────────────────────────────────────────────────────────────────────────


/** The options of an entry's `mcp-warden wrap` (before its command), each with its value and that value's index in args. */
function wrapOptions(command: string | undefined, args: string[]): { name: string; value: string; at: number }[] {
  const w = wrapped({ command, args });
  if (!w) return [];
  const end = w.commandAt < 0 ? args.length : args[w.commandAt - 1] === '--' ? w.commandAt - 1 : w.commandAt;
  const out: { name: string; value: string; at: number }[] = [];
  for (let i = w.wrapAt + 1; i < end; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 2) out.push({ name: a.slice(0, eq), value: a.slice(eq + 1), at: i });
    else if (WRAP_VALUE_OPTIONS.has(a) && i + 1 < end) out.push({ name: a, value: args[i + 1]!, at: ++i });
  }
  return out;
}


function cfChecks(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const s of ctx.servers) {
    if (s.format !== 'client-config' || !s.launch) continue;
    const d = ctx.documents.find((x) => x.file === s.file)!;
    const l = s.launch;
    const f = (rule: string, severity: Severity, ptr: string, message: string) => out.push({ ...fd(rule, severity, d, ptr, message, s.name), server: s.name });
    const secrets = secretsDetector().detector;
    const placeholder = (v: string) => /^\$\{[^}]+\}$|^\$[A-Z_][A-Z0-9_]*$|^\$\{input:[^}]+\}$|^<[^>]+>$/.test(v.trim());
    for (const [k, v] of Object.entries(l.env)) {
      if (placeholder(v) || !v) continue;
      const found = secrets.scan(v).length > 0 || (SECRET_NAME.test(k) && v.length >= 8 && !/\s/.test(v));
      // Codex (config.toml) expands no placeholders: it passes variables named in env_vars on from its own environment.
      // Goose (envs) keeps secrets in its keyring for the names listed in env_keys.
      const instead = /\.toml$/i.test(d.file)
        ? `name ${k} in env_vars instead (Codex passes it on from the environment it runs in)`
        : l.envKey === 'envs'
          ? `list ${k} in env_keys instead (Goose keeps its value in the system keyring)`
          : 'use ${input:…}, ${env:…} or a keychain';
      if (found) f('CF002', 'ERROR', `${l.pointer}/${l.envKey}/${esc(k)}`, `env ${k} holds a secret in plain text; ${instead}`);
    }
    for (const [k, v] of Object.entries(l.headers)) {
      if (placeholder(v.replace(/^Bearer\s+/i, ''))) continue;
      if (secrets.scan(`${k}: ${v}`).length || (/^authorization$/i.test(k) && v.length > 12 && !/\$\{/.test(v))) f('CF002', 'ERROR', `${l.pointer}/headers/${esc(k)}`, `header ${k} holds a secret in plain text`);
    }
    for (const [k, v] of Object.entries(l.credentials)) {
      if (v && !placeholder(v)) f('CF002', 'ERROR', `${l.pointer}/auth/${esc(k)}`, `auth ${k} holds a secret in plain text; use \${VAR} or ${k}_file`);
    }
    l.args.forEach((a, i) => {
      if (secrets.scan(a).length) f('CF002', 'ERROR', l.argsAt(i), 'an argument holds a secret in plain text (visible in process lists)');
    });
    // CF002/CF003 on the server's URL: the entry's own, or the one `mcp-warden wrap --url` connects to.
    const urlCheck = (url: string, type: string | undefined, ptr: string) => {
      if (/[?&](token|key|api_key|apikey|access_token|secret)=[^&${]{8,}/i.test(url)) f('CF002', 'ERROR', ptr, 'the URL carries a credential in its query');
      const host = url.replace(/^[a-z]+:\/\//i, '').split(/[/:?#]/)[0] ?? '';
      const loopback = /^(localhost|127\.|\[?::1\]?$)/i.test(host);
      if (/^http:\/\//i.test(url) && !loopback) f('CF003', 'MED', ptr, `plain http:// to ${host}: tokens and tool traffic travel unencrypted`);
      if (/^ws:\/\//i.test(url) && !loopback) f('CF003', 'MED', ptr, `plain ws:// to ${host}`);
      if (/\/sse\/?(\?|$)/.test(url) || type === 'sse') f('CF003', 'INFO', ptr, 'HTTP+SSE transport (deprecated since 2025-03-26)');
    };
    if (l.url) urlCheck(l.url, l.type, `${l.pointer}/url`);
    const wrapOpts = wrapOptions(l.command, l.args);
    const remote = wrapOpts.filter((o) => o.name === '--url').pop();
    if (remote) urlCheck(remote.value, wrapOpts.filter((o) => o.name === '--transport').pop()?.value, l.argsAt(remote.at));
    const argv = [l.command ?? '', ...l.args];
    if (/\s/.test(l.command ?? '') && !/^["']/.test(l.command ?? '')) f('CF007', 'LOW', `${l.pointer}/command`, 'the command contains spaces (clients split it differently)');
    // CF004–CF006 look at each program the entry starts: for an entry wrapped by mcp-warden, the launch of
    // mcp-warden itself and the server's command after `wrap … --`, each on its own (an unpinned server behind a
    // pinned `npx -y mcp-warden@x wrap --` is still unpinned, and wrapping it must not hide that).
    const w = wrapped({ command: l.command, args: l.args });
    const serverAt = w && w.commandAt >= 0 ? w.commandAt : l.args.length;
    const launches = [{ command: l.command ?? '', args: l.args.slice(0, serverAt) }, ...(serverAt < l.args.length ? [{ command: l.args[serverAt]!, args: l.args.slice(serverAt + 1) }] : [])];
    const said = new Set<string>();
    const once = (rule: string, severity: Severity, message: string) => {
      if (said.has(`${rule}\n${message}`)) return;
      said.add(`${rule}\n${message}`);
      f(rule, severity, l.pointer, message);
    };
    for (const launch of launches) {
      const largv = [launch.command, ...launch.args];
      const lcmd = launch.command.split(/[\\/]/).pop() ?? '';
      // CF004: unpinned launches.
      const pkgAfter = (tool: string) => {
        const i = largv.findIndex((a) => a.split(/[\\/]/).pop() === tool);
        return i < 0 ? undefined : largv.slice(i + 1).find((a) => !a.startsWith('-'));
      };
      const npxPkg = pkgAfter('npx') ?? pkgAfter('bunx') ?? (lcmd === 'pnpm' && launch.args[0] === 'dlx' ? launch.args.slice(1).find((a) => !a.startsWith('-')) : undefined);
      if (npxPkg && !/@\d+(\.\d+){0,2}([-+][\w.]+)?$/.test(npxPkg.replace(/^@[^/]+\//, ''))) once('CF004', 'WARN', `${npxPkg} runs without a pinned version: whatever is published next runs on this machine`);
      const uvxPkg = pkgAfter('uvx');
      if (uvxPkg && !/(==|@)\d/.test(uvxPkg)) once('CF004', 'WARN', `${uvxPkg} runs through uvx without a pinned version`);
      if (lcmd === 'docker' && launch.args.includes('run')) {
        const image = launch.args.slice(launch.args.indexOf('run') + 1).find((a, i, arr) => !a.startsWith('-') && !(i > 0 && /^-(e|v|p|-env|-volume|-publish|-name|-network|-mount)$/.test(arr[i - 1]!)));
        if (image && (!/[:@]/.test(image.split('/').pop() ?? '') || /:latest$/.test(image))) once('CF004', 'WARN', `docker image ${image} is not pinned to a version or digest`);
        const joined = launch.args.join(' ');
        if (/--privileged|-v\s+\/:|--volume[= ]\/:|docker\.sock|--network[= ]host|--net[= ]host|--cap-add|\.ssh|\.aws/.test(joined)) once('CF006', 'HIGH', 'docker runs privileged, with the host network, the Docker socket, the root filesystem or credential folders mounted');
      }
      // CF005: shell wrappers and inline scripts.
      const shell = /^(sh|bash|zsh|cmd|cmd\.exe|powershell|pwsh)$/i.test(lcmd) && launch.args.some((a) => /^(-c|\/c|-command|-Command|-EncodedCommand)$/i.test(a));
      if (shell || largv.some((a) => /curl[^|]*\|\s*(ba)?sh|&&|;\s|`|\$\(/.test(a))) once('CF005', 'HIGH', 'the server is launched through a shell or an inline script');
      if (/^sudo$/.test(lcmd) || largv.some((a) => /^(rm\s+-rf|chmod\s+777)/.test(a))) once('CF006', 'HIGH', 'the launch runs sudo, rm -rf or chmod 777');
    }
    // CF011: the entry's env decides which config and state mcp-warden runs with (a project's .mcp.json can bring
    // a config of its own: no policy, no audit, while the server looks wrapped).
    const runsWarden = w !== undefined;
    // The variables are install's (movesWarden), so what install lists and what lint reports stay the same set.
    for (const k of Object.keys(l.env)) {
      const kind = movesWarden(k);
      const at = `${l.pointer}/${l.envKey}/${esc(k)}`;
      if (kind === 'keychain') f('CF011', 'MED', at, `env ${k}=${safeExcerpt(l.env[k]!, 80)} makes mcp-warden keep the key to this server's stored OAuth tokens in a file beside them instead of the OS keychain`);
      else if (kind === 'config' || (kind === 'home' && runsWarden)) f('CF011', 'MED', at, `env ${k}=${safeExcerpt(l.env[k]!, 80)} decides which mcp-warden config, policy and audit trail apply to this server, not the user's own`);
    }
    // The same through wrap's own options: a relative path (install writes absolute ones) or a project variable is
    // read from the folder the host starts mcp-warden in, which for a project's config is the project.
    for (const o of wrapOpts) {
      if (!['--config', '--policy', '--audit-db'].includes(o.name)) continue;
      const projectVar = /\$\{(workspaceFolder|workspaceRoot|cwd|fileDirname|relativeFile\w*)\}/.test(o.value);
      const anchored = path.posix.isAbsolute(o.value) || path.win32.isAbsolute(o.value) || /^~([\\/]|$)/.test(o.value) || /^\$\{(userHome|env:[^}]+)\}/.test(o.value);
      if (projectVar || !anchored) f('CF011', 'MED', l.argsAt(o.at), `wrap ${o.name} ${safeExcerpt(o.value, 80)} is read from the folder the host starts mcp-warden in: from a project's config, the project's own ${o.name === '--policy' ? 'policy' : o.name === '--config' ? 'config' : 'audit trail'}, not the user's`);
    }
    // CF012: the entry's env acts inside the mcp-warden process the host starts (code loaded into it, TLS trust).
    if (runsWarden) {
      for (const k of Object.keys(l.env)) {
        const kind = insideWardenEnv(k);
        if (kind === 'code') f('CF012', 'HIGH', `${l.pointer}/${l.envKey}/${esc(k)}`, `env ${k}=${safeExcerpt(l.env[k]!, 80)} loads code into mcp-warden itself, beside its audit key and policy (and outside any sandbox of the server)`);
        else if (kind === 'tls') f('CF012', 'MED', `${l.pointer}/${l.envKey}/${esc(k)}`, `env ${k}=${safeExcerpt(l.env[k]!, 80)} changes whom mcp-warden trusts over TLS (remote servers, the identity provider, the audit sink)`);
      }
    } else {
      // CF003 for the server's own connections: certificate checks turned off (for a wrapped entry, CF012 says more).
      for (const [k, v] of Object.entries(l.env)) {
        if ((/^NODE_TLS_REJECT_UNAUTHORIZED$/i.test(k) && v.trim() === '0') || (/^PYTHONHTTPSVERIFY$/i.test(k) && v.trim() === '0') || (/^GIT_SSL_NO_VERIFY$/i.test(k) && /^(1|true)$/i.test(v.trim())))
          f('CF003', 'MED', `${l.pointer}/${l.envKey}/${esc(k)}`, `env ${k}=${safeExcerpt(v, 20)} turns off TLS certificate checks: anyone on the path can answer for the services this server reaches`);
      }
    }
    // CF008: a filesystem server granted a whole root.
    if (argv.some((a) => /server-filesystem|filesystem/.test(a))) {
      const roots = l.args.filter((a) => /^(\/|~\/?|\$HOME\/?|\$\{HOME\}\/?|[A-Za-z]:\\?)$/.test(a));
      if (roots.length) f('CF008', 'WARN', `${l.pointer}/args`, `filesystem access to ${roots.join(', ')}`);
    }
  }
  // CF010: auto-approve settings anywhere in a config document.
  for (const d of docs(ctx, 'client-config')) {
    const walk = (v: unknown, ptr: string, depth: number) => {
      if (depth > 6 || !isObject(v)) return;
      for (const [k, x] of Object.entries(v)) {
        const p = `${ptr}/${esc(k)}`;
        if ((k === 'alwaysAllow' || k === 'autoApprove') && Array.isArray(x) && x.length) out.push(fd('CF010', 'WARN', d, p, `${k} lets tools run without asking: ${x.slice(0, 5).join(', ')}`));
        if (k === 'enableAllProjectMcpServers' && x === true) out.push(fd('CF010', 'WARN', d, p, 'every project-level MCP server is trusted without asking'));
        walk(x, p, depth + 1);
      }
    };
    walk(d.value, '', 0);
  }
  return out;
}

export const FORMAT_RULES: Rule[] = [
  { id: 'SJ', title: 'server.json validity and hygiene', severity: 'ERROR', family: 'SJ', help: 'MCP Registry server.json: schema version, name, description, versions (no ranges, no latest), packages and remotes, secrets, transports.', check: (ctx) => docs(ctx, 'server-json').flatMap(sjChecks) },
  { id: 'MB', title: 'MCPB manifest validity and hygiene', severity: 'ERROR', family: 'MB', help: 'MCPB/DXT manifest.json against the strict schema of its manifest_version (unknown keys are errors), sensitive values, broad directory defaults.', check: (ctx) => docs(ctx, 'mcpb').flatMap(mbChecks) },
  { id: 'CF', title: 'Host config hygiene', severity: 'ERROR', family: 'CF', help: 'Plaintext secrets, insecure or deprecated transports, unpinned packages, shell wrappers, dangerous launches, broad filesystem grants, auto-approval, the mcp-warden config moved by an entry env.', check: cfChecks },
];
