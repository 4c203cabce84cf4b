/**
 * Tokens the proxy obtains (a person's login for `wrap --url`) kept encrypted at rest: AES-256-GCM, one file per
 * server, written atomically with mode 0600. The 256-bit key lives in the OS keychain where one answers
 * (`security` on macOS, `secret-tool` with a D-Bus session on Linux), else in a 0600 key file created atomically
 * beside the tokens. With a key file, the protection is against copies of the token file (backups, sync folders,
 * a stray `cat`), not against the same user reading both files — SECURITY.md says so.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { makeDirs } from '../errors.js';
import path from 'node:path';

const SERVICE = 'mcp-warden';
const ACCOUNT = 'token-store-key';

function keychainGet(): Buffer | undefined {
  try {
    if (process.platform === 'darwin') {
      const out = execFileSync('security', ['find-generic-password', '-s', SERVICE, '-a', ACCOUNT, '-w'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
      return out ? Buffer.from(out, 'base64') : undefined;
    }
    if (process.platform === 'linux' && process.env['DBUS_SESSION_BUS_ADDRESS']) {
      const out = execFileSync('secret-tool', ['lookup', 'service', SERVICE, 'account', ACCOUNT], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
      return out ? Buffer.from(out, 'base64') : undefined;
    }
  } catch {
    /* no keychain, or no entry yet */
  }
  return undefined;
}

function keychainSet(key: Buffer): boolean {
  try {
    if (process.platform === 'darwin') {
      // The key reaches `security` on its standard input (interactive mode reads its commands from there), never on its
      // command line, which any local user's `ps` shows while the command runs. If this `security` stores something
      // else, the check below fails and the key file is used instead.
      execFileSync('security', ['-i'], { input: `add-generic-password -U -s ${SERVICE} -a ${ACCOUNT} -w ${key.toString('base64')}\n`, stdio: ['pipe', 'ignore', 'ignore'], timeout: 5000 });
      return keychainGet()?.equals(key) ?? false;
    }
    if (process.platform === 'linux' && process.env['DBUS_SESSION_BUS_ADDRESS']) {
      execFileSync('secret-tool', ['store', '--label', 'mcp-warden token store', 'service', SERVICE, 'account', ACCOUNT], { input: key.toString('base64'), stdio: ['pipe', 'ignore', 'ignore'], timeout: 5000 });
      return keychainGet()?.equals(key) ?? false;
    }
  } catch {
    /* fall back to the key file */
  }
  return false;
}

export class TokenStore {
  private key: Buffer | undefined;
  /** Where the key came from (for `doctor`-style messages and tests). */
  keySource: 'keychain' | 'file' | undefined;

  constructor(readonly dir: string, private readonly useKeychain = process.env['MCP_WARDEN_NO_KEYCHAIN'] === undefined) {}

  private getKey(): Buffer {
    if (this.key) return this.key;
    makeDirs(this.dir);
    const file = path.join(this.dir, 'key');
    const fromFile = (): Buffer | undefined => {
      try {
        const k = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
        return k.length === 32 ? k : undefined;
      } catch {
        return undefined;
      }
    };
    let k = fromFile();
    if (k) {
      this.keySource = 'file';
      return (this.key = k);
    }
    if (this.useKeychain) {
      k = keychainGet();
      if (k?.length === 32) {
        this.keySource = 'keychain';
        return (this.key = k);
      }
      const fresh = randomBytes(32);
      if (keychainSet(fresh)) {
        this.keySource = 'keychain';
        return (this.key = fresh);
      }
    }
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    k = fromFile();
    if (!k) throw new Error(`${file}: the token key is unreadable or malformed`);
    this.keySource = 'file';
    return (this.key = k);
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.enc`);
  }

  read<T>(name: string): T | undefined {
    let raw: string;
    try {
      raw = readFileSync(this.file(name), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const doc = JSON.parse(raw) as { v: number; iv: string; tag: string; data: string };
      const d = createDecipheriv('aes-256-gcm', this.getKey(), Buffer.from(doc.iv, 'base64'));
      d.setAAD(Buffer.from(name));
      d.setAuthTag(Buffer.from(doc.tag, 'base64'));
      const plain = Buffer.concat([d.update(Buffer.from(doc.data, 'base64')), d.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  write(name: string, value: unknown): void {
    const key = this.getKey();
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from(name));
    const data = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    const doc = { v: 1, alg: 'A256GCM', iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
    const tmp = `${this.file(name)}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, JSON.stringify(doc), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file(name));
  }
}
