/**
 * Issue 8, done-when 3: `install` then `uninstall` on sample configs of each host (written for these tests) leaves
 * an equivalent wrapped config, then the original byte for byte; a server that needs a token from its `env` still
 * works wrapped, started the way a host starts it (only the entry's env, cwd /).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'jsonc-parser';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/clients.js';
import { CLI, NODE, ROOT, tmpDir } from '../helpers/cli.js';
import { VERSION } from '../../src/version.js';
import { parseToml } from '../../src/config/toml.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');

/** Starts a host entry as a host does (only its env, cwd /) and checks the fault server saw API_TOKEN. */
async function expectTokenSeen(entry: { command: string; args: string[]; env?: Record<string, string> | undefined }): Promise<void> {
  const c = await connectClient('v1', { kind: 'stdio', command: entry.command, args: entry.args, env: entry.env, cwd: '/' });
  try {
    const r = (await c.callTool('env', { name: 'API_TOKEN' })) as { content: { text: string }[] };
    expect(r.content[0]!.text).toBe('set');
  } finally {
    await c.close();
  }
}

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: tmpDir('mcpw-home-') } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Sample {
  host: string;
  file: string;
  key: 'mcpServers' | 'servers' | 'mcp_servers' | 'context_servers';
  text: (state: string) => string;
  stdio: string[];
  skipped: string[];
  /** TOML (Codex): read with the TOML parser; an added `args` line comes right under `command`. */
  toml?: boolean;
}

const samples: Sample[] = [
  {
    host: 'claude-desktop',
    file: 'claude_desktop_config.json',
    key: 'mcpServers',
    text: (state) => `{
  "mcpServers": {
    "tokens": {
      "command": ${JSON.stringify(NODE)},
      "args": [${JSON.stringify(FAULT)}],
      "env": { "API_TOKEN": "tok-from-host-config", "XDG_STATE_HOME": ${JSON.stringify(state)}, "XDG_CONFIG_HOME": ${JSON.stringify(state)} }
    },
    "files": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Documents"]
    },
    "remote": { "url": "https://mcp.example.com/mcp" }
  },
  "globalShortcut": "Ctrl+Space"
}
`,
    stdio: ['tokens', 'files'],
    skipped: ['remote'],
  },
  {
    host: 'cursor',
    file: 'mcp.json',
    key: 'mcpServers',
    text: () => `{
    "mcpServers": {
        "git": {
            "command": "uvx",
            "args": ["mcp-server-git", "--repository", "."],
            "env": {"GIT_TOKEN": "\${env:GIT_TOKEN}"}
        },
        "noargs": { "command": "my-server" }
    }
}
`,
    stdio: ['git', 'noargs'],
    skipped: [],
  },
  {
    host: 'vscode',
    file: 'mcp.json',
    key: 'servers',
    text: () => `// VS Code MCP servers (JSON with comments)
{
\t"inputs": [
\t\t{ "type": "promptString", "id": "github-token", "description": "GitHub token", "password": true }
\t],
\t"servers": {
\t\t// the GitHub server, token from an input
\t\t"github": {
\t\t\t"type": "stdio",
\t\t\t"command": "npx",
\t\t\t"args": ["-y", "@modelcontextprotocol/server-github"],
\t\t\t"env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "\${input:github-token}" },
\t\t},
\t\t"docs": { "type": "http", "url": "https://docs.example.com/mcp" }
\t}
}
`,
    stdio: ['github'],
    skipped: ['docs'],
  },
  {
    host: 'claude-code',
    file: '.mcp.json',
    key: 'mcpServers',
    text: () => `{
  "mcpServers": {
    "db": { "type": "stdio", "command": "node", "args": ["db-server.js", "--readonly"], "env": { "DB_URL": "\${DB_URL}" } },
    "search": { "type": "sse", "url": "https://search.example.com/sse" }
  }
}
`,
    stdio: ['db'],
    skipped: ['search'],
  },
  {
    // GitHub Copilot's portable format (Copilot CLI; the Copilot agent in VS Code): a stdio server may say `local`.
    host: 'copilot',
    file: 'mcp-config.json',
    key: 'mcpServers',
    text: () => `{
  "mcpServers": {
    "playwright": { "type": "local", "command": "npx", "args": ["-y", "@playwright/mcp@0.0.41"], "tools": ["*"] },
    "azure": { "type": "stdio", "command": "npx", "args": ["-y", "@azure/mcp@1.0.0", "server", "start"], "tools": ["*"], "env": {} },
    "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/readonly", "tools": ["*"], "headers": { "Authorization": "Bearer \${GITHUB_TOKEN}" } }
  }
}
`,
    stdio: ['playwright', 'azure'],
    skipped: ['github'],
  },
  {
    host: 'windsurf',
    file: 'mcp_config.json',
    key: 'mcpServers',
    text: () => `{
  "mcpServers": {
    "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory@2025.8.4"], "disabled": false, "disabledTools": [] },
    "remote": { "serverUrl": "https://mcp.example.com/mcp" }
  }
}
`,
    stdio: ['memory'],
    skipped: ['remote'],
  },
  {
    host: 'gemini',
    file: 'settings.json',
    key: 'mcpServers',
    text: () => `{
  "theme": "Default",
  "mcpServers": {
    "git": { "command": "uvx", "args": ["mcp-server-git"], "cwd": "./repo", "timeout": 30000, "trust": false },
    "context7": { "httpUrl": "https://mcp.context7.com/mcp", "headers": { "CONTEXT7_API_KEY": "$CONTEXT7_API_KEY" } }
  }
}
`,
    stdio: ['git'],
    skipped: ['context7'],
  },
  {
    // Kiro: mcpServers with its approval and tool fields; ${VAR} in env is Kiro's to expand.
    host: 'kiro',
    file: 'mcp.json',
    key: 'mcpServers',
    text: () => `{
  "mcpServers": {
    "aws-docs": { "command": "uvx", "args": ["awslabs.aws-documentation-mcp-server@1.1.2"], "env": { "FASTMCP_LOG_LEVEL": "ERROR", "TOKEN": "\${DOCS_TOKEN}" }, "disabled": false, "autoApprove": [], "disabledTools": ["search"] },
    "api": { "url": "https://api.example.com/mcp", "headers": { "Authorization": "Bearer \${API_TOKEN}" } }
  }
}
`,
    stdio: ['aws-docs'],
    skipped: ['api'],
  },
  {
    // Zed: settings.json (JSONC) with context_servers beside the editor's own settings.
    host: 'zed',
    file: 'settings.json',
    key: 'context_servers',
    text: () => `// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "git": { "source": "custom", "enabled": true, "command": "uvx", "args": ["mcp-server-git"], "env": {} },
    "remote": { "url": "https://mcp.example.com/mcp" },
  },
}
`,
    stdio: ['git'],
    skipped: ['remote'],
  },
  {
    // Cline (and Roo Code, Kilo Code): mcpServers in the extension's own settings file, with its approval fields.
    host: 'cline',
    file: 'cline_mcp_settings.json',
    key: 'mcpServers',
    text: () => `{
  "mcpServers": {
    "git": { "command": "uvx", "args": ["mcp-server-git", "--repository", "/home/me/repo"], "disabled": false, "alwaysAllow": [], "networkTimeout": 60000 },
    "docs": { "type": "streamableHttp", "url": "https://docs.example.com/mcp", "disabled": false, "autoApprove": [] }
  }
}
`,
    stdio: ['git'],
    skipped: ['docs'],
  },
  {
    // Codex CLI: TOML, one [mcp_servers.<name>] table per server (what `codex mcp add` writes), comments anywhere.
    host: 'codex',
    file: 'config.toml',
    key: 'mcp_servers',
    toml: true,
    text: () => `# Codex CLI
model = "gpt-5-codex"
approval_policy = "on-request"

[mcp_servers.git]
command = "uvx"   # no args: install adds them
startup_timeout_sec = 20

[mcp_servers.git.env]
GIT_AUTHOR_NAME = "Ada"

[mcp_servers.files]
command = "npx"
args = [
  "-y",
  "@modelcontextprotocol/server-filesystem@2025.8.21", # pinned
  "/home/me/docs",
]
env = { "LOG_LEVEL" = "debug" }
enabled_tools = ["read_file"]

[mcp_servers.linear]
url = "https://mcp.linear.app/mcp"
bearer_token_env_var = "LINEAR_TOKEN"

[profiles.fast]
model = "gpt-5-mini"
`,
    stdio: ['git', 'files'],
    skipped: ['linear'],
  },
];

