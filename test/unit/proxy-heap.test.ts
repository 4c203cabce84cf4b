/**
 * The V8 heap settings `wrap` and `serve` give themselves (src/cli/heap.ts): a young generation kept at its starting
 * size and a fixed growth of the old generation between full collections, each left to Node when its command line
 * or NODE_OPTIONS sets one of its kind. (test/integration/ops.test.ts checks the young generation of a running
 * `serve`.)
 */
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, proxyHeapFlags } from '../../src/cli/heap.js';

describe('the heap settings of a proxy', () => {
  it('keeps the young generation small and the old one growing by a fixed share, less for wrap than for serve', () => {
    expect(proxyHeapFlags('wrap', [])).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=50']);
    expect(proxyHeapFlags('serve', [])).toEqual(['--semi-space-growth-factor=1', '--heap-growing-percent=100']);
    expect(HEAP_GROWING_PERCENT.wrap).toBeLessThan(HEAP_GROWING_PERCENT.serve);
    // Other Node flags change nothing.
    expect(proxyHeapFlags('wrap', ['--enable-source-maps', '--max-old-space-size=512', ''])).toEqual(proxyHeapFlags('wrap', []));
  });

  it('leaves each setting to Node when Node was given one of its kind', () => {
    for (const f of ['--max-semi-space-size=4', '--min-semi-space-size=2', '--semi-space-growth-factor=2', '--max_semi_space_size=8'])
      expect(proxyHeapFlags('serve', [f]), f).toEqual(['--heap-growing-percent=100']);
    for (const f of ['--heap-growing-percent=0', '--heap_growing_percent=300'])
      expect(proxyHeapFlags('wrap', [f]), f).toEqual(['--semi-space-growth-factor=1']);
    expect(proxyHeapFlags('wrap', ['--max-semi-space-size=4', '--heap-growing-percent=20'])).toEqual([]);
  });
});
