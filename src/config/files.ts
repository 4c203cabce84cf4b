/**
 * Files that must be created once even when several processes start together (keys): write a private temp file,
 * then hard-link it into place; whoever loses the race reads the winner's file.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { makeParent } from '../errors.js';

export function createOnce(file: string, content: string | Buffer): void {
  makeParent(file);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/** A random 32-byte key kept in `file` (created on first use). */
export function loadOrCreateRandomKey(file: string): Buffer {
  try {
    return decodeKey(readFileSync(file, 'utf8'), file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  createOnce(file, `${randomBytes(32).toString('base64')}\n`);
  return decodeKey(readFileSync(file, 'utf8'), file);
}

function decodeKey(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length < 16) throw new Error(`${file}: not a key (expected at least 16 bytes, base64)`);
  return key;
}
