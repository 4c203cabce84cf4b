/**
 * Reading a whole input a command was given: a file, or stdin for `-`. Capped, because a path can be a device or a
 * pipe that never ends (`/dev/zero`), and a clear error names the input either way.
 */
import { createReadStream } from 'node:fs';
import { errnoText, UsageError } from '../errors.js';

/** Larger than any manifest (lint, policy init). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

/** `fatal`: invalid UTF-8 is an error (else it is read as U+FFFD, as JSON parsers would). */
export async function readInput(name: string, maxBytes: number, opts: { fatal?: boolean } = {}): Promise<string> {
  const label = name === '-' ? 'stdin' : name;
  const stream = name === '-' ? process.stdin : createReadStream(name);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of stream) {
      const b = c as Buffer;
      size += b.length;
      if (size > maxBytes) throw new UsageError(`${label}: more than ${maxBytes} bytes`);
      chunks.push(b);
    }
  } catch (e) {
    if (name !== '-') (stream as ReturnType<typeof createReadStream>).destroy();
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${label}: no such file` : `${label}: cannot read: ${errnoText(e)}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: opts.fatal === true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UsageError(`${label}: not UTF-8 text`);
  }
}
