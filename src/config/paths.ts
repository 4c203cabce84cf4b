/**
 * Where mcp-warden keeps things, per platform. Never the current directory: a desktop host starts `wrap` inside
 * project folders, and a cloned repository must not be able to supply a looser policy.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function configDir(): string {
  if (process.platform === 'win32') return path.join(process.env['APPDATA'] ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'mcp-warden');
  return path.join(process.env['XDG_CONFIG_HOME'] || path.join(os.homedir(), '.config'), 'mcp-warden');
}

export function stateDir(): string {
  if (process.env['MCP_WARDEN_STATE_DIR']) return process.env['MCP_WARDEN_STATE_DIR'];
  if (process.platform === 'win32') return path.join(process.env['LOCALAPPDATA'] ?? path.join(os.homedir(), 'AppData', 'Local'), 'mcp-warden');
  if (process.platform === 'darwin' && !process.env['XDG_STATE_HOME']) return path.join(os.homedir(), 'Library', 'Application Support', 'mcp-warden');
  return path.join(process.env['XDG_STATE_HOME'] || path.join(os.homedir(), '.local', 'state'), 'mcp-warden');
}

/**
 * A path written in a config file: `~` and `~/…` are the user's home directory, as a shell would read them (YAML
 * does not: `~/audit.db` was a folder named "~" beside the config); anything else relative is relative to
 * `baseDir`, the config file's folder.
 */
export function configPath(p: string, baseDir: string | undefined): string {
  if (p === '~' || p.startsWith('~/') || (process.platform === 'win32' && p.startsWith('~\\'))) return path.join(os.homedir(), p.slice(2));
  return baseDir ? path.resolve(baseDir, p) : path.resolve(p);
}

/** The user's config file: `$MCP_WARDEN_CONFIG`, else the platform config directory. */
export function userConfigFile(): string {
  return process.env['MCP_WARDEN_CONFIG'] || path.join(configDir(), 'config.yaml');
}

/** The installed package's root (holds rules/, audit/, schemas/). */
export function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function packagePath(...parts: string[]): string {
  return path.join(packageRoot(), ...parts);
}
