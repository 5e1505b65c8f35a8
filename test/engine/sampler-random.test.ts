/** Random sampling: the Rng, exact truncation support (top-k / top-p / min-p) and draw statistics. */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/rng.js';
import { Sampler, type SampleRequest } from '../../src/engine/sampler.js';
import { SamplingParams, type SamplingParamsInit } from '../../src/engine/sampling-params.js';
import type { Backend } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable } from '../../src/kernels/native.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';

const sampler = new Sampler();

/** The truncation and the draw run in the backend: test both. */
const backends: [string, Backend][] = [['reference', createReferenceBackend()]];
if (nativeAvailable()) backends.push(['native', createNativeBackend({ threads: 2 })]);

const testRandom = mulberry32;

/** Logits ~ N(0, scale²) (Box-Muller), as f32. */
function randomLogits(seed: number, n: number, scale = 3): Float32Array {
  const r = testRandom(seed);
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

/** A Rng whose draws are scripted, to steer the inverse CDF. */
class ScriptedRng extends Rng {
  private readonly draws: number[];
  constructor(draws: number[]) {
    super(0);
    this.draws = [...draws];
  }
  override nextFloat(): number {
    const u = this.draws.shift();
    if (u === undefined) throw new Error('ScriptedRng ran out of draws');
    return u;
  }
}

function request(init: SamplingParamsInit, rng: Rng): SampleRequest {
  return { params: SamplingParams.create(init), rng, promptTokenIds: [], outputTokenIds: [], eosTokenId: -1 };
}

const noDecode = (id: number): string => String(id);

/**
 * The target distribution written the way vLLM does it: sort ascending, top-k by masking all but the
 * last k, top-p by masking where the ascending cumulative probability is <= 1 - p (keeping the last),
 * then min-p against the top probability. Returns token id → probability.
 */
function naiveDistribution(logits: ArrayLike<number>, temperature: number, topK: number, topP: number, minP: number): Map<number, number> {
  const x = Array.from(logits, (v) => v / temperature);
  // Worst first; among equal logits the higher id counts as worse.
  let alive = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]! || b - a);
  const softmax = (ids: number[]): number[] => {
    const m = Math.max(...ids.map((i) => x[i]!));
    const e = ids.map((i) => Math.exp(x[i]! - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  if (topK > 0 && topK < alive.length) alive = alive.slice(alive.length - topK);
  if (topP < 1) {
    const p = softmax(alive);
    let cum = 0;
    alive = alive.filter((_, j) => {
      cum += p[j]!;
      return cum > 1 - topP || j === alive.length - 1;
    });
  }
  if (minP > 0) {
    const p = softmax(alive);
    const pMax = Math.max(...p);
    alive = alive.filter((_, j) => p[j]! >= minP * pMax);
  }
  const p = softmax(alive);
  return new Map(alive.map((id, j) => [id, p[j]!]));
}

describe('Rng', () => {
  const draws = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.nextFloat());

  it('is reproducible per seed and differs across seeds', () => {
    expect(draws(new Rng(42), 20)).toEqual(draws(new Rng(42), 20));
    expect(draws(new Rng(42), 20)).not.toEqual(draws(new Rng(43), 20));
    for (const seed of [0, -1, 2 ** 32, -(2 ** 40), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      const xs = draws(new Rng(seed), 5);
      expect(xs).toEqual(draws(new Rng(seed), 5));
      for (const v of xs) expect(v >= 0 && v < 1).toBe(true);
    }
    expect(draws(new Rng(-1), 5)).not.toEqual(draws(new Rng(2 ** 32 - 1), 5));
    expect(() => new Rng(1.5)).toThrow(RangeError);
    expect(draws(Rng.fromEntropy(), 5)).not.toEqual(draws(Rng.fromEntropy(), 5));
  });

  it('forks reproducible, distinct streams that ignore draws already made', () => {
    const a = new Rng(7);
    const fresh = draws(new Rng(7).fork(1), 10);
    draws(a, 3);
    expect(draws(a.fork(1), 10)).toEqual(fresh);
    const streams = [0, 1, 2, 3].map((i) => draws(new Rng(7).fork(i), 10).join());
    streams.push(draws(new Rng(7), 10).join(), draws(new Rng(8).fork(1), 10).join(), draws(new Rng(7).fork(1).fork(1), 10).join());
    expect(new Set(streams).size).toBe(streams.length);
  });

  it('is uniform on [0, 1) (chi-square over 20 buckets, 200k draws)', () => {
    const r = new Rng(2024);
    const counts = new Array<number>(20).fill(0);
    const N = 200_000;
    for (let i = 0; i < N; i++) counts[Math.floor(r.nextFloat() * 20)]!++;
    const expected = N / 20;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(43.8); // 99.9th percentile of chi-square with 19 degrees of freedom
  });
});

/** `backend.sample` on one row: the token and the row of weights it was drawn from. */
function sampleOne(backend: Backend, logits: ArrayLike<number>, T: number, k: number, p: number, minP: number): { token: number; w: Float32Array } {
  const w = Float32Array.from(logits);
  const out = new Int32Array(1);
  const args = { temperature: Float64Array.of(T), topK: Int32Array.of(k), topP: Float64Array.of(p), minP: Float64Array.of(minP), u: Float64Array.of(0.5) };
  backend.sample(out, w, 1, w.length, args);
  return { token: out[0]!, w };
}

const support = (w: Float32Array): number[] => [...w.keys()].filter((id) => w[id]! > 0);

describe.each(backends)('truncation keeps exactly the right support (%s backend)', (_name, backend) => {
  const V = 50257;
  const configs: [number, number, number, number][] = [
    // [temperature, topK, topP, minP]
    [1, 50, 1, 0], [1, 0, 0.9, 0], [0.7, 0, 0.5, 0], [1, 0, 1, 0.05], [1.3, 100, 0.8, 0],
    [1, 0, 0.95, 0.01], [0.8, 40, 0.9, 0.1], [1, 1000, 1, 0.001], [2, 0, 0.3, 0], [1, 5, 0.999, 0],
    [1, 0, 0.99999, 0], [0.3, 0, 0.6, 0], [5, 0, 0.5, 0],
  ];
  for (const [i, [T, k, p, minP]] of configs.entries()) {
    it(`T=${T} top_k=${k} top_p=${p} min_p=${minP} over the GPT-2 vocabulary size`, () => {
      const logits = randomLogits(500 + i, V, 2.5);
      const want = naiveDistribution(logits, T, k, p, minP);
      const { token, w } = sampleOne(backend, logits, T, k, p, minP);
      const got = support(w);
      expect(got).toEqual([...want.keys()].sort((a, b) => a - b));
      expect(want.has(token)).toBe(true);
      const m = Math.max(...logits);
      for (const id of got) expect(Math.abs(w[id]! / Math.exp((logits[id]! - m) / T) - 1)).toBeLessThan(1e-5);
    });
  }

  it('keeps exactly k tokens under ties, lowest ids first', () => {
    expect(support(sampleOne(backend, [0, 3, 3, 1, 3, 3, 2], 1, 3, 1, 0).w)).toEqual([1, 2, 4]);
  });

  it('top-p over equal logits keeps the lowest ids whose preceding mass is below p', () => {
    expect(support(sampleOne(backend, new Float32Array(100), 1, 0, 0.5, 0).w)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe.each(backends)('on the %s backend', (_name, backend) => {
  describe('the draw is an inverse CDF over the truncated distribution', () => {
    const V = 300;
    const configs: SamplingParamsInit[] = [
      { temperature: 1 }, { temperature: 0.6, topK: 20 }, { topP: 0.8 }, { minP: 0.02, temperature: 1.4 },
      { topK: 50, topP: 0.9, minP: 0.05, temperature: 0.9 },
    ];
    for (const [i, init] of configs.entries()) {
      it(JSON.stringify(init), () => {
        const logits = randomLogits(900 + i, V, 2);
        const want = naiveDistribution(logits, init.temperature ?? 1, init.topK ?? 0, init.topP ?? 1, init.minP ?? 0);
        // Each kept token owns the slice of [0, 1) that its probability covers, in token-id order.
        let cum = 0;
        for (const id of [...want.keys()].sort((a, b) => a - b)) {
          const p = want.get(id)!;
          const u = cum + p / 2;
          cum += p;
          const [res] = sampler.sampleRows(logits.slice(), V, [request(init, new ScriptedRng([u]))], noDecode, backend);
          expect(res!.tokenId).toBe(id);
        }
        expect(cum).toBeCloseTo(1, 12);
      });
    }
  });

  describe('seeded sampling', () => {
    const V = 1000;
    const logits = randomLogits(77, V, 1.5);
    const run = (seed: number, init: SamplingParamsInit): number[] => {
      const rng = new Rng(seed);
      return Array.from({ length: 60 }, () => sampler.sampleRows(logits.slice(), V, [request(init, rng)], noDecode, backend)[0]!.tokenId);
    };

    it('is reproducible for a seed and differs across seeds', () => {
      const init = { temperature: 0.9, topP: 0.95 };
      expect(run(5, init)).toEqual(run(5, init));
      expect(run(5, init)).not.toEqual(run(6, init));
    });

    const cases: [string, SamplingParamsInit, number][] = [
      ['plain temperature', { temperature: 1.2 }, 10],
      ['top_p', { temperature: 0.8, topP: 0.9 }, 10],
      ['top_k and min_p', { topK: 5, minP: 0.15 }, 12],
    ];
    for (const [name, init, vocab] of cases) {
      it(`matches the target distribution over many draws (${name})`, () => {
        const small = randomLogits(31 + vocab, vocab, 1);
        const want = naiveDistribution(small, init.temperature ?? 1, init.topK ?? 0, init.topP ?? 1, init.minP ?? 0);
        const rng = new Rng(99);
        const N = 40_000;
        const counts = new Array<number>(vocab).fill(0);
        for (let i = 0; i < N; i++) counts[sampler.sampleRows(small.slice(), vocab, [request(init, rng)], noDecode, backend)[0]!.tokenId]!++;
        let chi2 = 0;
        for (let id = 0; id < vocab; id++) {
          const p = want.get(id) ?? 0;
          if (p === 0) {
            expect(counts[id], `token ${id} is outside the support`).toBe(0);
            continue;
          }
          // Loose per-token bound: 5 standard deviations.
          expect(Math.abs(counts[id]! / N - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N));
          chi2 += (counts[id]! - N * p) ** 2 / (N * p);
        }
        expect(chi2).toBeLessThan(30); // above the 99.9th percentile for <= 11 degrees of freedom
        expect(want.size).toBeGreaterThan(1);
      });
    }
  });
});
