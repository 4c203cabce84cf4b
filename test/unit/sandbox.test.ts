/**
 * The bubblewrap command line: order matters (later mounts win), so the server's own files under /tmp are bound
 * after the private /tmp, writable paths after that, and the proxy's hidden paths last.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bwrapCommand, SandboxError } from '../../src/transports/sandbox.js';

describe('bwrapCommand', () => {
  const tmp = mkdtempSync('/tmp/mcpw-sbx-');
  const script = path.join(tmp, 'server.mjs');
  writeFileSync(script, '');
  const state = path.join(tmp, 'state');
  mkdirSync(state);
  const scratch = mkdtempSync('/tmp/mcpw-sbx-w-');

  it('keeps a server under /tmp visible (read-only), hides the proxy state even inside it, binds write paths', () => {
    const { args } = bwrapCommand('/usr/bin/node', [script, '--flag'], { type: 'bwrap', write: [scratch], network: false }, [state, '/nonexistent/x'], undefined, process.env['PATH']);
    const at = (...xs: string[]) => args.findIndex((_, i) => xs.every((x, k) => args[i + k] === x));
    expect(at('--unshare-net')).toBeGreaterThan(-1);
    const tmpfs = at('--tmpfs', '/tmp');
    const own = at('--ro-bind', tmp, tmp);
    const write = at('--bind', scratch, scratch);
    const hidden = at('--tmpfs', state);
    expect(tmpfs).toBeGreaterThan(-1);
    expect(own).toBeGreaterThan(tmpfs);
    expect(write).toBeGreaterThan(own);
    expect(hidden).toBeGreaterThan(write);
    expect(args.join(' ')).not.toContain('/nonexistent/x');
    expect(args.slice(args.indexOf('--') + 1)).toEqual(['/usr/bin/node', script, '--flag']);
  });

  it('refuses a write path that does not exist, and a missing bubblewrap', () => {
    expect(() => bwrapCommand('/usr/bin/node', [], { type: 'bwrap', write: ['/nonexistent/dir'] }, [], undefined, process.env['PATH'])).toThrow(SandboxError);
    expect(() => bwrapCommand('/usr/bin/node', [], { type: 'bwrap', bwrap: '/nonexistent/bwrap' }, [], undefined, '/nonexistent')).toThrow(/bubblewrap/);
  });
});
