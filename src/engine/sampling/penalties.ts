/**
 * Logit processors that run before the greedy / random split, in vLLM's order:
 * logit_bias → min_tokens → repetition penalty → presence / frequency penalties.
 * They edit one row of logits in place, indexed by token id: the f32 row the backend samples from,
 * or the f64 copy that logprobs are computed from. They touch only the listed tokens.
 */
import type { SamplingParams } from '../sampling-params.js';

/** One row of logits: f32 for sampling, f64 for logprobs. */
export type LogitsRow = Float32Array | Float64Array;

// Per-token scratch, reused across rows and cleared after use so each call costs O(#tokens), not O(V).
let counts = new Int32Array(0);

function scratch(vocabSize: number): Int32Array {
  if (counts.length < vocabSize) counts = new Int32Array(vocabSize);
  return counts;
}

/** Adds OpenAI's `logit_bias` to the listed tokens. */
export function applyLogitBias(x: LogitsRow, bias: ReadonlyMap<number, number>): void {
  for (const [id, b] of bias) if (id < x.length) x[id]! += b;
}

/** Bans EOS (unless `ignore_eos`) and `stop_token_ids` while fewer than `min_tokens` were generated. */
export function applyMinTokens(x: LogitsRow, params: SamplingParams, numGenerated: number, eosTokenId: number): void {
  if (numGenerated >= params.minTokens) return;
  if (!params.ignoreEos && eosTokenId >= 0 && eosTokenId < x.length) x[eosTokenId] = -Infinity;
  for (const id of params.stopTokenIds) if (id < x.length) x[id] = -Infinity;
}

/**
 * vLLM's penalties. Repetition (CTRL-style) covers prompt and output tokens: a positive logit is
 * divided by the penalty, a non-positive one multiplied, so the token always becomes less likely.
 * Presence and frequency (OpenAI) cover output tokens only: `logit -= freq * count + presence * (count > 0)`.
 */
export function applyPenalties(
  x: LogitsRow,
  params: SamplingParams,
  promptTokenIds: readonly number[],
  outputTokenIds: readonly number[],
): void {
  const V = x.length;
  const c = scratch(V);
  const rep = params.repetitionPenalty;
  if (rep !== 1) {
    // Mark each distinct token once (c = -1), penalise it, then clear the marks.
    for (const ids of [promptTokenIds, outputTokenIds]) {
      for (const id of ids) {
        if (id < 0 || id >= V || c[id] !== 0) continue;
        c[id] = -1;
        x[id] = x[id]! > 0 ? x[id]! / rep : x[id]! * rep;
      }
    }
    for (const ids of [promptTokenIds, outputTokenIds]) for (const id of ids) if (id >= 0 && id < V) c[id] = 0;
  }
  const freq = params.frequencyPenalty;
  const pres = params.presencePenalty;
  if (freq === 0 && pres === 0) return;
  for (const id of outputTokenIds) if (id >= 0 && id < V) c[id]!++;
  for (const id of outputTokenIds) {
    if (id < 0 || id >= V || c[id] === 0) continue;
    x[id]! -= freq * c[id]! + pres;
    c[id] = 0; // also marks the token as done for its later occurrences
  }
}
