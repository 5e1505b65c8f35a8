/**
 * The sampler: one row of logits per request in, one token (and optionally its logprobs) out.
 *
 * Per row, in vLLM's order: logit_bias → min_tokens → repetition / presence / frequency penalties →
 * greedy argmax, or temperature → top-k → top-p → min-p → an inverse-CDF draw with the request's Rng.
 * The edits before the split touch only a few tokens, so they are made in place on the f32 logits;
 * every pass over the whole vocabulary runs in the backend (`argmax`, and `sample`, which the native
 * backend runs with SIMD and threads over rows). A row depends only on its own request, so batching
 * never changes a result.
 *
 * Logprobs are the log-softmax of the logits after bias, penalties and temperature (temperature 1
 * when greedy), before top-k / top-p / min-p: see sampling/logprobs.ts. Only rows that ask for them
 * pay for the exact f64 copy they are computed from.
 */
import type { Backend, SampleArgs } from '../kernels/backend.js';
import type { TokenLogprob } from './outputs.js';
import type { Rng } from './rng.js';
import { SAMPLING_EPS, type SamplingParams } from './sampling-params.js';
import { applyLogitBias, applyMinTokens, applyPenalties, type LogitsRow } from './sampling/penalties.js';
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

function emptyArgs(rows: number): SampleArgs {
  return {
    temperature: new Float64Array(rows), topK: new Int32Array(rows), topP: new Float64Array(rows),
    minP: new Float64Array(rows), u: new Float64Array(rows),
  };
}

function checkShape(logits: Float32Array, vocabSize: number, rows: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) throw new RangeError(`vocabSize must be a positive integer, got ${vocabSize}`);
  if (logits.length < rows * vocabSize) {
    throw new RangeError(`logits hold ${logits.length} values, need ${rows} rows × ${vocabSize} vocab`);
  }
}

/** The edits before the greedy / random split, in place. */
function applyEdits(x: LogitsRow, req: SampleRequest): void {
  const { params } = req;
  if (params.logitBias) applyLogitBias(x, params.logitBias);
  applyMinTokens(x, params, req.outputTokenIds.length, req.eosTokenId);
  applyPenalties(x, params, req.promptTokenIds, req.outputTokenIds);
}

/**
 * Owns the scratch the passes reuse across calls (a row in f64 and an index array for logprobs, the
 * per-row settings and results of `backend.sample`), so engines never share it.
 */
export class Sampler {
  private x = new Float64Array(0);
  private idx = new Int32Array(0);
  private args: SampleArgs = emptyArgs(0);
  private drawn = new Int32Array(0);

  /**
   * Samples one token per row; row i of `logits` ([reqs.length, vocabSize]) belongs to reqs[i].
   * The rows are overwritten (with the edited logits, then with the weights a token was drawn from).
   */
  sampleRows(
    logits: Float32Array,
    vocabSize: number,
    reqs: readonly SampleRequest[],
    decodeToken: (id: number) => string,
    backend: Backend,
  ): SampleResult[] {
    checkShape(logits, vocabSize, reqs.length);
    if (this.drawn.length < reqs.length) {
      this.args = emptyArgs(reqs.length);
      this.drawn = new Int32Array(reqs.length);
    }
    const { args } = this;
    const results = new Array<SampleResult>(reqs.length);
    let pending = 0; // random rows [pending, r) without logprobs wait to be drawn together
    for (let r = 0; r < reqs.length; r++) {
      const req = reqs[r]!;
      const { params } = req;
      const row = logits.subarray(r * vocabSize, (r + 1) * vocabSize);
      let x: Float64Array | null = null;
      if (params.logprobs !== null) {
        x = this.scratch(vocabSize).x;
        x.set(row);
        applyEdits(x, req);
      }
      applyEdits(row, req);
      if (!params.greedy) {
        args.temperature[r] = params.temperature;
        args.topK[r] = params.topK;
        args.topP[r] = params.topP;
        args.minP[r] = params.minP;
        args.u[r] = req.rng.nextFloat();
        if (x === null) continue;
      }
      this.drawRows(backend, logits, vocabSize, pending, r, results);
      pending = r + 1;
      if (params.greedy) results[r] = { tokenId: backend.argmax(row, vocabSize), logprob: null };
      else this.drawRows(backend, logits, vocabSize, r, r + 1, results);
      if (x !== null) {
        // Greedy by top_k = 1 with a real temperature: logprobs still see that temperature.
        if (params.temperature >= SAMPLING_EPS) scale(x, params.temperature);
        const tokenId = results[r]!.tokenId;
        results[r] = { tokenId, logprob: tokenLogprob(x, tokenId, params.logprobs!, decodeToken, this.scratch(vocabSize).idx) };
      }
    }
    this.drawRows(backend, logits, vocabSize, pending, reqs.length, results);
    return results;
  }

  /**
   * Prompt logprobs from raw logits: row j scores `targets[j]` (the prompt token that follows row j's
   * position), with its rank and the `k` most likely alternatives.
   */
  promptLogprobs(
    logits: Float32Array,
    vocabSize: number,
    targets: readonly number[],
    k: number,
    decodeToken: (id: number) => string,
  ): TokenLogprob[] {
    checkShape(logits, vocabSize, targets.length);
    const { x, idx } = this.scratch(vocabSize);
    const out: TokenLogprob[] = [];
    for (let j = 0; j < targets.length; j++) {
      const target = targets[j]!;
      if (!Number.isInteger(target) || target < 0 || target >= vocabSize) {
        throw new RangeError(`prompt token ${target} at position ${j} is outside the vocabulary (size ${vocabSize})`);
      }
      x.set(logits.subarray(j * vocabSize, (j + 1) * vocabSize));
      out.push(tokenLogprob(x, target, k, decodeToken, idx));
    }
    return out;
  }

  private scratch(vocabSize: number): { x: Float64Array; idx: Int32Array } {
    if (this.x.length !== vocabSize) {
      this.x = new Float64Array(vocabSize);
      this.idx = new Int32Array(vocabSize);
    }
    return { x: this.x, idx: this.idx };
  }

  /** Draws rows [a, b) of `logits` (their settings already in `args`) with one backend call. */
  private drawRows(backend: Backend, logits: Float32Array, vocabSize: number, a: number, b: number, results: SampleResult[]): void {
    if (b <= a) return;
    const { args, drawn } = this;
    const sub = (v: Float64Array): Float64Array => v.subarray(a, b);
    backend.sample(drawn.subarray(a, b), logits.subarray(a * vocabSize, b * vocabSize), b - a, vocabSize, {
      temperature: sub(args.temperature), topK: args.topK.subarray(a, b), topP: sub(args.topP), minP: sub(args.minP), u: sub(args.u),
    });
    for (let r = a; r < b; r++) results[r] = { tokenId: drawn[r]!, logprob: null };
  }
}

function scale(x: Float64Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < x.length; i++) x[i]! /= temperature;
}

