/**
 * The n-gram proposer (prompt lookup decoding): find an earlier occurrence of the sequence's last
 * n tokens, n from `maxN` down to `minN`, and propose the tokens that followed it. One backward
 * scan compares every earlier position with the suffix (at most `maxN` tokens each), so a step costs
 * O(length × maxN); the longest match wins, and among equally long ones the most recent (text being
 * copied right now tends to continue where it was last seen). The proposal copies what followed the
 * match and, where that runs into the end of the sequence, keeps copying its own tokens (an LZ77
 * overlapping copy), so a repeating span of period p is continued for all k tokens, not p.
 */

/** `tokenAt(i)` for i < `length` is the sequence (prompt, then outputs). Returns up to `k` tokens. */
export function proposeNgram(tokenAt: (i: number) => number, length: number, minN: number, maxN: number, k: number): number[] {
  if (k <= 0 || length < minN + 1) return [];
  let bestLen = 0;
  let bestEnd = -1; // position of the last token of the best earlier occurrence
  // The occurrence ending at `end` must end before the suffix itself (end < length - 1).
  for (let end = length - 2; end >= 0 && bestLen < maxN; end--) {
    let n = 0;
    while (n < maxN && n <= end && tokenAt(end - n) === tokenAt(length - 1 - n)) n++;
    if (n >= minN && n > bestLen) {
      bestLen = n;
      bestEnd = end;
    }
  }
  if (bestEnd < 0) return [];
  const out: number[] = [];
  for (let i = bestEnd + 1; out.length < k; i++) out.push(i < length ? tokenAt(i) : out[i - length]!);
  return out;
}
