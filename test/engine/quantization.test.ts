/**
 * The engine with quantized weights: under every scheme, on both backends and both architectures,
 * the batched engine's greedy output (continuous batching, chunked prefill, prefix caching and
 * preemption all at work) equals each prompt run alone through the same quantized model, so
 * quantization keeps greedy output batch-invariant; logprobs are those of the quantized logits.
 */
import { describe, expect, it } from 'vitest';
import { logSoftmax } from '../../src/bench/accuracy-metrics.js';
import { LLM } from '../../src/engine/llm.js';
import { QUANTIZATIONS, type BackendName, type KVCacheDType, type Quantization } from '../../src/kernels/backend.js';
import { nativeAvailable } from '../../src/kernels/native.js';
import type { CausalLM } from '../../src/model/model.js';
import { loadModel } from '../../src/model/load.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { argmaxOf, randomPrompts, tokensOf } from '../helpers/engine.js';
import { fixtureModelDir, type FixtureName } from '../helpers/fixtures.js';

const MAX_TOKENS = 6;
// Prompts 0-2 share a 20-token prefix, so the prefix cache serves the later ones.
const SHARED = randomPrompts([20], 5)[0]!;
const PROMPTS = [...[3, 9, 17].map((n, i) => [...SHARED, ...randomPrompts([n], 40 + i)[0]!]), ...randomPrompts([1, 6, 33, 40], 77)];

function singleGreedy(model: CausalLM, prompt: readonly number[], kvCacheDtype: KVCacheDType): number[] {
  const seq = new SingleSequence(model, { kvCacheDtype });
  const out: number[] = [];
  let logits = seq.prefill(prompt);
  for (;;) {
    out.push(argmaxOf(logits, model.config.vocabSize));
    if (out.length === MAX_TOKENS) return out;
    logits = seq.step(out[out.length - 1]!);
  }
}

const backends: BackendName[] = nativeAvailable() ? ['reference', 'native'] : ['reference'];
const fixtures: FixtureName[] = ['tiny-gpt2-a', 'tiny-llama-b'];

describe.each(backends)('quantized engine on the %s backend', (backend) => {
  for (const name of fixtures) {
    for (const quantization of QUANTIZATIONS as readonly Quantization[]) {
      it(`${name} ${quantization}: batched greedy equals the single-request path, with logprobs`, async () => {
        const { model, tokenizer } = await loadModel(fixtureModelDir(name), { backend, threads: 2, quantization });
        try {
          expect(model.quantization).toBe(quantization);
          const kvBytes = model.kvBytesPerToken('bf16');
          const llm = LLM.fromModel(model, tokenizer, { blockSize: 4, kvCacheMemory: 28 * 4 * kvBytes, maxNumBatchedTokens: 16 });
          expect(llm.config.kvCacheDtype).toBe('bf16'); // 'auto' follows the bf16 lm_head
          const want = PROMPTS.map((p) => singleGreedy(model, p, 'bf16'));
          // The first prompt alone fills the prefix cache that the batch then reads from.
          await llm.generate([{ promptTokenIds: PROMPTS[0]! }], { temperature: 0, maxTokens: 1 });
          const outs = await llm.generate(PROMPTS.map((p) => ({ promptTokenIds: p })), { temperature: 0, ignoreEos: true, maxTokens: MAX_TOKENS, logprobs: 2 });
          expect(tokensOf(outs)).toEqual(want);
          const stats = await llm.stats();
          expect(stats.numPreemptions).toBeGreaterThan(0);
          expect(outs.some((o) => o.metrics.numCachedTokens > 0)).toBe(true);

          // The first token's logprob is the log-softmax of the quantized model's own logits.
          const first = Float32Array.from(new SingleSequence(model, { kvCacheDtype: 'bf16' }).prefill(PROMPTS[3]!));
          const lp = outs[3]!.outputs[0]!.logprobs![0]!;
          expect(lp.tokenId).toBe(want[3]![0]);
          expect(lp.rank).toBe(1);
          expect(lp.logprob).toBeCloseTo(logSoftmax(first, 0, model.config.vocabSize)[lp.tokenId]!, 4);
        } finally {
          model.backend.dispose();
        }
      });
    }
  }
});

describe('quantized weights are really quantized', () => {
  it.each(QUANTIZATIONS)('%s: smaller weights and different logits than f32, near them', async (quantization) => {
    const dir = fixtureModelDir('tiny-gpt2-b');
    const f32 = await loadModel(dir, { backend: 'reference' });
    const q = await loadModel(dir, { backend: 'reference', quantization, quantizeLmHead: true });
    expect(q.model.lmHeadQuantized).toBe(true);
    expect(q.model.weightBytes).toBeLessThan(f32.model.weightBytes);
    expect(q.model.layerBytes).toBeLessThan(f32.model.layerBytes / 3);
    const prompt = PROMPTS[5]!;
    const a = new SingleSequence(f32.model).prefill(prompt);
    const b = new SingleSequence(q.model).prefill(prompt);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    expect(diff).toBeGreaterThan(0);
    // 4-bit weights (the lm_head's included) on a random model move the logits much more than int8.
    expect(diff).toBeLessThan((quantization === 'q4' ? 0.5 : 0.1) * scale);
  });
});
