import { describe, expect, it } from 'vitest';
import { Sampler } from '../../src/engine/sampler.js';
import { applyPenalties } from '../../src/engine/sampling/penalties.js';
import { SamplingParams } from '../../src/engine/sampling-params.js';
import { Rng } from '../../src/engine/rng.js';
import type { SampleRequest } from '../../src/engine/sampler.js';
import type { SamplingParamsInit } from '../../src/engine/sampling-params.js';
import type { Backend } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable } from '../../src/kernels/native.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';

const sampler = new Sampler();

/** The sampler runs its vocabulary-wide passes in the backend: test it on both. */
const backends: [string, Backend][] = [['reference', createReferenceBackend()]];
if (nativeAvailable()) backends.push(['native', createNativeBackend({ threads: 2 })]);

/** Logits ~ N(0, scale²) from mulberry32 + Box-Muller: test data independent of the Rng under test. */
function randomLogits(seed: number, n: number, scale = 3): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

function naiveLogSoftmax(x: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(x));
  const s = Array.from(x).reduce((acc, v) => acc + Math.exp(v - m), 0);
  return Array.from(x, (v) => v - m - Math.log(s));
}

/** Token ids best first: higher value, then lower id. */
function rankOrder(x: ArrayLike<number>): number[] {
  return Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[b]! - x[a]! || a - b);
}

const naiveArgmax = (x: ArrayLike<number>): number => rankOrder(x)[0]!;

function request(
  init: SamplingParamsInit,
  opts: { rng?: Rng; prompt?: number[]; output?: number[]; eos?: number; maxLogprobs?: number } = {},
): SampleRequest {
  return {
    params: SamplingParams.create(init, { maxLogprobs: opts.maxLogprobs }),
    rng: opts.rng ?? new Rng(1234),
    promptTokenIds: opts.prompt ?? [],
    outputTokenIds: opts.output ?? [],
    eosTokenId: opts.eos ?? -1,
  };
}

const decodeId = (id: number): string => `<${id}>`;

/** The penalties written out term by term, as in vLLM's docs. */
function naivePenalised(
  logits: ArrayLike<number>,
  p: { bias?: Record<number, number>; rep?: number; pres?: number; freq?: number },
  prompt: number[],
  output: number[],
): number[] {
  const x = Array.from(logits);
  for (const [id, b] of Object.entries(p.bias ?? {})) x[Number(id)]! += b;
  const rep = p.rep ?? 1;
  for (const id of new Set([...prompt, ...output])) x[id] = x[id]! > 0 ? x[id]! / rep : x[id]! * rep;
  for (const id of new Set(output)) {
    const count = output.filter((t) => t === id).length;
    x[id] = x[id]! - (p.freq ?? 0) * count - (p.pres ?? 0) * (count > 0 ? 1 : 0);
  }
  return x;
}

describe('penalties', () => {
  const V = 64;
  const prompt = [3, 5, 5, 9, 40, 63];
  const output = [5, 7, 7, 7, 12, 63, 0];

  it('repetition, presence and frequency penalties match the formulas', () => {
    for (const [rep, pres, freq] of [[1.3, 0, 0], [0.7, 0, 0], [1, 0.5, 0], [1, 0, 0.4], [1.2, -0.3, 0.6], [2, 1.5, -1]] as const) {
      const logits = randomLogits(rep * 100 + pres * 10 + freq, V);
      const x = Float64Array.from(logits);
      const params = SamplingParams.create({ repetitionPenalty: rep, presencePenalty: pres, frequencyPenalty: freq });
      applyPenalties(x, params, prompt, output);
      const want = naivePenalised(logits, { rep, pres, freq }, prompt, output);
      for (let i = 0; i < V; i++) expect(x[i]).toBeCloseTo(want[i]!, 12);
    }
  });

  it('leaves its scratch clean: a second row with no history is untouched', () => {
    const params = SamplingParams.create({ repetitionPenalty: 1.5, presencePenalty: 1, frequencyPenalty: 1 });
    applyPenalties(Float64Array.from(randomLogits(1, V)), params, prompt, output);
    const fresh = randomLogits(2, V);
    const x = Float64Array.from(fresh);
    applyPenalties(x, params, [], [1]);
    const want = naivePenalised(fresh, { rep: 1.5, pres: 1, freq: 1 }, [], [1]);
    for (let i = 0; i < V; i++) expect(x[i]).toBeCloseTo(want[i]!, 12);
  });
});

