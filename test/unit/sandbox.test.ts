/**
 * The bubblewrap command line: order matters (later mounts win), so the server's own files under /tmp are bound
 * after the private /tmp, writable paths after that, and the proxy's hidden paths last.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bwrapCommand, SandboxError } from '../../src/transports/sandbox.js';

describe('bwrapCommand', () => {
  const tmp = mkdtempSync('/tmp/mcpw-sbx-');
  const script = path.join(tmp, 'server.mjs');
  writeFileSync(script, '');
  const state = path.join(tmp, 'state');
  mkdirSync(state);
  const scratch = mkdtempSync('/tmp/mcpw-sbx-w-');
  // Under /tmp and /var/tmp by name (the paths are what is tested), so outside the run's own folder: removed here.
  const made = [tmp, scratch];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

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

  it("hides other programs' credentials in the home after broad binds, and brings back those read names", () => {
    const home = mkdtempSync('/var/tmp/mcpw-sbx-home-');
    made.push(home);
    for (const d of ['.ssh', '.aws', '.config/gh', 'work']) mkdirSync(path.join(home, d), { recursive: true });
    writeFileSync(path.join(home, '.npmrc'), '');
    const cmd = (sb: Parameters<typeof bwrapCommand>[2]) => bwrapCommand('/usr/bin/node', [script], sb, [state], undefined, process.env['PATH'], [home]).args;
    const at = (args: string[], ...xs: string[]) => args.findIndex((_, i) => xs.every((x, k) => args[i + k] === x));
    const a = cmd({ type: 'bwrap', write: [home], read: [path.join(home, '.aws')] });
    const broad = at(a, '--bind', home, home);
    expect(broad).toBeGreaterThan(-1);
    for (const c of ['.ssh', '.aws', '.config/gh']) expect(at(a, '--tmpfs', path.join(home, c)), c).toBeGreaterThan(broad);
    expect(at(a, '--ro-bind', '/dev/null', path.join(home, '.npmrc'))).toBeGreaterThan(broad);
    expect(at(a, '--ro-bind', path.join(home, '.aws'), path.join(home, '.aws'))).toBeGreaterThan(at(a, '--tmpfs', path.join(home, '.aws')));
    expect(at(a, '--tmpfs', state)).toBeGreaterThan(at(a, '--ro-bind', path.join(home, '.aws'), path.join(home, '.aws')));
    // home: visible hides none of them; home: hidden puts an empty folder over the home and binds back what read names.
    expect(cmd({ type: 'bwrap', home: 'visible' }).join(' ')).not.toContain(path.join(home, '.ssh'));
    const h = cmd({ type: 'bwrap', home: 'hidden', read: [path.join(home, 'work')] });
    expect(at(h, '--tmpfs', home)).toBeGreaterThan(-1);
    expect(at(h, '--ro-bind', path.join(home, 'work'), path.join(home, 'work'))).toBeGreaterThan(at(h, '--tmpfs', home));
    expect(h.join(' ')).not.toContain(path.join(home, '.ssh'));
    // The server's own program under a hidden home stays visible (its top folder there, read-only).
    writeFileSync(path.join(home, 'work', 'server.mjs'), '');
    const own = bwrapCommand('/usr/bin/node', [path.join(home, 'work', 'server.mjs')], { type: 'bwrap', home: 'hidden' }, [], undefined, process.env['PATH'], [home]).args;
    expect(at(own, '--ro-bind', path.join(home, 'work'), path.join(home, 'work'))).toBeGreaterThan(at(own, '--tmpfs', home));
    // A server installed inside a hidden place (a Claude Code plugin) keeps its own folder there; the place stays hidden.
    const plugin = path.join(home, '.claude', 'plugins', 'notes', 'server.mjs');
    mkdirSync(path.dirname(plugin), { recursive: true });
    writeFileSync(plugin, '');
    writeFileSync(path.join(home, '.claude', '.credentials.json'), '{}');
    const p = bwrapCommand('/usr/bin/node', [plugin], { type: 'bwrap' }, [], undefined, process.env['PATH'], [home]).args;
    expect(at(p, '--ro-bind', path.join(home, '.claude', 'plugins'), path.join(home, '.claude', 'plugins'))).toBeGreaterThan(at(p, '--tmpfs', path.join(home, '.claude')));
    expect(p.join(' ')).not.toContain('.credentials.json');
    expect(() => cmd({ type: 'bwrap', read: [path.join(home, 'nothing-here')] })).toThrow(/sandbox\.read: .* does not exist/);
  });

  it('refuses a write path that does not exist, and a missing bubblewrap', () => {
    expect(() => bwrapCommand('/usr/bin/node', [], { type: 'bwrap', write: ['/nonexistent/dir'] }, [], undefined, process.env['PATH'])).toThrow(SandboxError);
    expect(() => bwrapCommand('/usr/bin/node', [], { type: 'bwrap', bwrap: '/nonexistent/bwrap' }, [], undefined, '/nonexistent')).toThrow(/bubblewrap/);
  });
});
