/**
 * Where a single-stream decode step goes: every backend call of the forward pass timed on its own,
 * per token, beside the whole step. Each op's figure is its 10th-percentile call (the least
 * disturbed by other load on a shared machine) times its calls per token; a matmul's line also gives
 * the GB/s of its weights. What the sum of ops leaves of the step is JavaScript and call overhead.
 *
 *   npx tsx scripts/bench-decode-ops.ts [--model synthetic:smollm2-135m] [--dtype bf16] [--threads 2] [--simd auto] [--steps 128]
 *     [--quantization int8|int8-wo|q4 [--quantize-lm-head]]
 */
import { parseArgs } from 'node:util';
import type { Backend, DType, Matrix, Quantization } from '../src/kernels/backend.js';
import { benchModel } from '../src/bench/model-shape.js';
import { loadModel } from '../src/model/load.js';
import { SingleSequence } from '../src/model/single-sequence.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'synthetic:smollm2-135m' },
    dtype: { type: 'string', default: 'bf16' },
    threads: { type: 'string', default: '2' },
    simd: { type: 'string', default: 'auto' },
    steps: { type: 'string', default: '128' },
    quantization: { type: 'string' },
    'quantize-lm-head': { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const { model, backend } = await loadModel(benchModel(values.model, 'f32'), {
  backend: 'native', threads: Number(values.threads), simd: values.simd as 'auto', dtype: values.dtype as DType,
  quantization: (values.quantization ?? null) as Quantization | null, quantizeLmHead: values['quantize-lm-head'],
});

const OPS = ['rmsNorm', 'layerNorm', 'matmul', 'rotary', 'writeKV', 'attention', 'siluMul'] as const;
const calls = new Map<string, number[]>();
const bytes = new Map<string, number>();
let timing = false;
const be = backend as unknown as Record<string, (...args: unknown[]) => void>;
for (const op of OPS) {
  const f = be[op].bind(backend);
  be[op] = (...args: unknown[]): void => {
    if (!timing) return f(...args);
    let key: string = op;
    if (op === 'matmul') {
      const w = args[3] as Matrix;
      key = `matmul ${w.k}x${w.n}`;
      bytes.set(key, w.bytes);
    }
    const t0 = process.hrtime.bigint();
    f(...args);
    const ns = Number(process.hrtime.bigint() - t0);
    const list = calls.get(key) ?? [];
    list.push(ns);
    calls.set(key, list);
  };
}

const run = (b: Backend, n: number, seq: SingleSequence, logits: Float32Array): { logits: Float32Array; ms: number[] } => {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const token = b.argmax(logits, model.config.vocabSize);
    const t0 = performance.now();
    logits = seq.step(token);
    ms.push(performance.now() - t0);
  }
  return { logits, ms };
};
const seq = new SingleSequence(model, { maxLen: 32 + 16 + steps });
const warm = run(backend, 16, seq, seq.prefill(Array.from({ length: 32 }, (_, i) => i + 5)));
timing = true;
const { ms } = run(backend, steps, seq, warm.logits);
timing = false;

const p = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)];
console.log(`${values.model} ${model.dtype}, native ${backend.simd} x${backend.threads}: step ${p(ms, 0.1).toFixed(2)} ms p10, ${p(ms, 0.5).toFixed(2)} ms median`);
let sum = 0;
let sumMedian = 0;
for (const [key, ns] of calls) {
  const perToken = (p(ns, 0.1) * ns.length) / steps;
  sum += perToken;
  sumMedian += (p(ns, 0.5) * ns.length) / steps;
  const gbs = bytes.has(key) ? `  ${((bytes.get(key) ?? 0) / p(ns, 0.1)).toFixed(1)} GB/s` : '';
  console.log(`${key.padEnd(20)} ${(perToken / 1e3).toFixed(0).padStart(6)} us/token  ${(p(ns, 0.1) / 1e3).toFixed(2).padStart(8)} us/call${gbs}`);
}
console.log(`${'sum of ops'.padEnd(20)} ${(sum / 1e3).toFixed(0).padStart(6)} us/token  (${(sumMedian / 1e3).toFixed(0)} us/token at the median calls, beside the median step)`);
backend.dispose();