describe.each(samples)('install / uninstall --host $host', (s) => {
  it('wraps every stdio entry (only command and args change), skips the rest, then restores the original byte for byte', () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, s.file);
    const original = s.text(path.join(dir, 'state'));
    writeFileSync(file, original);
    const read = (text: string) => (s.toml ? JSON.parse(JSON.stringify(parseToml(text))) : parse(text, [], { allowTrailingComma: true })) as Record<string, Record<string, Record<string, unknown>>>;
    const before = read(original);

    const inst = cli('install', '--host', s.host, '--file', file);
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stdout).toContain(`--- ${file}`);
    expect(inst.stdout).toMatch(/^\+.*"wrap"/m);
    for (const n of s.stdio) expect(inst.stdout).toContain(`wrapped  ${n}`);
    // Told as remote whichever key holds its address (url, Windsurf's serverUrl, Gemini's httpUrl).
    for (const n of s.skipped) expect(inst.stdout).toContain(`skipped  ${n}: a remote server (url)`);
    expect(readFileSync(`${file}.mcp-warden.bak`, 'utf8')).toBe(original);

    const wrappedText = readFileSync(file, 'utf8');
    const after = read(wrappedText);
    // Everything outside the chosen entries' command and args is untouched.
    for (const k of Object.keys(before)) if (k !== s.key) expect(after[k]).toEqual(before[k]);
    for (const [name, entry] of Object.entries(before[s.key]!)) {
      const got = after[s.key]![name]!;
      if (!s.stdio.includes(name)) {
        expect(got).toEqual(entry);
        continue;
      }
      expect(got['command']).toBe(NODE);
      expect(got['args']).toEqual([CLI, 'wrap', '--name', name, '--', entry['command'], ...((entry['args'] as string[]) ?? [])]);
      const { command: _c, args: _a, ...rest } = got;
      const { command: _c2, args: _a2, ...restBefore } = entry;
      expect(rest).toEqual(restBefore);
      const added = s.toml ? ['command', 'args', ...Object.keys(entry).slice(1)] : [...Object.keys(entry), 'args'];
      expect(Object.keys(got)).toEqual(Object.keys(entry).includes('args') ? Object.keys(entry) : added);
    }
    if (s.host === 'vscode') {
      expect(wrappedText).toContain('// the GitHub server, token from an input');
      expect(wrappedText).toContain('${input:github-token}');
    }
    if (s.toml) {
      // Only the wrapped entries' command and args lines changed: comments and every other line are as they were.
      const changed = (t: string) => t.split('\n').filter((l) => !/^(command|args) = /.test(l) && !/^ {2}"|^\]$/.test(l));
      expect(changed(wrappedText)).toEqual(changed(original));
      expect(wrappedText).toContain(`command = ${JSON.stringify(NODE)}   # no args: install adds them\nargs = [`);
    }

    const again = cli('install', '--host', s.host, '--file', file);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('no change');
    expect(readFileSync(file, 'utf8')).toBe(wrappedText);

    const un = cli('uninstall', '--host', s.host, '--file', file);
    expect(un.status, un.stderr).toBe(0);
    expect(un.stdout).toContain('restored byte for byte');
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(existsSync(`${file}.mcp-warden.bak`)).toBe(false);
  });
});

