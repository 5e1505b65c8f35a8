/**
 * Log-probabilities for generated and prompt tokens.
 *
 * For generated tokens they come from the log-softmax of the logits after logit_bias, min_tokens,
 * the penalties and temperature (temperature 1 when greedy), and before top-k / top-p / min-p. So they
 * describe the distribution the sampler truncated, and a token cut by top-p still has a finite logprob.
 * Prompt logprobs use the raw logits.
 */
import type { TokenLogprob, TopLogprob } from '../outputs.js';
import { rankOf, selectTopK, sortByRank } from './rank.js';

export function logSumExp(x: Float64Array): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  if (m === -Infinity || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/** The chosen token's logprob and rank, plus the `k` most likely tokens (most likely first). */
export function tokenLogprob(
  x: Float64Array,
  chosen: number,
  k: number,
  decodeToken: (id: number) => string,
  idx: Int32Array,
): TokenLogprob {
  const lse = logSumExp(x);
  const top: TopLogprob[] = [];
  const V = x.length;
  k = Math.min(k, V);
  if (k > 0) {
    selectTopK(x, idx, k);
    sortByRank(x, idx, 0, k);
    for (let i = 0; i < k; i++) {
      const id = idx[i]!;
      top.push({ tokenId: id, token: decodeToken(id), logprob: x[id]! - lse });
    }
  }
  return { tokenId: chosen, token: decodeToken(chosen), logprob: x[chosen]! - lse, rank: rankOf(x, chosen), top };
}
