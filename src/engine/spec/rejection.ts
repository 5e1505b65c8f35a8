/**
 * Verifying a point-mass draft (both proposers draft one token per position: ngram copies, the
 * draft model decodes greedily) against the target's k + 1 rows of logits.
 *
 * Row i is sampled exactly as the non-speculative sampler would sample position i: the same logit
 * processing (bias, min_tokens and penalties see the drafts before i as outputs, since they are the
 * outputs if row i is reached), the same truncation, and one uniform from the sequence's own stream.
 * The draft d_i is accepted iff the sampled token equals it; at the first mismatch the sampled token
 * is emitted and the rest dropped; after k accepts row k gives the bonus token.
 *
 * This is standard speculative rejection sampling for q = point mass at d: P(accept) = p(d) =
 * min(1, p(d)/q(d)), and given a rejection the token is distributed as p without d, renormalised,
 * which is max(p − q, 0) normalised. Greedy is the special case p = one-hot(argmax). Rows after the
 * first mismatch are never sampled, so each emitted token consumes exactly the one uniform it would
 * consume without speculation: a seeded request produces the same tokens either way.
 */
import type { Backend } from '../../kernels/backend.js';
import type { Sampler, SampleRequest, SampleResult } from '../sampler.js';

/**
 * `logits` holds rows [0, drafts.length] (row i predicts the token after draft i − 1; row 0 after the
 * sequence's last token). Returns the tokens to append: the accepted drafts, then the target's own.
 */
export function verifyDrafts(
  sampler: Sampler,
  backend: Backend,
  logits: Float32Array,
  vocabSize: number,
  base: SampleRequest,
  drafts: readonly number[],
  decodeToken: (id: number) => string,
): SampleResult[] {
  const out: SampleResult[] = [];
  for (let i = 0; i <= drafts.length; i++) {
    const row = logits.subarray(i * vocabSize, (i + 1) * vocabSize);
    const outputs = i === 0 ? base.outputTokenIds : [...base.outputTokenIds, ...drafts.slice(0, i)];
    const res = sampler.sampleRows(row, vocabSize, [{ ...base, outputTokenIds: outputs }], decodeToken, backend)[0]!;
    out.push(res);
    if (i === drafts.length || res.tokenId !== drafts[i]) break;
  }
  return out;
}
