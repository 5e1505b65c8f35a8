/**
 * The engine over Llama-family models (GQA, rotary, q/k norm): greedy outputs of batched, chunked,
 * prefix-cached and preempted runs equal PyTorch's continuations and the single-request path.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LLM } from '../../src/engine/llm.js';
import { nativeAvailable } from '../../src/kernels/native.js';
import type { CausalLM } from '../../src/model/model.js';
import { loadModel } from '../../src/model/load.js';
import { fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { randomPrompts, referenceGreedy, tinyLLM, tinyModel, tokensOf } from '../helpers/engine.js';

const GREEDY = { temperature: 0, ignoreEos: true } as const;
const PROMPTS = randomPrompts([1, 3, 8, 13, 17, 31, 33, 47], 77);
const MAX_TOKENS = 8;
/** Qwen3 shape: 4 query heads sharing 1 K/V head, q/k norm, untied head. */
const NAME = 'tiny-qwen3';

let model: CausalLM;
let expected: number[][];

beforeAll(async () => {
  model = (await tinyModel(NAME)).model;
  expected = PROMPTS.map((p) => referenceGreedy(model, p, MAX_TOKENS));
});

const inputs = (prompts: readonly (readonly number[])[]) => prompts.map((p) => ({ promptTokenIds: p }));

describe(`${NAME}: batched greedy equals the single-request reference`, () => {
  it('matches PyTorch greedy continuations of the fixture prompts, all batched together', async () => {
    const ref = loadReference(NAME);
    const llm = await tinyLLM({}, NAME);
    const outs = await llm.generate(inputs(ref.prompts.map((p) => p.tokens)), { ...GREEDY, maxTokens: ref.greedySteps });
    expect(tokensOf(outs)).toEqual(ref.prompts.map((p) => p.greedy.tokens));
  });

  it.each([4, 16])('with a token budget of %i per step (chunked prefill)', async (budget) => {
    const llm = await tinyLLM({ maxNumBatchedTokens: budget }, NAME);
    expect(tokensOf(await llm.generate(inputs(PROMPTS), { ...GREEDY, maxTokens: MAX_TOKENS }))).toEqual(expected);
  });

  it('with prefix caching on and off', async () => {
    const [shared, tailA, tailB] = randomPrompts([40, 7, 12], 99);
    const prompts = [[...shared!, ...tailA!], [...shared!, ...tailA!], [...shared!, ...tailB!], shared!.slice(0, 32)];
    const want = prompts.map((p) => referenceGreedy(model, p, MAX_TOKENS));
    for (const enablePrefixCaching of [true, false]) {
      const llm = await tinyLLM({ enablePrefixCaching, blockSize: 16 }, NAME);
      const got: number[][] = [];
      for (const p of prompts) got.push(...tokensOf(await llm.generate([{ promptTokenIds: p }], { ...GREEDY, maxTokens: MAX_TOKENS })));
      expect(got, `prefix caching ${enablePrefixCaching}`).toEqual(want);
      expect((await llm.stats()).prefixCacheHits > 0, `prefix cache hits with caching ${enablePrefixCaching}`).toBe(enablePrefixCaching);
    }
  });

  it('under forced preemption with a KV budget of a few blocks', async () => {
    // 2 layers x 1 K/V head x 32 dims x (K + V) x 4 bytes = 512 bytes per token: the GQA cache.
    expect(model.kvBytesPerToken()).toBe(512);
    const llm = await tinyLLM({ blockSize: 4, kvCacheMemory: 13 * 4 * 512 }, NAME); // 12 blocks = 48 tokens
    expect((await llm.stats()).numBlocks).toBe(12);
    const prompts = PROMPTS.slice(2, 6);
    const outs = await llm.generate(inputs(prompts), { ...GREEDY, maxTokens: MAX_TOKENS });
    expect((await llm.stats()).numPreemptions).toBeGreaterThan(0);
    expect(tokensOf(outs)).toEqual(expected.slice(2, 6));
  });
});

describe.skipIf(!nativeAvailable())('Llama 3 shape on the native backend', () => {
  it('batched greedy equals the single-request path, with chunking and preemption', async () => {
    // tiny-llama-b: 2 K/V heads per 4 query heads, llama3 rope scaling, biases, untied head.
    const { model: m, tokenizer } = await loadModel(fixtureModelDir('tiny-llama-b'), { backend: 'native', threads: 2 });
    try {
      const want = PROMPTS.map((p) => referenceGreedy(m, p, MAX_TOKENS));
      const perToken = m.kvBytesPerToken();
      expect(perToken).toBe(2 * 2 * 2 * 32 * 4);
      const llm = LLM.fromModel(m, tokenizer, { blockSize: 4, kvCacheMemory: 21 * 4 * perToken, maxNumBatchedTokens: 16 });
      expect(tokensOf(await llm.generate(inputs(PROMPTS), { ...GREEDY, maxTokens: MAX_TOKENS }))).toEqual(want);
      expect((await llm.stats()).numPreemptions).toBeGreaterThan(0);
    } finally {
      m.backend.dispose();
    }
  });
});