describe.each(backends)('on the %s backend', (_name, backend) => {
  describe('penalties in the sampler', () => {
    const V = 64;
    const prompt = [3, 5, 5, 9, 40, 63];
    const output = [5, 7, 7, 7, 12, 63, 0];

    it('the sampler applies bias, then penalties (seen through full logprobs)', () => {
      const logits = randomLogits(7, V, 1);
      const bias = { 5: 3, 8: -2, 40: 1.5 };
      const init = { temperature: 0, logprobs: V, logitBias: bias, repetitionPenalty: 1.4, presencePenalty: 0.3, frequencyPenalty: 0.2 };
      const [res] = sampler.sampleRows(logits.slice(), V, [request(init, { prompt, output, maxLogprobs: V })], decodeId, backend);
      const want = naiveLogSoftmax(naivePenalised(logits, { bias, rep: 1.4, pres: 0.3, freq: 0.2 }, prompt, output));
      expect(res!.logprob!.top).toHaveLength(V);
      for (const t of res!.logprob!.top) expect(t.logprob).toBeCloseTo(want[t.tokenId]!, 9);
      expect(res!.tokenId).toBe(naiveArgmax(want));
    });
  });

  describe('greedy', () => {
    it('temperature 0 and top_k = 1 both give the argmax', () => {
      const V = 5000;
      for (let s = 0; s < 10; s++) {
        const logits = randomLogits(s, V);
        const want = naiveArgmax(logits);
        // Two rows in one call: the same logits repeated.
        const out = sampler.sampleRows(new Float32Array([...logits, ...logits]), V, [request({ temperature: 0 }), request({ topK: 1, temperature: 0.9 })], decodeId, backend);
        expect(out.map((r) => r.tokenId)).toEqual([want, want]);
      }
    });

    it('breaks ties toward the lowest token id', () => {
      const logits = new Float32Array([1, 4, 2, 4, 4, 0]);
      expect(sampler.sampleRows(logits, 6, [request({ temperature: 0 })], decodeId, backend)[0]!.tokenId).toBe(1);
      expect(sampler.sampleRows(logits, 6, [request({ topK: 1 })], decodeId, backend)[0]!.tokenId).toBe(1);
    });

    it('min_tokens masks EOS and stop_token_ids until reached; ignore_eos leaves EOS alone', () => {
      const V = 100;
      const logits = randomLogits(3, V, 1);
      logits[50] = 100; // EOS
      logits[60] = 90; // a stop token id
      const sample = (output: number[], extra: object = {}): number =>
        sampler.sampleRows(logits.slice(), V, [request({ temperature: 0, minTokens: 3, stopTokenIds: [60], ...extra }, { output, eos: 50 })], decodeId, backend)[0]!.tokenId;
      const rest = naiveArgmax(Array.from(logits, (v, i) => (i === 50 || i === 60 ? -Infinity : v)));
      expect(sample([])).toBe(rest);
      expect(sample([1, 2])).toBe(rest);
      expect(sample([1, 2, 4])).toBe(50);
      // With ignore_eos, EOS is not a stop condition, so it is not masked; the stop id still is.
      expect(sample([1], { ignoreEos: true })).toBe(50);
      const noEos = Array.from(logits, (v, i) => (i === 50 ? -1000 : v));
      const r = sampler.sampleRows(Float32Array.from(noEos), V, [request({ temperature: 0, minTokens: 3, stopTokenIds: [60], ignoreEos: true }, { output: [1], eos: 50 })], decodeId, backend);
      expect(r[0]!.tokenId).toBe(naiveArgmax(Array.from(noEos, (v, i) => (i === 60 ? -Infinity : v))));
    });
  });

  describe('logprobs', () => {
    const V = 2000;

    it('equal a naive log-softmax of logits / temperature, with top-k and rank', () => {
      for (const [T, k] of [[1, 5], [0.7, 20], [1.8, 1]] as const) {
        const logits = randomLogits(T * 10 + k, V);
        const [res] = sampler.sampleRows(logits.slice(), V, [request({ temperature: T, logprobs: k, seed: 1 })], decodeId, backend);
        const lp = naiveLogSoftmax(Array.from(logits, (v) => v / T));
        const order = rankOrder(lp);
        const got = res!.logprob!;
        expect(got.tokenId).toBe(res!.tokenId);
        expect(got.token).toBe(decodeId(res!.tokenId));
        expect(got.logprob).toBeCloseTo(lp[res!.tokenId]!, 9);
        expect(got.rank).toBe(order.indexOf(res!.tokenId) + 1);
        expect(got.top.map((t) => t.tokenId)).toEqual(order.slice(0, k));
        got.top.forEach((t) => {
          expect(t.logprob).toBeCloseTo(lp[t.tokenId]!, 9);
          expect(t.token).toBe(decodeId(t.tokenId));
        });
      }
    });

    it('use temperature 1 when greedy; logprobs 0 gives only the chosen token', () => {
      const logits = randomLogits(11, V);
      const [res] = sampler.sampleRows(logits.slice(), V, [request({ temperature: 0, logprobs: 0 })], decodeId, backend);
      const lp = naiveLogSoftmax(logits);
      expect(res!.logprob!.logprob).toBeCloseTo(lp[naiveArgmax(logits)]!, 9);
      expect(res!.logprob!.rank).toBe(1);
      expect(res!.logprob!.top).toEqual([]);
      // A near-zero temperature is greedy too, and its logprobs are not blown up by 1 / temperature.
      const [tiny] = sampler.sampleRows(logits.slice(), V, [request({ temperature: 1e-7, logprobs: 0 })], decodeId, backend);
      expect(tiny!.logprob!.logprob).toBeCloseTo(lp[naiveArgmax(logits)]!, 9);
      // top_k = 1 is greedy, but a real temperature still shapes the logprobs.
      const [k1] = sampler.sampleRows(logits.slice(), V, [request({ topK: 1, temperature: 0.5, logprobs: 0 })], decodeId, backend);
      expect(k1!.tokenId).toBe(naiveArgmax(logits));
      expect(k1!.logprob!.logprob).toBeCloseTo(naiveLogSoftmax(Array.from(logits, (v) => v / 0.5))[k1!.tokenId]!, 9);
    });

    it('are taken before top-k / top-p filtering, and null when not asked for', () => {
      const logits = randomLogits(12, V);
      const [res, none] = sampler.sampleRows(
        new Float32Array([...logits, ...logits]), V,
        [request({ topK: 3, topP: 0.5, logprobs: 4, seed: 9 }), request({ topK: 3 })], decodeId, backend,
      );
      const lp = naiveLogSoftmax(logits);
      expect(res!.logprob!.logprob).toBeCloseTo(lp[res!.tokenId]!, 9);
      // The 4th most likely token was cut by top_k = 3 but still reports its unfiltered logprob.
      expect(res!.logprob!.top[3]!.logprob).toBeCloseTo(lp[rankOrder(lp)[3]!]!, 9);
      expect(none!.logprob).toBeNull();
    });

    it('prompt logprobs score each target with raw logits', () => {
      const rows = 4;
      const logits = randomLogits(13, rows * V);
      const targets = [17, 1999, 0, 555];
      const out = sampler.promptLogprobs(logits, V, targets, 3, decodeId);
      expect(out).toHaveLength(rows);
      for (let j = 0; j < rows; j++) {
        const lp = naiveLogSoftmax(logits.subarray(j * V, (j + 1) * V));
        const order = rankOrder(lp);
        expect(out[j]!.tokenId).toBe(targets[j]);
        expect(out[j]!.logprob).toBeCloseTo(lp[targets[j]!]!, 9);
        expect(out[j]!.rank).toBe(order.indexOf(targets[j]!) + 1);
        expect(out[j]!.top.map((t) => t.tokenId)).toEqual(order.slice(0, 3));
      }
      expect(() => sampler.promptLogprobs(logits, V, [V], 0, decodeId)).toThrow(/outside the vocabulary/);
    });
  });

  describe('sampleRows', () => {
    it('gives each row the same result alone or in a batch', () => {
      const V = 3000;
      // Random rows around a greedy one and a random one with logprobs, which are drawn on their own.
      const inits: SamplingParamsInit[] = [
        { temperature: 0.8, seed: 1 }, { topP: 0.9, seed: 2 }, { temperature: 0 }, { topK: 40, minP: 0.05, seed: 3, repetitionPenalty: 1.2 },
        { temperature: 1.1, seed: 4, logprobs: 2 }, { temperature: 1.2, seed: 5 }, { minP: 0.1, seed: 6 },
      ];
      const rows = inits.map((_, i) => randomLogits(100 + i, V));
      const reqs = () => inits.map((init) => request(init, { rng: new Rng(init.seed ?? 0), prompt: [1, 2, 3] }));
      const batched = sampler.sampleRows(new Float32Array(rows.flatMap((r) => [...r])), V, reqs(), decodeId, backend);
      const alone = reqs().map((r, i) => sampler.sampleRows(rows[i]!.slice(), V, [r], decodeId, backend)[0]!);
      expect(batched).toEqual(alone);
      expect(batched[4]!.logprob!.top).toHaveLength(2);
      expect(new Set(batched.map((r) => r.tokenId)).size).toBeGreaterThan(1);
    });

    it('rejects logits that are too short', () => {
      expect(() => sampler.sampleRows(new Float32Array(10), 6, [request({}), request({})], decodeId, backend)).toThrow(/need 2 rows/);
    });
  });
});
