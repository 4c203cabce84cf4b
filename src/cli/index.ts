#!/usr/bin/env node
/**
 * The `mcp-warden` command. Each subcommand lives in its own file and is loaded only when used, so `wrap`
 * starts fast inside a desktop host.
 */
import { Command, Option } from 'commander';
import { fsReason, WardenError } from '../errors.js';
import { visibleText } from '../protocol/escape.js';
import { VERSION } from '../version.js';
import { wholeNumber } from './args.js';
import { tuneProxyHeap } from './heap.js';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/**
 * The command line parser. `only`: the one subcommand being run, when it is a proxy (`wrap`, `serve`): the other
 * commands' modules (lint, install, audit, … with their parsers) are then not loaded into a process that runs for
 * hours beside every host.
 */
export async function buildProgram(only?: 'wrap' | 'serve'): Promise<Command> {
  const program = new Command('mcp-warden')
    .description('Security proxy and auditing firewall for the Model Context Protocol')
    .version(VERSION)
    .enablePositionalOptions()
    .showHelpAfterError();

  program
    .command('wrap')
    .description('run a stdio MCP server (or reach a remote one) through the proxy: wrap -- CMD ARGS | wrap --url URL')
    .option('--config <file>', 'config file (default: $MCP_WARDEN_CONFIG, else the user config file; never the current directory)')
    .option('--policy <file>', 'policy file (repeatable; replaces the config policy list)', collect)
    .option('--audit-db <file>', 'audit database')
    .option('--name <name>', 'server name used in policy and audit (default: the package the command runs, or the host of --url)')
    .option('--url <url>', 'remote MCP server (Streamable HTTP, falls back to HTTP+SSE; ws:// for WebSocket)')
    .addOption(new Option('--transport <kind>', 'remote transport').choices(['streamable-http', 'sse', 'websocket']))
    .addOption(new Option('--sandbox <type>', 'run the server in a sandbox that hides the proxy\'s environment, state and keys (Linux: bubblewrap)').choices(['bwrap']))
    .argument('[command...]', 'server command and arguments, after --')
    .passThroughOptions()
    .action(async (command: string[], opts: { config?: string; policy?: string[]; auditDb?: string; name?: string; url?: string; transport?: 'streamable-http' | 'sse' | 'websocket'; sandbox?: 'bwrap' }) => {
      tuneProxyHeap('wrap');
      const { runWrap } = await import('./wrap.js');
      if (command.length === 0 && !opts.url && !opts.name && !opts.config) throw new WardenUsage('wrap needs a server command after --, or --url');
      if (command.length > 0 && opts.url) throw new WardenUsage('wrap takes either a command or --url, not both');
      exitWhenIdle(await runWrap({ ...opts, command }));
    });

  program
    .command('serve')
    .description('HTTP gateway for the configured servers (Streamable HTTP, legacy SSE, WebSocket)')
    .option('--config <file>', 'config file')
    .option('--insecure-no-auth', 'allow a non-loopback address without auth')
    .option('--host <host>', 'override listen.host')
    .option('--port <port>', 'override listen.port', wholeNumber(0, 65535))
    .action(async (opts: { config?: string; insecureNoAuth?: boolean; host?: string; port?: number }) => {
      tuneProxyHeap('serve');
      const { runServe } = await import('./serve.js');
      exitWhenIdle(await runServe(opts));
    });

  if (only) return program;
  const { registerAudit } = await import('./audit.js');
  registerAudit(program);
  const { registerPolicy } = await import('./policy.js');
  registerPolicy(program);
  const { registerRedact } = await import('./redact.js');
  registerRedact(program);
  const { registerLint } = await import('./lint.js');
  registerLint(program);
  const { registerInstall } = await import('./install.js');
  registerInstall(program);
  const { registerDemo } = await import('./demo.js');
  registerDemo(program);

  return program;
}

/**
 * The proxy has shut down and recorded its last audit event: it exits as soon as nothing is pending, and at the
 * latest after a grace period, so a handle nobody closed (a host's pipe, a sink's socket) cannot keep it running.
 */
function exitWhenIdle(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 3000).unref();
}

class WardenUsage extends WardenError {
  override readonly code = 'USAGE';
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv[2] === 'wrap' || argv[2] === 'serve' ? argv[2] : undefined);
  // Every level (`audit tail` too): a usage error is exit 2, decided below, not commander's own exit 1.
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  program.hook('preAction', async (_root, action) => {
    let top = action;
    while (top.parent && top.parent !== program) top = top.parent;
    if (top.name() !== 'wrap' && top.name() !== 'serve') (await import('./stdout.js')).guardStdout();
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
      return;
    }
    // A message can quote what a file or a peer wrote (a server's name from a project's .mcp.json, a key of a
    // config): shown with its control, bidirectional and hidden characters made visible, line by line.
    const say = (text: string) => process.stderr.write(`mcp-warden: ${text.split('\n').map(visibleText).join('\n')}\n`);
    if (err instanceof WardenError) {
      say(err.message);
      process.exitCode = err.exitCode;
      return;
    }
    const fsErr = err as NodeJS.ErrnoException;
    if (typeof fsErr?.code === 'string' && /^E[A-Z]+$/.test(fsErr.code) && typeof fsErr.path === 'string') {
      // A file the command had to read or write and could not: which one and why, not a stack trace.
      say(`${fsErr.path}: cannot ${fsErr.syscall ?? 'use'} it: ${fsReason(fsErr)}`);
      process.exitCode = 2;
      return;
    }
    if ((err as Error)?.name === 'SqliteError') {
      // A database that went bad while it was read (a damaged page): the reason, not a stack trace.
      say(`the audit database could not be read (SQLite: ${(err as Error).message}, ${String((err as { code?: unknown }).code)})`);
      process.exitCode = 2;
      return;
    }
    say(`unexpected error: ${(err as Error)?.stack ?? String(err)}`);
    process.exitCode = 70;
  }
}

// A file-size limit (ulimit -f) must turn into a write error the audit store can refuse calls on, not a kill.
if (process.platform !== 'win32') process.on('SIGXFSZ', () => undefined);

await main(process.argv);
