/**
 * The sampler: one row of logits per request in, one token (and optionally its logprobs) out.
 *
 * Per row, in vLLM's order: logit_bias → min_tokens → repetition / presence / frequency penalties →
 * greedy argmax, or temperature → top-k → top-p → min-p → an inverse-CDF draw with the request's Rng.
 * Each step is O(V) or O(V log k) (partial selection, never a full sort of the vocabulary), and a
 * row depends only on its own request, so batching never changes a result.
 *
 * Logprobs are the log-softmax of the logits after bias, penalties and temperature (temperature 1
 * when greedy), before top-k / top-p / min-p: see sampling/logprobs.ts.
 */
import type { TokenLogprob } from './outputs.js';
import type { Rng } from './rng.js';
import { SAMPLING_EPS, type SamplingParams } from './sampling-params.js';
import { applyLogitBias, applyMinTokens, applyPenalties } from './sampling/penalties.js';
import { drawFrom, truncate } from './sampling/top-k-top-p.js';
import { tokenLogprob } from './sampling/logprobs.js';

export interface SampleRequest {
  readonly params: SamplingParams;
  readonly rng: Rng;
  readonly promptTokenIds: readonly number[];
  /** Tokens this sequence generated so far (for penalties and min_tokens). */
  readonly outputTokenIds: readonly number[];
  readonly eosTokenId: number;
}

export interface SampleResult {
  readonly tokenId: number;
  /** Present when the request asked for logprobs. */
  readonly logprob: TokenLogprob | null;
}

// Scratch reused across rows: the row in f64, unnormalised probabilities, and an index array.
let xBuf = new Float64Array(0);
let wBuf = new Float64Array(0);
let idxBuf = new Int32Array(0);

function scratch(vocabSize: number): { x: Float64Array; w: Float64Array; idx: Int32Array } {
  if (xBuf.length !== vocabSize) {
    xBuf = new Float64Array(vocabSize);
    wBuf = new Float64Array(vocabSize);
    idxBuf = new Int32Array(vocabSize);
  }
  return { x: xBuf, w: wBuf, idx: idxBuf };
}

function checkShape(logits: Float32Array, vocabSize: number, rows: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new RangeError(`vocabSize must be a positive integer, got ${vocabSize}`);
  if (logits.length < rows * vocabSize) {
    throw new RangeError(`logits hold ${logits.length} values, need ${rows} rows × ${vocabSize} vocab`);
  }
}

/** Highest logit, lowest token id on ties. */
export function argmax(x: Float64Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Draws a token from the (temperature-scaled) row `x` after top-k, top-p and min-p. */
function drawRow(x: Float64Array, w: Float64Array, idx: Int32Array, params: SamplingParams, u: number): number {
  const best = argmax(x);
  if (!(x[best]! > -Infinity) || x[best] === Infinity) return best; // degenerate row: nothing to weigh
  const n = truncate(x, w, idx, best, params.topK, params.topP, params.minP);
  // Draw in token-id order, so the choice depends only on the distribution and `u`, not on how the
  // selection permuted the survivors. Untruncated, idx is still the identity.
  if (n < x.length) idx.subarray(0, n).sort();
  return drawFrom(w, idx, n, u);
}

/** Samples one token per row; row i of `logits` ([reqs.length, vocabSize]) belongs to reqs[i]. */
export function sampleRows(
  logits: Float32Array,
  vocabSize: number,
  reqs: readonly SampleRequest[],
  decodeToken: (id: number) => string,
): SampleResult[] {
  checkShape(logits, vocabSize, reqs.length);
  const { x, w, idx } = scratch(vocabSize);
  const results: SampleResult[] = [];
  for (let r = 0; r < reqs.length; r++) {
    const { params, rng, promptTokenIds, outputTokenIds, eosTokenId } = reqs[r]!;
    const off = r * vocabSize;
    for (let i = 0; i < vocabSize; i++) x[i] = logits[off + i]!;
    if (params.logitBias) applyLogitBias(x, params.logitBias);
    applyMinTokens(x, params, outputTokenIds.length, eosTokenId);
    applyPenalties(x, params, promptTokenIds, outputTokenIds);
    let tokenId: number;
    if (params.greedy) {
      tokenId = argmax(x);
      // Greedy by top_k = 1 with a real temperature: logprobs still see that temperature.
      if (params.temperature >= SAMPLING_EPS && params.logprobs !== null) scale(x, params.temperature);
    } else {
      scale(x, params.temperature);
      tokenId = drawRow(x, w, idx, params, rng.nextFloat());
    }
    const logprob = params.logprobs === null ? null : tokenLogprob(x, tokenId, params.logprobs, decodeToken, idx);
    results.push({ tokenId, logprob });
  }
  return results;
}

function scale(x: Float64Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < x.length; i++) x[i]! /= temperature;
}

/**
 * Prompt logprobs from raw logits: row j scores `targets[j]` (the prompt token that follows row j's
 * position), with its rank and the `k` most likely alternatives.
 */
export function promptLogprobs(
  logits: Float32Array,
  vocabSize: number,
  targets: readonly number[],
  k: number,
  decodeToken: (id: number) => string,
): TokenLogprob[] {
  checkShape(logits, vocabSize, targets.length);
  const { x, idx } = scratch(vocabSize);
  const out: TokenLogprob[] = [];
  for (let j = 0; j < targets.length; j++) {
    const target = targets[j]!;
    if (!Number.isInteger(target) || target < 0 || target >= vocabSize) {
      throw new RangeError(`prompt token ${target} at position ${j} is outside the vocabulary (size ${vocabSize})`);
    }
    for (let i = 0; i < vocabSize; i++) x[i] = logits[j * vocabSize + i]!;
    out.push(tokenLogprob(x, target, k, decodeToken, idx));
  }
  return out;
}
