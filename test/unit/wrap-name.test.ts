/** The name `wrap` gives a server when the command line names none (policy rules, pins and the audit key on it). */
import { describe, expect, it } from 'vitest';
import { deriveName, urlName } from '../../src/cli/wrap.js';

describe('a server name from the command line', () => {
  it('is the package or program a command runs', () => {
    expect(deriveName(['npx', '-y', '@modelcontextprotocol/server-filesystem@2025.1.1', '/tmp'])).toBe('server-filesystem');
    expect(deriveName(['node', '/opt/mcp/weather/dist/index.js'])).toBe('weather');
    expect(deriveName(['uvx', 'mcp-server-git'])).toBe('mcp-server-git');
    expect(deriveName(['--', '-x'])).toBe('server');
  });

  it('is the host of a URL, an IPv6 literal included', () => {
    const of = (u: string) => urlName(new URL(u).hostname);
    expect(of('https://api.example.com/mcp')).toBe('api.example.com');
    expect(of('http://127.0.0.1:8080/mcp')).toBe('127.0.0.1');
    expect(of('http://[::1]:8080/mcp')).toBe('ipv6-1');
    expect(of('https://[2001:db8::5]/mcp')).toBe('ipv6-2001-db8-5');
    expect(of('http://[::ffff:127.0.0.1]/mcp')).toBe('ipv6-ffff-7f00-1');
    expect(urlName('')).toBe('server');
  });
});
