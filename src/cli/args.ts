/**
 * Parsers for numeric options: a value that is not what the option takes is a usage error (exit 2) naming the
 * option, never a NaN that quietly means "no limit".
 */
import { InvalidArgumentError } from 'commander';

/** A whole number from `min` to `max`. */
export function wholeNumber(min = 0, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** A positive number of seconds. */
export function seconds(v: string): number {
  const n = /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds.');
  return n;
}

/**
 * Whether `name` can be a server's name (`wrap --name`): 1 to 128 characters, not only spaces, no control
 * characters. Policy rules, pins and the audit trail key on it.
 */
export function isServerName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.trim() !== '' && name.length <= 128 && !/[\u0000-\u001f\u007f-\u009f]/.test(name);
}
