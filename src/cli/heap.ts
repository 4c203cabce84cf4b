/**
 * V8 heap settings for the long-running proxies (`wrap`, `serve`), set at start because hosts start
 * `mcp-warden wrap` with no Node flags. A proxy's live heap is small (about 11 MB) and nearly everything it allocates
 * dies with the message it was allocated for; Node's defaults are sized for applications that keep what they allocate.
 *
 * - The young generation stays at its starting size (1 MiB semi-spaces) instead of growing to 16 MiB each under load:
 *   the garbage of one message dies in the small space as well.
 * - The old generation's next full collection comes once it has grown by a fixed share (`--heap-growing-percent`)
 *   instead of the factor V8 picks from its GC and allocation speeds (up to 4x what survived the last one): under
 *   load V8 picked large factors, and the headroom filled with garbage promoted between full collections.
 *   `serve` gets 100 % (factor 2), `wrap` 50 %: `serve`'s HTTP work allocates more per call, and at 50 % it lost
 *   6-12 % of its calls/s, at 100 % none; `wrap` lost none at 50 %.
 *
 * A setting of the same kind given to Node itself (its command line or NODE_OPTIONS) is left to rule.
 * docs/benchmarks.md, "Where the memory goes", has the figures.
 */
import { setFlagsFromString } from 'node:v8';

/** Heap growth past the last full collection before the next one, per proxy (percent). */
export const HEAP_GROWING_PERCENT = { wrap: 50, serve: 100 } as const;

/** The V8 flags a proxy sets on itself, given the flags Node was started with (`execArgv` and NODE_OPTIONS). */
export function proxyHeapFlags(kind: 'wrap' | 'serve', given: readonly string[]): string[] {
  const has = (re: RegExp) => given.some((a) => re.test(a));
  const out: string[] = [];
  if (!has(/^--(?:(?:max|min)[-_])?semi[-_]space/)) out.push('--semi-space-growth-factor=1');
  if (!has(/^--heap[-_]growing[-_]percent/)) out.push(`--heap-growing-percent=${HEAP_GROWING_PERCENT[kind]}`);
  return out;
}

export function tuneProxyHeap(kind: 'wrap' | 'serve'): void {
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  for (const flag of proxyHeapFlags(kind, given)) setFlagsFromString(flag);
}