describe('install edge cases', () => {
  it("claude-code: every scope the folder runs is wrapped: user and local (projects[folder] of ~/.claude.json) and the project's .mcp.json", () => {
    const home = tmpDir('mcpw-cc-home-');
    const project = tmpDir('mcpw-cc-project-');
    const user = path.join(home, '.claude.json');
    // What `claude mcp add` writes: local scope (its default) under the folder's path, user scope at the top level.
    const userText = `${JSON.stringify(
      {
        numStartups: 3,
        mcpServers: { everywhere: { type: 'stdio', command: 'npx', args: ['-y', 'user-server'] } },
        projects: {
          [project]: { allowedTools: [], mcpServers: { mine: { type: 'stdio', command: 'npx', args: ['-y', 'local-server'], env: { TOKEN: 't' } } } },
          '/some/other/folder': { mcpServers: { theirs: { type: 'stdio', command: 'npx', args: ['other'] } } },
        },
      },
      null,
      2,
    )}\n`;
    writeFileSync(user, userText);
    const projectFile = path.join(project, '.mcp.json');
    const projectText = '{ "mcpServers": { "team": { "command": "node", "args": ["team.js"] } } }\n';
    writeFileSync(projectFile, projectText);
    const run = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: project, env: { PATH: process.env['PATH'] ?? '', HOME: home } });

    const missing = run('install', '--host', 'claude-code', '--server', 'nope');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('have no server named "nope" (they have: everywhere, mine, team)');
    expect(readFileSync(user, 'utf8')).toBe(userText);

    const inst = run('install', '--host', 'claude-code');
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stdout).toContain('wrapped  everywhere\n');
    expect(inst.stdout).toContain(`wrapped  mine (in projects[${JSON.stringify(project)}].mcpServers)\n`);
    expect(inst.stdout).toContain('wrapped  team\n');
    type Doc = { mcpServers: Record<string, { command: string; args: string[]; env?: object }>; projects: Record<string, { mcpServers: Record<string, { command: string; args: string[]; env?: object }> }> };
    const after = JSON.parse(readFileSync(user, 'utf8')) as Doc;
    expect(after.projects[project]!.mcpServers['mine']).toEqual({ type: 'stdio', command: NODE, args: [CLI, 'wrap', '--name', 'mine', '--', 'npx', '-y', 'local-server'], env: { TOKEN: 't' } });
    expect(after.mcpServers['everywhere']!.args.slice(1, 5)).toEqual(['wrap', '--name', 'everywhere', '--']);
    // Another folder's servers are that folder's business.
    expect(after.projects['/some/other/folder']).toEqual({ mcpServers: { theirs: { type: 'stdio', command: 'npx', args: ['other'] } } });
    expect((JSON.parse(readFileSync(projectFile, 'utf8')) as Doc).mcpServers['team']!.args.slice(1, 5)).toEqual(['wrap', '--name', 'team', '--']);

    const un = run('uninstall', '--host', 'claude-code');
    expect(un.status, un.stderr).toBe(0);
    expect(readFileSync(user, 'utf8')).toBe(userText);
    expect(readFileSync(projectFile, 'utf8')).toBe(projectText);
  });

  it("copilot: the user's mcp-config.json (COPILOT_HOME) and, from the folder up to the repository's root, each .mcp.json (bare or under mcpServers) and .github/mcp.json", () => {
    const copilotHome = tmpDir('mcpw-copilot-home-');
    const outer = tmpDir('mcpw-copilot-outer-');
    const repo = path.join(outer, 'repo');
    const sub = path.join(repo, 'packages', 'app');
    mkdirSync(path.join(repo, '.git'), { recursive: true });
    mkdirSync(path.join(repo, '.github'));
    mkdirSync(sub, { recursive: true });
    const files = {
      user: [path.join(copilotHome, 'mcp-config.json'), '{ "mcpServers": { "mine": { "type": "local", "command": "uvx", "args": ["my-server"], "tools": ["*"] } } }\n'],
      // The bare way: each top-level key a server; `$schema` is not one.
      root: [path.join(repo, '.mcp.json'), '{\n  "$schema": "https://example.com/s.json",\n  "db": { "command": "node", "args": ["db.js"] }\n}\n'],
      shared: [path.join(repo, '.github', 'mcp.json'), '{ "mcpServers": { "team": { "type": "stdio", "command": "team-server" } } }\n'],
      near: [path.join(sub, '.mcp.json'), '{ "mcpServers": { "app": { "command": "node", "args": ["app-server.js"] } } }\n'],
    } as const;
    for (const [f, t] of Object.values(files)) writeFileSync(f, t);
    // Above the repository's root: not read by Copilot, not touched by install.
    const outside = path.join(outer, '.mcp.json');
    const outsideText = '{ "mcpServers": { "elsewhere": { "command": "elsewhere-server" } } }\n';
    writeFileSync(outside, outsideText);
    const run = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: sub, env: { PATH: process.env['PATH'] ?? '', HOME: tmpDir('mcpw-home-'), COPILOT_HOME: copilotHome } });

    const inst = run('install', '--host', 'copilot');
    expect(inst.status, inst.stderr).toBe(0);
    for (const n of ['mine', 'db', 'team', 'app']) expect(inst.stdout).toContain(`wrapped  ${n}\n`);
    expect(inst.stdout).not.toContain('$schema');
    const doc = (f: string) => parse(readFileSync(f, 'utf8')) as Record<string, { command?: string; args?: string[] } & Record<string, { command: string; args: string[]; type?: string; tools?: string[] }>>;
    const user = doc(files.user[0]).mcpServers!['mine']!;
    expect(user).toEqual({ type: 'local', command: NODE, args: [CLI, 'wrap', '--name', 'mine', '--', 'uvx', 'my-server'], tools: ['*'] });
    expect(doc(files.root[0])['db']).toEqual({ command: NODE, args: [CLI, 'wrap', '--name', 'db', '--', 'node', 'db.js'] });
    expect(doc(files.root[0])['$schema']).toBe('https://example.com/s.json');
    expect(doc(files.shared[0]).mcpServers!['team']!.args).toEqual([CLI, 'wrap', '--name', 'team', '--', 'team-server']);
    expect(doc(files.near[0]).mcpServers!['app']!.args).toEqual([CLI, 'wrap', '--name', 'app', '--', 'node', 'app-server.js']);
    expect(readFileSync(outside, 'utf8')).toBe(outsideText);
    expect(inst.stdout).not.toContain('elsewhere');

    const un = run('uninstall', '--host', 'copilot');
    expect(un.status, un.stderr).toBe(0);
    for (const [f, t] of Object.values(files)) expect(readFileSync(f, 'utf8')).toBe(t);
  });

  it("vscode: also the portable files VS Code's Copilot agent reads (the user's mcp-config.json, the workspace's .mcp.json)", () => {
    const home = tmpDir('mcpw-vsc-home-');
    const ws = tmpDir('mcpw-vsc-ws-');
    mkdirSync(path.join(home, '.copilot'));
    mkdirSync(path.join(ws, '.vscode'));
    const files = [
      [path.join(ws, '.vscode', 'mcp.json'), '{ "servers": { "old": { "type": "stdio", "command": "old-server" } } }\n'],
      [path.join(home, '.copilot', 'mcp-config.json'), '{ "mcpServers": { "user": { "type": "local", "command": "user-server", "tools": ["*"] } } }\n'],
      [path.join(ws, '.mcp.json'), '{ "mcpServers": { "project": { "command": "project-server" } } }\n'],
    ] as const;
    for (const [f, t] of files) writeFileSync(f, t);
    const run = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: ws, env: { PATH: process.env['PATH'] ?? '', HOME: home } });
    const inst = run('install', '--host', 'vscode');
    expect(inst.status, inst.stderr).toBe(0);
    for (const n of ['old', 'user', 'project']) expect(inst.stdout).toContain(`wrapped  ${n}\n`);
    for (const [f] of files) expect(readFileSync(f, 'utf8')).toContain('"wrap"');
    expect(run('uninstall', '--host', 'vscode').status).toBe(0);
    for (const [f, t] of files) expect(readFileSync(f, 'utf8')).toBe(t);
  });

  it('an edit made after install is kept: uninstall unwraps in place and keeps the backup', () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, 'claude_desktop_config.json');
    const original = samples[0]!.text(dir);
    writeFileSync(file, original);
    expect(cli('install', '--host', 'claude-desktop', '--file', file, '--server', 'files').status).toBe(0);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: Record<string, unknown> };
    doc.mcpServers['added'] = { command: 'later', args: ['x'] };
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const un = cli('uninstall', '--host', 'claude-desktop', '--file', file);
    expect(un.stdout).toContain('unwrapped in place');
    const now = JSON.parse(readFileSync(file, 'utf8')) as typeof doc;
    expect(now.mcpServers['added']).toEqual({ command: 'later', args: ['x'] });
    expect(now.mcpServers['files']).toEqual(JSON.parse(original).mcpServers.files);
    expect(now.mcpServers['tokens']).toEqual(JSON.parse(original).mcpServers.tokens);
    expect(existsSync(`${file}.mcp-warden.bak`)).toBe(true);
  });

  it('--config must load as wrap would load it (with its policy), else nothing is written', () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, 'mcp.json');
    const text = '{ "mcpServers": { "a": { "command": "x" } } }\n';
    writeFileSync(file, text);
    const missing = cli('install', '--host', 'cursor', '--file', file, '--config', path.join(dir, 'nope.yaml'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`--config ${path.join(dir, 'nope.yaml')}: no such file; nothing was changed`);
    writeFileSync(path.join(dir, 'typo.yaml'), 'polcy: [p.yaml]\n');
    const typo = cli('install', '--host', 'cursor', '--file', file, '--config', path.join(dir, 'typo.yaml'));
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/--config: .*typo\.yaml:1: .*polcy.*nothing was changed/);
    writeFileSync(path.join(dir, 'nopolicy.yaml'), 'policy: [missing-policy.yaml]\n');
    const policy = cli('install', '--host', 'cursor', '--file', file, '--config', path.join(dir, 'nopolicy.yaml'));
    expect(policy.status).toBe(2);
    expect(policy.stderr).toContain('its policy does not load');
    // One wrap would refuse to start with: its policy file is writable by every user.
    writeFileSync(path.join(dir, 'open-policy.yaml'), 'version: 1\ndefault: allow\nrules: []\n');
    chmodSync(path.join(dir, 'open-policy.yaml'), 0o666);
    writeFileSync(path.join(dir, 'open.yaml'), 'policy: [open-policy.yaml]\n');
    const open = cli('install', '--host', 'cursor', '--file', file, '--config', path.join(dir, 'open.yaml'));
    expect(open.status).toBe(2);
    expect(open.stderr).toContain(`--config: ${path.join(dir, 'open-policy.yaml')}: refused as a policy file, which decides what mcp-warden lets through: every user of this machine can write it (mode 0666); chmod o-w it; nothing was changed`);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(existsSync(`${file}.mcp-warden.bak`)).toBe(false);
    // A variable the host sets in the entry's env is only warned about.
    writeFileSync(path.join(dir, 'env.yaml'), 'servers: { r: { url: "${REMOTE_URL_FROM_HOST}" } }\n');
    const env = cli('install', '--host', 'cursor', '--file', file, '--config', path.join(dir, 'env.yaml'));
    expect(env.status, env.stderr).toBe(0);
    expect(env.stderr).toContain('environment variable REMOTE_URL_FROM_HOST is not set here; the host must set it');
    expect(readFileSync(file, 'utf8')).toContain(path.join(dir, 'env.yaml'));
  });

  it('a host config that is a symbolic link stays one: the file it points to is changed, then restored', () => {
    const dir = tmpDir('mcpw-install-');
    const real = path.join(dir, 'dotfiles', 'claude_desktop_config.json');
    mkdirSync(path.dirname(real));
    const original = samples[0]!.text(dir);
    writeFileSync(real, original);
    const link = path.join(dir, 'claude_desktop_config.json');
    symlinkSync(real, link);
    expect(cli('install', '--host', 'claude-desktop', '--file', link).status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toContain('"wrap"');
    expect(readdirSync(path.dirname(real))).toEqual(['claude_desktop_config.json']);
    expect(cli('uninstall', '--host', 'claude-desktop', '--file', link).status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe(original);
  });

  it('refuses a file that does not parse, an unknown server and an unknown host, changing nothing', () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, 'mcp.json');
    writeFileSync(file, '{ "mcpServers": { "a": { "command": "x" }, }');
    const bad = cli('install', '--host', 'cursor', '--file', file);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/mcp\.json:1: .*not changed/);
    writeFileSync(file, '{ "mcpServers": { "a": { "command": "x" } } }');
    const unknown = cli('install', '--host', 'cursor', '--file', file, '--server', 'nope');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('no server named "nope"');
    expect(cli('install', '--host', 'emacs', '--file', file).status).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe('{ "mcpServers": { "a": { "command": "x" } } }');
    expect(existsSync(`${file}.mcp-warden.bak`)).toBe(false);
  });

  it("what it prints shows a project's escape sequences and bidirectional overrides instead of letting the terminal act on them", () => {
    const dir = tmpDir('mcpw-install-esc-');
    const file = path.join(dir, '.mcp.json');
    // JSON escapes: the file is valid, and the names and arguments it decodes to hold the characters.
    writeFileSync(file, '{ "mcpServers": { "\\u001b]0;pwned\\u0007evil\\u001b[2J": { "command": "node", "args": ["\u202ehs | live lruc"] }, "ok": { "command": "node", "args": ["\u202ehs | live lruc"] } } }\n');
    const raw = /[\u001b\u0007\u202e]/;
    const inst = cli('install', '--host', 'claude-desktop', '--file', file, '--dry-run');
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stdout).not.toMatch(raw);
    // A name with control characters is not one wrap takes: skipped, and shown as it is.
    expect(inst.stdout).toContain('skipped  \\u{1b}]0;pwned\\u{7}evil\\u{1b}[2J: its name is not one wrap takes');
    expect(inst.stdout).toContain('wrapped  ok');
    expect(inst.stdout).toContain('\\u{202e}hs | live lruc');
    const missing = cli('install', '--host', 'claude-desktop', '--file', file, '--server', 'nope');
    expect(missing.status).toBe(2);
    expect(missing.stderr).not.toMatch(raw);
    expect(missing.stderr).toContain('(it has: \\u{1b}]0;pwned\\u{7}evil\\u{1b}[2J, ok)');
  });

  it('the diff it prints masks the tokens and passwords in the host config; the file keeps them', () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, 'claude_desktop_config.json');
    const token = ['ghp', '_', 'Rk7dW2pQ9sLx4Vb8Nc3Jm6Hf1Tg5Yz0AeUqK'].join('');
    const password = ['S3cret', 'Passw0rd'].join('');
    const text = JSON.stringify({ mcpServers: { pg: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-postgres', `postgresql://admin:${password}@db/app`], env: { GITHUB_TOKEN: token } } } });
    writeFileSync(file, text); // on one line, as some tools write it: the diff shows the whole file
    for (const dry of [true, false]) {
      const r = cli('install', '--host', 'claude-desktop', '--file', file, ...(dry ? ['--dry-run'] : []));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('postgresql://admin:[REDACTED:postgres-url-password]@db/app');
      expect(r.stdout).not.toContain(token);
      expect(r.stdout).not.toContain(password);
    }
    const after = readFileSync(file, 'utf8');
    expect(after).toContain(token);
    expect(after).toContain(`postgresql://admin:${password}@db/app`);
  });

  it('--upgrade moves servers wrapped by an older pinned mcp-warden to this one, options kept; without it install says so', async () => {
    const dir = tmpDir('mcpw-upgrade-');
    const file = path.join(dir, 'claude_desktop_config.json');
    const state = path.join(dir, 'state');
    const env = { API_TOKEN: 'tok-from-host-config', XDG_STATE_HOME: state, XDG_CONFIG_HOME: state };
    // What an install through npx wrote a release ago, beside a server wrapped by hand and one not wrapped at all.
    const old = ['-y', 'mcp-warden@0.0.1', 'wrap', '--name', 'tokens', '--audit-db', path.join(dir, 'audit.db'), '--', NODE, FAULT];
    const text = `${JSON.stringify({ mcpServers: { tokens: { command: 'npx', args: old, env }, mine: { command: NODE, args: [CLI, 'wrap', '--', NODE, FAULT] }, plain: { command: NODE, args: [FAULT] } } }, null, 2)}\n`;
    writeFileSync(file, text);

    const plainInstall = cli('install', '--host', 'claude-desktop', '--file', file, '--server', 'tokens', '--server', 'mine');
    expect(plainInstall.status, plainInstall.stderr).toBe(0);
    expect(plainInstall.stdout).toContain(`skipped  tokens: already runs through mcp-warden (wrap --name tokens --audit-db ${path.join(dir, 'audit.db')}; env XDG_STATE_HOME=${state} XDG_CONFIG_HOME=${state}); started by npx -y mcp-warden@0.0.1, not this mcp-warden ${VERSION}: install --upgrade moves it\n`);
    expect(plainInstall.stdout).toMatch(/skipped {2}mine: already runs through mcp-warden \(wrap\)\n/);
    expect(readFileSync(file, 'utf8')).toBe(text);

    expect(cli('install', '--host', 'claude-desktop', '--file', file, '--upgrade', '--config', file).status).toBe(2);
    const dry = cli('install', '--host', 'claude-desktop', '--file', file, '--upgrade', '--dry-run');
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('upgraded  tokens: npx -y mcp-warden@0.0.1 -> ');
    expect(readFileSync(file, 'utf8')).toBe(text);

    const up = cli('install', '--host', 'claude-desktop', '--file', file, '--upgrade');
    expect(up.status, up.stderr).toBe(0);
    expect(up.stdout).toContain(`upgraded  tokens: npx -y mcp-warden@0.0.1 -> ${NODE} ${CLI} (wrap --name tokens --audit-db `);
    expect(up.stdout).toContain('skipped  mine: already runs through mcp-warden (wrap)\n');
    expect(up.stdout).toContain('wrapped  plain\n');
    type Doc = { mcpServers: Record<string, { command: string; args: string[]; env?: Record<string, string> }> };
    const after = JSON.parse(readFileSync(file, 'utf8')) as Doc;
    expect(after.mcpServers['tokens']).toEqual({ command: NODE, args: [CLI, ...old.slice(2)], env });
    expect(after.mcpServers['mine']).toEqual({ command: NODE, args: [CLI, 'wrap', '--', NODE, FAULT] });
    expect(readFileSync(`${file}.mcp-warden.bak`, 'utf8')).toBe(text);
    const again = cli('install', '--host', 'claude-desktop', '--file', file, '--upgrade');
    expect(again.stdout).toContain('no change');

    // The moved entry runs, started as the host starts it, with the options it had (its own audit database).
    const entry = after.mcpServers['tokens']!;
    await expectTokenSeen(entry);
    expect(existsSync(path.join(dir, 'audit.db'))).toBe(true);
  });

  it("codex: $CODEX_HOME/config.toml and each .codex/config.toml up to the repository's root; an inline-table entry is skipped with the reason; the wrapped server runs", async () => {
    const codexHome = tmpDir('mcpw-codex-home-');
    const repo = tmpDir('mcpw-codex-repo-');
    const sub = path.join(repo, 'svc');
    mkdirSync(path.join(repo, '.git'), { recursive: true });
    mkdirSync(path.join(repo, '.codex'));
    mkdirSync(path.join(sub, '.codex'), { recursive: true });
    const state = path.join(codexHome, 'state');
    const user = path.join(codexHome, 'config.toml');
    const userText = `model = "gpt-5-codex"\n\n[mcp_servers.tokens]\ncommand = ${JSON.stringify(NODE)}\nargs = [${JSON.stringify(FAULT)}]\n\n[mcp_servers.tokens.env]\nAPI_TOKEN = "tok-from-host-config"\nXDG_STATE_HOME = ${JSON.stringify(state)}\nXDG_CONFIG_HOME = ${JSON.stringify(state)}\n`;
    const rootFile = path.join(repo, '.codex', 'config.toml');
    const rootText = '[mcp_servers]\nteam = { command = "team-server", args = ["--ro"] }\n\n[mcp_servers.db]\ncommand = "node"\nargs = ["db.js"]\n';
    const nearFile = path.join(sub, '.codex', 'config.toml');
    const nearText = "[mcp_servers.app]\ncommand = 'app-server'\n";
    writeFileSync(user, userText);
    writeFileSync(rootFile, rootText);
    writeFileSync(nearFile, nearText);
    const run = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: sub, env: { PATH: process.env['PATH'] ?? '', HOME: tmpDir('mcpw-home-'), CODEX_HOME: codexHome } });

    const inst = run('install', '--host', 'codex');
    expect(inst.status, inst.stderr).toBe(0);
    for (const n of ['db', 'app']) expect(inst.stdout).toContain(`wrapped  ${n}\n`);
    // Its env points wrap's state at the test's folder: wrapped, and said so.
    expect(inst.stdout).toContain('wrapped  tokens: its env sets XDG_STATE_HOME=');
    expect(inst.stdout).toContain('skipped  team: written as an inline table: install changes a server written as a [mcp_servers.team] table');
    const read = (f: string) => JSON.parse(JSON.stringify(parseToml(readFileSync(f, 'utf8')))) as { mcp_servers: Record<string, { command: string; args: string[]; env?: Record<string, string> }> };
    expect(read(rootFile).mcp_servers['team']).toEqual({ command: 'team-server', args: ['--ro'] });
    expect(read(nearFile).mcp_servers['app']).toEqual({ command: NODE, args: [CLI, 'wrap', '--name', 'app', '--', 'app-server'] });
    const entry = read(user).mcp_servers['tokens']!;
    expect(entry.args.slice(0, 5)).toEqual([CLI, 'wrap', '--name', 'tokens', '--']);
    // Started as Codex starts it: the entry's env only.
    await expectTokenSeen(entry);

    const un = run('uninstall', '--host', 'codex');
    expect(un.status, un.stderr).toBe(0);
    expect(readFileSync(user, 'utf8')).toBe(userText);
    expect(readFileSync(rootFile, 'utf8')).toBe(rootText);
    expect(readFileSync(nearFile, 'utf8')).toBe(nearText);

    // A file that is not TOML is refused with its line, and nothing is written; the tokens in it are not printed.
    writeFileSync(user, 'model = "x"\n[mcp_servers.a]\ncommand = "a"\ntoken = "sk-live-1234567890abcdef\n');
    const bad = run('install', '--host', 'codex', '--file', user);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/config\.toml:4: not TOML \(/);
    expect(bad.stderr).not.toContain('sk-live');
    expect(existsSync(`${user}.mcp-warden.bak`)).toBe(false);
  });

  it("opencode: a command written as one array is wrapped as one (no args added), under mcp or mcp.servers; its environment is checked; the wrapped server runs; uninstall restores", async () => {
    const dir = tmpDir('mcpw-opencode-');
    const repo = path.join(dir, 'repo');
    mkdirSync(path.join(repo, '.git'), { recursive: true });
    mkdirSync(path.join(repo, '.opencode'));
    const state = path.join(dir, 'state');
    const project = path.join(repo, 'opencode.jsonc');
    const projectText = `{
  "$schema": "https://opencode.ai/config.json",
  // the project's servers
  "mcp": {
    "tokens": {
      "type": "local",
      "command": [${JSON.stringify(NODE)}, ${JSON.stringify(FAULT)}],
      "environment": { "API_TOKEN": "tok-from-host-config", "XDG_STATE_HOME": ${JSON.stringify(state)}, "XDG_CONFIG_HOME": ${JSON.stringify(state)} },
      "enabled": true,
    },
    "jira": { "type": "remote", "url": "https://jira.example.com/mcp", "enabled": false },
  },
}
`;
    // The newer layout: servers under mcp.servers.
    const nested = path.join(repo, '.opencode', 'opencode.json');
    const nestedText = '{ "mcp": { "servers": { "git": { "type": "local", "command": ["uvx", "mcp-server-git"] } } } }\n';
    writeFileSync(project, projectText);
    writeFileSync(nested, nestedText);
    const run = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: repo, env: { PATH: process.env['PATH'] ?? '', HOME: tmpDir('mcpw-home-') } });

    const inst = run('install', '--host', 'opencode');
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stdout).toContain('wrapped  tokens: its env sets XDG_STATE_HOME=');
    expect(inst.stdout).toContain('skipped  jira: a remote server (url)');
    expect(inst.stdout).toContain('wrapped  git (in mcp.servers)\n');
    type Oc = { mcp: Record<string, { command: string[]; environment?: Record<string, string>; args?: unknown }> & { servers?: Record<string, { command: string[] }> } };
    const doc = parse(readFileSync(project, 'utf8'), [], { allowTrailingComma: true }) as Oc;
    const entry = doc.mcp['tokens']!;
    expect(entry.command).toEqual([NODE, CLI, 'wrap', '--name', 'tokens', '--', NODE, FAULT]);
    expect(entry.args).toBeUndefined();
    expect(readFileSync(project, 'utf8')).toContain('// the project\'s servers');
    expect((JSON.parse(readFileSync(nested, 'utf8')) as Oc).mcp.servers!['git']!.command).toEqual([NODE, CLI, 'wrap', '--name', 'git', '--', 'uvx', 'mcp-server-git']);
    // Started as opencode starts it: the command array and its environment.
    await expectTokenSeen({ command: entry.command[0]!, args: entry.command.slice(1), env: entry.environment });

    const un = run('uninstall', '--host', 'opencode');
    expect(un.status, un.stderr).toBe(0);
    expect(readFileSync(project, 'utf8')).toBe(projectText);
    expect(readFileSync(nested, 'utf8')).toBe(nestedText);
  });

  it("goose: config.yaml's extensions (cmd, args, envs) are wrapped in place, comments kept; builtin, flow-map and remote ones skipped with the reason; the wrapped server runs; uninstall restores", async () => {
    const home = tmpDir('mcpw-goose-');
    const file = path.join(home, '.config', 'goose', 'config.yaml');
    mkdirSync(path.dirname(file), { recursive: true });
    const state = path.join(home, 'state');
    const text = `# Goose settings
GOOSE_PROVIDER: anthropic
extensions:
  developer:
    bundled: true
    enabled: true
    type: builtin
  tokens:
    name: Tokens
    cmd: ${JSON.stringify(NODE)}   # the fault server
    args:
      - ${JSON.stringify(FAULT)}
    enabled: true
    envs:
      API_TOKEN: tok-from-host-config
      XDG_STATE_HOME: ${JSON.stringify(state)}
      XDG_CONFIG_HOME: ${JSON.stringify(state)}
    type: stdio
    timeout: 300
  memory:
    cmd: uvx
    type: stdio
  flowy: { cmd: node, args: [s.js], type: stdio }
  remote:
    type: streamable_http
    uri: https://mcp.example.com/mcp
`;
    writeFileSync(file, text);
    const run = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: home } });
    const inst = run('install', '--host', 'goose');
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stdout).toContain('skipped  developer: built into the host (type builtin), not a server it starts\n');
    expect(inst.stdout).toContain('wrapped  tokens: its env sets XDG_STATE_HOME=');
    expect(inst.stdout).toContain('wrapped  memory\n');
    expect(inst.stdout).toContain('skipped  flowy: written as a flow map');
    expect(inst.stdout).toContain('skipped  remote: a remote server (url)');
    const after = readFileSync(file, 'utf8');
    expect(after).toContain(`cmd: ${JSON.stringify(NODE)}   # the fault server`);
    expect(after).toContain('# Goose settings\nGOOSE_PROVIDER: anthropic\n');
    type Ext = { cmd: string; args: string[]; envs?: Record<string, string> };
    const { parse: parseYamlText } = await import('yaml');
    const doc = parseYamlText(after) as { extensions: Record<string, Ext> };
    expect(doc.extensions['memory']).toEqual({ cmd: NODE, args: [CLI, 'wrap', '--name', 'memory', '--', 'uvx'], type: 'stdio' });
    const entry = doc.extensions['tokens']!;
    expect(entry.args).toEqual([CLI, 'wrap', '--name', 'tokens', '--', NODE, FAULT]);
    // Started as Goose starts it: cmd, args and envs.
    await expectTokenSeen({ command: entry.cmd, args: entry.args, env: entry.envs });
    const un = run('uninstall', '--host', 'goose');
    expect(un.status, un.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it("zed: the earlier form, command: { path, args, env }, is wrapped in place, runs as Zed starts it, and uninstall restores it", async () => {
    const dir = tmpDir('mcpw-zed-');
    const state = path.join(dir, 'state');
    const file = path.join(dir, 'settings.json');
    const text = `// Zed settings
{
  "context_servers": {
    "tokens": {
      "command": {
        "path": ${JSON.stringify(NODE)},
        "args": [${JSON.stringify(FAULT)}],
        "env": { "API_TOKEN": "tok-from-host-config", "XDG_STATE_HOME": ${JSON.stringify(state)}, "XDG_CONFIG_HOME": ${JSON.stringify(state)} }
      },
      "settings": {}
    },
    "bare": { "command": { "path": "uvx" } },
  },
}
`;
    writeFileSync(file, text);
    const inst = cli('install', '--host', 'zed', '--file', file);
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stdout).toContain('wrapped  tokens');
    expect(inst.stdout).toContain('wrapped  bare\n');
    type Nested = { command: { path: string; args: string[]; env?: Record<string, string> }; settings?: object };
    const doc = parse(readFileSync(file, 'utf8'), [], { allowTrailingComma: true }) as { context_servers: Record<string, Nested> };
    const entry = doc.context_servers['tokens']!;
    expect(entry.command.path).toBe(NODE);
    expect(entry.command.args).toEqual([CLI, 'wrap', '--name', 'tokens', '--', NODE, FAULT]);
    expect(entry.command.env?.['API_TOKEN']).toBe('tok-from-host-config');
    expect(entry.settings).toEqual({});
    expect(doc.context_servers['bare']).toEqual({ command: { path: NODE, args: [CLI, 'wrap', '--name', 'bare', '--', 'uvx'] } });
    // Started as Zed starts it: path, args and env from the nested object.
    await expectTokenSeen({ command: entry.command.path, args: entry.command.args, env: entry.command.env });
    expect(cli('install', '--host', 'zed', '--file', file).stdout).toContain('no change');
    // Zed changed the file since (so the backup no longer stands for it): each entry is unwrapped where it is.
    writeFileSync(file, readFileSync(file, 'utf8').replace('"settings": {}', '"settings": { "repo": "." }'));
    const un = cli('uninstall', '--host', 'zed', '--file', file);
    expect(un.status, un.stderr).toBe(0);
    expect(un.stdout).toContain('unwrapped  tokens');
    const read = (t: string) => parse(t, [], { allowTrailingComma: true }) as unknown;
    expect(read(readFileSync(file, 'utf8'))).toEqual(read(text.replace('"settings": {}', '"settings": { "repo": "." }')));
  });

  it('a JSON config that sets a key twice is refused: the host reads the last one, which install would have left unwrapped', () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, 'claude_desktop_config.json');
    // The host (JSON.parse) runs the second command; an edit of the first would report "wrapped" and change nothing.
    const text = '{ "mcpServers": { "x": { "command": "decoy", "args": ["a"], "command": "npx", "args": ["-y", "real-server"] } } }\n';
    writeFileSync(file, text);
    const r = cli('install', '--host', 'claude-desktop', '--file', file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('did not read back as intended');
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('a server named __proto__ is a server: wrapped like the others (the host reads it as one), and put back', () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, '.mcp.json');
    const text = '{ "mcpServers": { "__proto__": { "command": "npx", "args": ["-y", "hidden-server"] }, "ok": { "command": "node", "args": ["s.js"] } } }\n';
    writeFileSync(file, text);
    const r = cli('install', '--host', 'claude-code', '--file', file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrapped  __proto__\n');
    expect(r.stdout).toContain('wrapped  ok\n');
    // As the host reads it (JSON.parse: an own key).
    const entry = Object.getOwnPropertyDescriptor((JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: object }).mcpServers, '__proto__')!.value as { command: string; args: string[] };
    expect(entry).toEqual({ command: NODE, args: [CLI, 'wrap', '--name', '__proto__', '--', 'npx', '-y', 'hidden-server'] });
    expect(cli('uninstall', '--host', 'claude-code', '--file', file).status).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('the wrapped entry that needs a token from its env works, started as a host starts it', async () => {
    const dir = tmpDir('mcpw-install-');
    const file = path.join(dir, 'claude_desktop_config.json');
    writeFileSync(file, samples[0]!.text(path.join(dir, 'state')));
    expect(cli('install', '--host', 'claude-desktop', '--file', file, '--server', 'tokens').status).toBe(0);
    const entry = (JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: { tokens: { command: string; args: string[]; env: Record<string, string> } } }).mcpServers.tokens;
    await expectTokenSeen(entry);
  });
});
