/**
 * How a stdio server is started on Windows, checked where it can be: `npx` is `npx.cmd`, which only cmd.exe runs,
 * so the command line is built for cmd.exe and must reach it as written (Node quotes an argument again unless told
 * not to, and cmd.exe does not read its backslash escapes).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { windowsCommand } from '../../src/transports/child.js';

describe('windowsCommand', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpw-win-'));
  writeFileSync(path.join(dir, 'npx.cmd'), '@echo off\n');
  writeFileSync(path.join(dir, 'server.exe'), '');
  const env = { PATH: dir, PATHEXT: '.EXE;.CMD' };

  it('runs a .cmd through cmd.exe with the command line passed verbatim, each argument quoted for cmd', () => {
    const c = windowsCommand({ command: 'npx', args: ['-y', '@scope/pkg@1.0.0', 'C:\\My Files', 'a&b', 'say "hi"'], env });
    expect(c.command).toBe(process.env['ComSpec'] ?? 'cmd.exe');
    expect(c.args).toEqual(['/d', '/s', '/c', `"${path.join(dir, 'npx.cmd')} -y @scope/pkg@1.0.0 "C:\\My Files" "a&b" "say ""hi""""`]);
    expect(c.verbatim).toBe(true);
  });

  it('runs an .exe directly, its arguments left to Node', () => {
    const c = windowsCommand({ command: 'server', args: ['--root', 'C:\\My Files'], env });
    expect(c).toEqual({ command: path.join(dir, 'server.exe'), args: ['--root', 'C:\\My Files'] });
    expect(c.verbatim).toBeUndefined();
  });
});
