/**
 * Greedy outputs of the batched engine must equal the single-request reference path token for token,
 * whatever the batch, chunking, prefix caching or preemption did (the kernels are batch-invariant).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LLM } from '../../src/engine/llm.js';
import type { RequestOutput } from '../../src/engine/outputs.js';
import { nativeAvailable, nativeSimdPaths } from '../../src/kernels/native.js';
import type { CausalLM } from '../../src/model/model.js';
import { loadModel } from '../../src/model/load.js';
import { fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { randomPrompts, referenceGreedy, tinyLLM, tinyModel, tokensOf } from '../helpers/engine.js';

const GREEDY = { temperature: 0, ignoreEos: true } as const;
const LENGTHS = [1, 2, 3, 5, 8, 13, 16, 17, 21, 31, 32, 33, 47, 64, 70];
const PROMPTS = randomPrompts(LENGTHS);
const MAX_TOKENS = 10;

let model: CausalLM;
let expected: number[][];

beforeAll(async () => {
  model = (await tinyModel()).model;
  expected = PROMPTS.map((p) => referenceGreedy(model, p, MAX_TOKENS));
});

function asInputs(prompts: readonly (readonly number[])[]): { promptTokenIds: readonly number[] }[] {
  return prompts.map((p) => ({ promptTokenIds: p }));
}

describe('batched greedy equals the single-request reference', () => {
  it('matches PyTorch greedy continuations of the fixture prompts, all batched together', async () => {
    const ref = loadReference('tiny-gpt2-a');
    const llm = await tinyLLM();
    const outs = await llm.generate(asInputs(ref.prompts.map((p) => p.tokens)), { ...GREEDY, maxTokens: ref.greedySteps });
    expect(tokensOf(outs)).toEqual(ref.prompts.map((p) => p.greedy.tokens));
  });

  it('for a batch of prompts of many lengths', async () => {
    const llm = await tinyLLM();
    const outs = await llm.generate(asInputs(PROMPTS), { ...GREEDY, maxTokens: MAX_TOKENS });
    expect(tokensOf(outs)).toEqual(expected);
    expect(outs.map((o) => o.outputs[0]!.finishReason)).toEqual(PROMPTS.map(() => 'length'));
  });

  it.each([1, 4, 16])('with a token budget of %i per step (chunked prefill)', async (budget) => {
    // A budget of 1 runs one token per step: keep that case small.
    const n = budget === 1 ? 5 : PROMPTS.length;
    const llm = await tinyLLM({ maxNumBatchedTokens: budget });
    const outs = await llm.generate(asInputs(PROMPTS.slice(0, n)), { ...GREEDY, maxTokens: budget === 1 ? 4 : MAX_TOKENS });
    expect(tokensOf(outs)).toEqual(expected.slice(0, n).map((t) => t.slice(0, budget === 1 ? 4 : MAX_TOKENS)));
  });

  it('with prefix caching on and off, for cold, fully cached and partly cached prompts', async () => {
    const [shared, tailA, tailB] = randomPrompts([40, 7, 12], 99);
    const prompts = [
      [...shared!, ...tailA!], // cold
      [...shared!, ...tailA!], // fully cached (all full blocks before the last token)
      [...shared!, ...tailB!], // shares the first two blocks
      shared!.slice(0, 32), // exactly two blocks: the second one holds the last token
    ];
    const want = prompts.map((p) => referenceGreedy(model, p, 6));
    const results: Record<string, number[][]> = {};
    for (const enablePrefixCaching of [true, false]) {
      const llm = await tinyLLM({ enablePrefixCaching });
      const got: number[][] = [];
      // One at a time, so each request finds what the previous ones left in the cache.
      for (const p of prompts) got.push(...tokensOf(await llm.generate([{ promptTokenIds: p }], { ...GREEDY, maxTokens: 6 })));
      results[String(enablePrefixCaching)] = got;
      const stats = await llm.stats();
      if (enablePrefixCaching) {
        // Hits: 2 blocks for the repeat (47 tokens), 2 for the shared start, 1 for the 32-token prompt.
        expect(stats.prefixCacheHits).toBe((2 + 2 + 1) * 16);
        expect(stats.prefixCacheQueries).toBe(47 + 47 + 52 + 32);
      } else {
        expect(stats.prefixCacheHits).toBe(0);
      }
    }
    expect(results.true).toEqual(want);
    expect(results.false).toEqual(want);
  });

  it('reports the cached prompt tokens of a request in its metrics', async () => {
    const llm = await tinyLLM();
    const p = PROMPTS[13]!; // 64 tokens
    await llm.generate([{ promptTokenIds: p }], { ...GREEDY, maxTokens: 1 });
    const [again] = await llm.generate([{ promptTokenIds: p }], { ...GREEDY, maxTokens: 1 });
    expect(again!.metrics.numCachedTokens).toBe(48); // 3 of the 4 blocks: the 4th holds the last token
  });

  it('under forced preemption with a KV budget of a few blocks', async () => {
    // tiny-gpt2-a: 2 layers x 64 dims x (K + V) x 4 bytes = 1 KiB per token; 4-token blocks of 4 KiB.
    const llm = await tinyLLM({ blockSize: 4, kvCacheMemory: 13 * 4096 }); // 12 usable blocks = 48 tokens
    expect((await llm.stats()).numBlocks).toBe(12);
    const prompts = PROMPTS.slice(4, 10); // 8..31 tokens, each needing up to 11 blocks with its outputs
    const outs = await llm.generate(asInputs(prompts), { ...GREEDY, maxTokens: MAX_TOKENS });
    expect((await llm.stats()).numPreemptions).toBeGreaterThan(0);
    expect(tokensOf(outs)).toEqual(expected.slice(4, 10));
    expect((await llm.stats()).numFreeBlocks).toBe(12);
  });

  it('for requests that arrive while others are decoding', async () => {
    const llm = await tinyLLM({ maxNumBatchedTokens: 24 });
    const collect = async (i: number, onDelta?: (n: number) => void): Promise<number[]> => {
      const ids: number[] = [];
      let n = 0;
      for await (const d of llm.stream({ promptTokenIds: PROMPTS[i]! }, { ...GREEDY, maxTokens: MAX_TOKENS })) {
        ids.push(...d.outputs[0]!.tokenIds);
        onDelta?.(++n);
      }
      return ids;
    };
    const late: Promise<number[]>[] = [];
    const first = collect(12, (n) => {
      // Newcomers join mid-decode, one of them long enough to be chunked over several steps.
      if (n === 3) late.push(collect(14), collect(2));
      if (n === 6) late.push(collect(9));
    });
    const got = [await first, ...(await Promise.all(late))];
    expect(got).toEqual([expected[12], expected[14], expected[2], expected[9]]);
  });

  it('for every sample of a greedy n > 1 request, which share the prompt blocks', async () => {
    const llm = await tinyLLM();
    const outs: RequestOutput[] = await llm.generate([{ promptTokenIds: PROMPTS[11]! }, { promptTokenIds: PROMPTS[1]! }], { ...GREEDY, n: 3, maxTokens: MAX_TOKENS });
    for (const [k, i] of [[0, 11], [1, 1]] as const) {
      expect(outs[k]!.outputs.map((c) => c.index)).toEqual([0, 1, 2]);
      for (const c of outs[k]!.outputs) expect(c.tokenIds).toEqual(expected[i]);
    }
    expect((await llm.stats()).numFreeBlocks).toBe((await llm.stats()).numBlocks);
  });
});

describe.skipIf(!nativeAvailable())('on the native backend', () => {
  it('batched greedy equals the single-request path, with chunking and preemption', async () => {
    const { model, tokenizer } = await loadModel(fixtureModelDir('tiny-gpt2-b'), { backend: 'native', threads: 2 });
    try {
      const prompts = PROMPTS.slice(3, 13);
      const want = prompts.map((p) => referenceGreedy(model, p, MAX_TOKENS));
      // tiny-gpt2-b: 2304 bytes of KV per token; 20 blocks of 4 tokens force preemption.
      const llm = LLM.fromModel(model, tokenizer, { blockSize: 4, kvCacheMemory: 21 * 4 * 2304, maxNumBatchedTokens: 16 });
      const outs = await llm.generate(asInputs(prompts), { ...GREEDY, maxTokens: MAX_TOKENS });
      expect(tokensOf(outs)).toEqual(want);
      expect((await llm.stats()).numPreemptions).toBeGreaterThan(0);
    } finally {
      model.backend.dispose();
    }
  });
});

describe.skipIf(!nativeAvailable() || !nativeSimdPaths().includes('avx512-bf16'))('on the opt-in bf16 dot-product path', () => {
  it('stays batch-invariant: batched greedy equals the single-request path', async () => {
    const { model, tokenizer } = await loadModel(fixtureModelDir('tiny-gpt2-b', 'bf16'), { backend: 'native', simd: 'avx512-bf16', threads: 2 });
    try {
      expect(model.backend.simd).toBe('avx512-bf16');
      const prompts = PROMPTS.slice(0, 12);
      const want = prompts.map((p) => referenceGreedy(model, p, MAX_TOKENS));
      const llm = LLM.fromModel(model, tokenizer, { blockSize: 4, maxNumBatchedTokens: 24 });
      expect(tokensOf(await llm.generate(asInputs(prompts), { ...GREEDY, maxTokens: MAX_TOKENS }))).toEqual(want);
    } finally {
      model.backend.dispose();
    }
  });
});
