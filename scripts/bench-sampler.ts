/**
 * Milliseconds per sampled row of `Sampler.sampleRows` over GPT-2's vocabulary (50257), for each kind of
 * sampling, on a batch of 32 rows of N(0, 3²) logits. Each timed call first restores the logits
 * (the sampler overwrites them); that copy is timed on its own and subtracted.
 *
 *   npx tsx scripts/bench-sampler.ts [--backend native|reference] [--threads N] [--rows R]
 */
import { parseArgs } from 'node:util';
import { Sampler, type SampleRequest } from '../src/engine/sampler.js';
import { SamplingParams, type SamplingParamsInit } from '../src/engine/sampling-params.js';
import { Rng } from '../src/engine/rng.js';
import { createBackend, type BackendChoice } from '../src/kernels/index.js';

const sampler = new Sampler();

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'native' }, threads: { type: 'string' }, rows: { type: 'string', default: '32' } } });
const backend = createBackend({ backend: values.backend as BackendChoice, ...(values.threads ? { threads: Number(values.threads) } : {}) });
const V = 50257;
const R = Number(values.rows);

let a = 12345;
const rand = (): number => {
  a = (a + 0x6d2b79f5) >>> 0;
  let t = Math.imul(a ^ (a >>> 15), a | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const base = Float32Array.from({ length: R * V }, () => 3 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
const logits = base.slice();

/** Mean milliseconds per call of `f` over about half a second, after a warm-up. */
function time(f: () => void): number {
  for (let i = 0; i < 3; i++) f();
  let iters = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 500) {
    f();
    iters++;
  }
  return (performance.now() - t0) / iters;
}

const copy = time(() => logits.set(base));
const cases: [string, SamplingParamsInit][] = [
  ['greedy', { temperature: 0 }],
  ['temperature 1', { temperature: 1 }],
  ['temperature 0.8', { temperature: 0.8 }],
  ['top_k 50', { topK: 50 }],
  ['top_p 0.9', { topP: 0.9 }],
  ['min_p 0.05', { minP: 0.05 }],
  ['top_k 50, top_p 0.9, min_p 0.05', { topK: 50, topP: 0.9, minP: 0.05 }],
  ['temperature 1, logprobs 5', { temperature: 1, logprobs: 5 }],
];
console.log(`sampleRows on ${backend.name}/${backend.simd}, ${backend.threads} thread(s), ${R} rows of ${V} (restoring the logits: ${(copy / R).toFixed(4)} ms/row, subtracted)`);
for (const [name, init] of cases) {
  const params = SamplingParams.create(init);
  const reqs: SampleRequest[] = Array.from({ length: R }, (_, i) => ({ params, rng: new Rng(i), promptTokenIds: [], outputTokenIds: [], eosTokenId: V - 1 }));
  const ms = time(() => {
    logits.set(base);
    sampler.sampleRows(logits, V, reqs, String, backend);
  });
  console.log(`  ${name.padEnd(34)} ${((ms - copy) / R).toFixed(4)} ms/row`);
}
backend.dispose();
