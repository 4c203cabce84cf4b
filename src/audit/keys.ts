/**
 * The audit signing key: an Ed25519 key in a PEM file (mode 0600), created atomically on first use so several
 * processes starting at once end up with one key. From it come the checkpoint signatures and, by HKDF, the key
 * of the per-event MAC and the key of the arguments' hash.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, createHash, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createOnce } from '../config/files.js';
import { errnoText, WardenError } from '../errors.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Hex of the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw public key), as C2SP signed notes do. */
  keyId: string;
  /** Raw 32-byte public key, base64. */
  publicRaw: string;
  macKey: Buffer;
  /**
   * Keys `args_sha256`. Arguments that redaction masks (a national id, a card number, a password) come from small
   * spaces: a plain SHA-256 of the arguments beside their masked copy would let anyone holding the trail, or its
   * off-machine copy, find them by trying each candidate.
   */
  argsKey: Buffer;
}

export class AuditKeyError extends WardenError {
  override readonly code = 'AUDIT_KEY';
}

const KEY_NAME = 'mcp-warden-audit';

/** The key id of an Ed25519 public key (as checkpoints name it). */
export function keyIdOf(publicKey: KeyObject): string {
  return keyIdOfRaw(Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url'));
}

function keyIdOfRaw(raw: Buffer): string {
  return createHash('sha256').update(Buffer.concat([Buffer.from(KEY_NAME), Buffer.from([0x0a, 0x01]), raw])).digest().subarray(0, 4).toString('hex');
}

function fromPrivate(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
  const raw = Buffer.from(jwk.x, 'base64url');
  const keyId = keyIdOfRaw(raw);
  const seed = Buffer.from((privateKey.export({ format: 'jwk' }) as { d: string }).d, 'base64url');
  const macKey = Buffer.from(hkdfSync('sha256', seed, Buffer.from('mcp-warden'), Buffer.from('audit event mac v1'), 32));
  const argsKey = Buffer.from(hkdfSync('sha256', seed, Buffer.from('mcp-warden'), Buffer.from('audit args hmac v1'), 32));
  return { privateKey, publicKey, keyId, publicRaw: raw.toString('base64'), macKey, argsKey };
}

export function parsePrivateKey(pem: string, file: string): SigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AuditKeyError(`${file}: not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditKeyError(`${file}: the audit signing key must be Ed25519`);
  return fromPrivate(key);
}

/** Loads the key, creating it if absent. Creation is atomic: write a private temp file, then link it in place. */
export function loadOrCreateKey(file: string): SigningKey {
  try {
    const key = parsePrivateKey(readFileSync(file, 'utf8'), file);
    refuseIfShared(file);
    return key;
  } catch (e) {
    if (e instanceof AuditKeyError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new AuditKeyError(`${file}: cannot read the audit signing key: ${errnoText(e)}`);
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    createOnce(file, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    return parsePrivateKey(readFileSync(file, 'utf8'), file);
  } catch (e) {
    if (e instanceof AuditKeyError) throw e;
    throw new AuditKeyError(`${file}: cannot create the audit signing key: ${errnoText(e)}`);
  }
}

/**
 * A signing key every user of the machine can read (or replace) lets any of them sign a rewritten trail: refused, as
 * ssh refuses such a private key. Group permissions stay allowed (several service accounts of one group sharing a
 * trail). Windows keeps permissions in ACLs, not in these bits.
 */
function refuseIfShared(file: string): void {
  if (process.platform === 'win32') return;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o006) throw new AuditKeyError(`${file}: the audit signing key is ${mode & 0o004 ? 'readable' : 'writable'} by every user of this machine (mode 0${mode.toString(8)}), so anyone could sign a rewritten trail; make it private (chmod 600, or 640 for a group that shares the trail) and start again`);
}

export function signNote(key: SigningKey, note: string): string {
  return sign(null, Buffer.from(note), key.privateKey).toString('base64');
}

export function verifyNote(publicKey: KeyObject, note: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(note), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * A public key given as a PEM file or as the raw base64 printed by `audit key`. Anything else — another kind of
 * key, a base64 text of the wrong length, a file that is not a key — is refused by name: checking Ed25519
 * signatures with it would report a tampered trail that is not.
 */
export function loadPublicKey(text: string, file = 'the public key'): KeyObject {
  const t = text.trim();
  const refuse = (why: string) => new AuditKeyError(`${file}: ${why}; give the PEM file or the base64 line that \`mcp-warden audit key\` prints`);
  let k: KeyObject;
  if (t.startsWith('-----BEGIN')) {
    try {
      k = t.includes('PRIVATE') ? createPublicKey(createPrivateKey(t)) : createPublicKey(t);
    } catch {
      throw refuse('not a readable PEM key');
    }
  } else {
    if (!/^[A-Za-z0-9+/]{43}=?$/.test(t)) throw refuse('not a PEM key nor the base64 of a 32-byte Ed25519 public key');
    try {
      k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(t, 'base64').toString('base64url') }, format: 'jwk' });
    } catch {
      throw refuse('not an Ed25519 public key');
    }
  }
  if (k.asymmetricKeyType !== 'ed25519') throw refuse(`an ${k.asymmetricKeyType ?? 'unknown'} key, not the Ed25519 key the audit trail is signed with`);
  return k;
}
