/**
 * The engine with a half-precision KV cache: greedy outputs of the batched engine equal the
 * single-request path over a cache of the same precision (batching, chunked prefill and
 * preemption change nothing), and the kvCacheDtype option resolves 'auto' to the model's compute
 * dtype, sizes the cache from the dtype's bytes per token, and rejects bad values.
 */
import { describe, expect, it } from 'vitest';
import { resolveEngineOptions, sizeEngine } from '../../src/engine/config.js';
import { LLM } from '../../src/engine/llm.js';
import type { KVCacheDType } from '../../src/kernels/backend.js';
import { nativeAvailable } from '../../src/kernels/native.js';
import type { GPT2Config } from '../../src/model/config.js';
import type { CausalLM } from '../../src/model/model.js';
import { loadModel } from '../../src/model/load.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { firstDifference } from '../helpers/compare.js';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { argmaxOf, randomPrompts, tinyLLM, tinyModel, tokensOf } from '../helpers/engine.js';

const GREEDY = { temperature: 0, ignoreEos: true } as const;
const PROMPTS = randomPrompts([1, 5, 16, 17, 33, 50], 77);
const MAX_TOKENS = 8;

/** Greedy tokens of one prompt run alone through a private cache of `kvCacheDtype`. */
function singleGreedy(model: CausalLM, prompt: readonly number[], kvCacheDtype: KVCacheDType): number[] {
  const seq = new SingleSequence(model, { kvCacheDtype });
  const out: number[] = [];
  let logits = seq.prefill(prompt);
  while (out.length < MAX_TOKENS) {
    out.push(argmaxOf(logits, model.config.vocabSize));
    if (out.length < MAX_TOKENS) logits = seq.step(out[out.length - 1]!);
  }
  return out;
}

const inputs = (prompts: readonly (readonly number[])[]) => prompts.map((p) => ({ promptTokenIds: p }));

describe('batched greedy with a half-precision KV cache equals the single-request path', () => {
  for (const kvCacheDtype of ['bf16', 'f16'] as const) {
    it(`${kvCacheDtype} on the reference backend, with chunked prefill`, async () => {
      const { model } = await tinyModel();
      const want = PROMPTS.map((p) => singleGreedy(model, p, kvCacheDtype));
      const llm = await tinyLLM({ kvCacheDtype, maxNumBatchedTokens: 24 });
      expect(llm.config.kvCacheDtype).toBe(kvCacheDtype);
      const cache = (llm as unknown as { core: { runner: { kvCache: { dtype: string; k: unknown }[] } } }).core.runner.kvCache[0]!;
      expect(cache.dtype).toBe(kvCacheDtype);
      expect(cache.k).toBeInstanceOf(Uint16Array);
      expect(tokensOf(await llm.generate(inputs(PROMPTS), { ...GREEDY, maxTokens: MAX_TOKENS }))).toEqual(want);
    });
  }

  it.skipIf(!nativeAvailable())('bf16 on the native backend, with chunking and preemption', async () => {
    const { model, tokenizer } = await loadModel(fixtureModelDir('tiny-gpt2-b'), { backend: 'native', threads: 2 });
    try {
      const want = PROMPTS.map((p) => singleGreedy(model, p, 'bf16'));
      // The rounding is not a no-op: the logits differ from an f32 cache's (so this test would
      // notice a bf16 cache that silently stored f32).
      const logits = (dtype: KVCacheDType) => Float32Array.from(new SingleSequence(model, { kvCacheDtype: dtype }).prefill(PROMPTS[4]!));
      expect(firstDifference(logits('bf16'), logits('f32'))).not.toBe(-1);
      // tiny-gpt2-b: 1152 bytes of bf16 KV per token; 24 blocks of 4 tokens force preemption.
      const llm = LLM.fromModel(model, tokenizer, { kvCacheDtype: 'bf16', blockSize: 4, kvCacheMemory: 25 * 4 * 1152, maxNumBatchedTokens: 16 });
      expect(llm.config.numBlocks).toBe(25);
      const outs = await llm.generate(inputs(PROMPTS), { ...GREEDY, maxTokens: MAX_TOKENS });
      expect(tokensOf(outs)).toEqual(want);
      expect((await llm.stats()).numPreemptions).toBeGreaterThan(0);
    } finally {
      model.backend.dispose();
    }
  });
});

describe('engine option kvCacheDtype', () => {
  const gpt2: GPT2Config = {
    modelType: 'gpt2', vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: 3072,
    layerNormEpsilon: 1e-5, activation: 'gelu_new', bosTokenId: 50256, eosTokenId: 50256, torchDtype: null,
  };
  const size = (kvCacheDtype: unknown, modelDtype: 'f32' | 'bf16' | 'f16' = 'f32') =>
    sizeEngine(resolveEngineOptions({ model: 'x', kvCacheMemory: '1GiB', maxNumSeqs: 1024, kvCacheDtype } as never), gpt2, modelDtype);

  it("resolves 'auto' (the default) to the model's compute dtype", () => {
    expect(resolveEngineOptions({ model: 'x' }).kvCacheDtype).toBe('auto');
    expect(size(undefined).kvCacheDtype).toBe('f32');
    expect(size('auto', 'bf16').kvCacheDtype).toBe('bf16');
    expect(size('auto', 'f16').kvCacheDtype).toBe('f16');
    expect(size('f32', 'bf16').kvCacheDtype).toBe('f32');
    expect(size('bf16', 'f32').kvCacheDtype).toBe('bf16');
  });

  it('buys twice the blocks in bf16 or f16 for the same budget', () => {
    // GPT-2 124M: 2 * 12 layers * 768 values per token, 4 or 2 bytes each, 16 tokens per block.
    const f32Blocks = Math.floor(2 ** 30 / (2 * 12 * 768 * 4 * 16));
    expect(size('f32').numBlocks).toBe(f32Blocks);
    expect(size('bf16').numBlocks).toBe(Math.floor(2 ** 30 / (2 * 12 * 768 * 2 * 16)));
    expect(size('bf16').numBlocks).toBe(2 * f32Blocks);
    expect(size('f16').numBlocks).toBe(2 * f32Blocks);
  });

  it('rejects an unknown precision, naming the option and the choices', () => {
    expect(() => resolveEngineOptions({ model: 'x', kvCacheDtype: 'fp8' as never })).toThrow(
      /engine option kvCacheDtype: expected one of auto, f32, bf16, f16, got fp8/,
    );
  });

  it("follows a bf16 model's weights when 'auto'", async () => {
    const { model, tokenizer } = await loadModel(fixtureModelDir('tiny-gpt2-a', 'bf16'), { backend: 'reference' });
    expect(model.dtype).toBe('bf16');
    expect(LLM.fromModel(model, tokenizer).config.kvCacheDtype).toBe('bf16');
    expect(LLM.fromModel(model, tokenizer, { kvCacheDtype: 'f32' }).config.kvCacheDtype).toBe('f32');
  });
});
