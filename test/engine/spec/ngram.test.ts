/** The n-gram proposer against a brute-force oracle written from its definition. */
import { describe, expect, it } from 'vitest';
import { proposeNgram } from '../../../src/engine/spec/ngram.js';

/** Longest n in [minN, maxN] whose suffix occurs earlier; the latest such occurrence; overlap copy. */
function oracle(seq: number[], minN: number, maxN: number, k: number): number[] {
  const L = seq.length;
  for (let n = Math.min(maxN, L - 1); n >= minN; n--) {
    const suffix = seq.slice(L - n).join();
    for (let start = L - n - 1; start >= 0; start--) {
      if (seq.slice(start, start + n).join() !== suffix) continue;
      const ext = [...seq];
      for (let i = 0; i < k; i++) ext.push(ext[start + n + i]!);
      return ext.slice(L);
    }
  }
  return [];
}

describe('proposeNgram', () => {
  it('copies what followed the latest longest match', () => {
    const seq = [1, 2, 3, 4, 5, 9, 2, 3, 4, 6, 7, 2, 3, 4];
    // Suffix [2,3,4] occurs at 6..8 (followed by 6, 7) and 1..3 (followed by 5): the latest wins.
    expect(proposeNgram((i) => seq[i]!, seq.length, 1, 3, 3)).toEqual([6, 7, 2]);
    // A longer match beats a more recent shorter one.
    const s2 = [8, 2, 3, 4, 5, 6, 0, 3, 4, 1, 8, 2, 3, 4];
    expect(proposeNgram((i) => s2[i]!, s2.length, 2, 4, 2)).toEqual([5, 6]);
  });

  it('continues a repeating span past the end of the sequence', () => {
    const seq = [5, 1, 2, 1, 2, 1, 2];
    expect(proposeNgram((i) => seq[i]!, seq.length, 2, 3, 5)).toEqual([1, 2, 1, 2, 1]);
    const loop = [9, 9, 9, 9];
    expect(proposeNgram((i) => loop[i]!, loop.length, 1, 4, 4)).toEqual([9, 9, 9, 9]);
  });

  it('proposes nothing without a match of at least prompt_lookup_min tokens', () => {
    const seq = [1, 2, 3, 4, 3];
    expect(proposeNgram((i) => seq[i]!, seq.length, 2, 4, 4)).toEqual([]);
    expect(proposeNgram((i) => seq[i]!, seq.length, 1, 4, 4)).toEqual([4, 3, 4, 3]);
    expect(proposeNgram((i) => [7][i]!, 1, 1, 4, 4)).toEqual([]);
  });

  it('agrees with the oracle on random sequences over small alphabets', () => {
    let x = 12345;
    const rand = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let trial = 0; trial < 500; trial++) {
      const seq = Array.from({ length: 1 + rand(40) }, () => rand(2 + (trial % 5)));
      const minN = 1 + rand(3);
      const maxN = minN + rand(3);
      const k = 1 + rand(5);
      expect(proposeNgram((i) => seq[i]!, seq.length, minN, maxN, k)).toEqual(oracle(seq, minN, maxN, k));
    }
  });
});
