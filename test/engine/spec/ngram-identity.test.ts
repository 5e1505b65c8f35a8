/**
 * Greedy output with n-gram speculation must equal the plain engine's, token for token, whatever the
 * batch, chunking, prefix caching or preemption did; a seeded sampled request too (each emitted
 * token consumes the one uniform it would without speculation). Prompts repeat spans so that the
 * proposer finds matches, and the tiny random models fall into loops the proposer then copies.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { EngineOptions } from '../../../src/engine/engine-client.js';
import { LLM } from '../../../src/engine/llm.js';
import type { SamplingParamsInit } from '../../../src/engine/sampling-params.js';
import { nativeAvailable } from '../../../src/kernels/native.js';
import { loadModel } from '../../../src/model/load.js';
import { fixtureModelDir } from '../../helpers/fixtures.js';
import { randomPrompts, tinyLLM, tokensOf } from '../../helpers/engine.js';

const NGRAM = { method: 'ngram', num_speculative_tokens: 4, prompt_lookup_max: 3, prompt_lookup_min: 1, max_verify_tokens: 64 } as const;
const GREEDY = { temperature: 0, ignoreEos: true, maxTokens: 16 } as const;

/** Prompts that copy earlier spans of themselves. */
function repetitivePrompts(): number[][] {
  const base = randomPrompts([5, 9, 14, 20, 3, 30, 11], 77);
  return base.map((p, i) => [...p, ...p.slice(0, 2 + (i % 3)), ...p, ...p.slice(1)]);
}

const PROMPTS = repetitivePrompts();
type Opts = Omit<EngineOptions, 'model'>;

async function run(opts: Opts, params: SamplingParamsInit, prompts = PROMPTS): Promise<number[][]> {
  const llm = await tinyLLM(opts);
  return tokensOf(await llm.generate(prompts.map((p) => ({ promptTokenIds: p })), params));
}

let plain: number[][];
beforeAll(async () => {
  plain = await run({}, GREEDY);
});

describe('ngram speculation keeps greedy output unchanged', () => {
  it('for a batch, and accepts some drafts', async () => {
    const llm = await tinyLLM({ speculativeConfig: NGRAM });
    const got = tokensOf(await llm.generate(PROMPTS.map((p) => ({ promptTokenIds: p })), GREEDY));
    expect(got).toEqual(plain);
    const spec = (await llm.stats()).specDecode!;
    expect(spec.numDraftTokens).toBeGreaterThan(0);
    expect(spec.numAcceptedTokens).toBeGreaterThan(0);
    expect(spec.acceptedPerPos[0]).toBeGreaterThanOrEqual(spec.acceptedPerPos[3]!);
    expect((await llm.stats()).numFreeBlocks).toBe((await llm.stats()).numBlocks);
  });

  it.each([1, 3])('one request at a time, batch of %i', async (n) => {
    for (let i = 0; i < PROMPTS.length; i += n) {
      expect(await run({ speculativeConfig: NGRAM }, GREEDY, PROMPTS.slice(i, i + n))).toEqual(plain.slice(i, i + n));
    }
  });

  it.each([true, false])('with prefix caching %s, repeated prompts', async (enablePrefixCaching) => {
    const llm = await tinyLLM({ enablePrefixCaching, blockSize: 4, speculativeConfig: NGRAM });
    for (let round = 0; round < 2; round++) {
      const got = tokensOf(await llm.generate(PROMPTS.map((p) => ({ promptTokenIds: p })), GREEDY));
      expect(got).toEqual(plain);
    }
  });

  it.each([5, 16])('with chunked prefill (budget %i)', async (maxNumBatchedTokens) => {
    expect(await run({ maxNumBatchedTokens, speculativeConfig: NGRAM }, GREEDY)).toEqual(plain);
  });

  it('under preemption with a tiny KV pool', async () => {
    const llm = await tinyLLM({ blockSize: 4, kvCacheMemory: 33 * 4096, speculativeConfig: NGRAM });
    const got = tokensOf(await llm.generate(PROMPTS.map((p) => ({ promptTokenIds: p })), GREEDY));
    expect((await llm.stats()).numPreemptions).toBeGreaterThan(0);
    expect(got).toEqual(plain);
  });

  it('when speculation steps back for a large batch', async () => {
    // 7 decoding sequences × (1 + 4) rows > 34: every step decodes plainly; one sequence alone may speculate.
    const llm = await tinyLLM({ speculativeConfig: { ...NGRAM, max_verify_tokens: 34 } });
    expect(tokensOf(await llm.generate(PROMPTS.map((p) => ({ promptTokenIds: p })), GREEDY))).toEqual(plain);
    expect((await llm.stats()).specDecode!.numDraftTokens).toBe(0);
    expect(tokensOf(await llm.generate([{ promptTokenIds: PROMPTS[0]! }], GREEDY))).toEqual(plain.slice(0, 1));
    expect((await llm.stats()).specDecode!.numDraftTokens).toBeGreaterThan(0);
  });
});

describe('ngram speculation with sampling', () => {
  it('gives a seeded request the same tokens, with penalties, bias, min_tokens and logprobs', async () => {
    const params: SamplingParamsInit = {
      temperature: 0.05, topK: 50, seed: 11, maxTokens: 12, ignoreEos: true, logprobs: 1,
      repetitionPenalty: 1.01, frequencyPenalty: 0.01, minTokens: 5, logitBias: { 17: 0.5 },
    };
    const prompts = PROMPTS.slice(0, 3).map((p) => ({ promptTokenIds: p }));
    const a = await (await tinyLLM()).generate(prompts, params);
    const llm = await tinyLLM({ speculativeConfig: NGRAM });
    const b = await llm.generate(prompts, params);
    expect(tokensOf(b)).toEqual(tokensOf(a));
    expect(b.map((o) => o.outputs[0]!.logprobs)).toEqual(a.map((o) => o.outputs[0]!.logprobs));
    expect((await llm.stats()).specDecode!.numAcceptedTokens).toBeGreaterThan(0);
  });
});

describe.skipIf(!nativeAvailable())('on the native backend', () => {
  it('ngram and draft_model speculation keep greedy output unchanged, with chunking and preemption', async () => {
    const { model, tokenizer } = await loadModel(fixtureModelDir('tiny-gpt2-b'), { backend: 'native', threads: 2 });
    try {
      const inputs = PROMPTS.map((p) => ({ promptTokenIds: p }));
      const want = tokensOf(await LLM.fromModel(model, tokenizer).generate(inputs, GREEDY));
      // tiny-gpt2-b: 2304 bytes of KV per token; 30 blocks of 4 tokens force preemption.
      const small = { blockSize: 4, kvCacheMemory: 31 * 4 * 2304, maxNumBatchedTokens: 16 };
      const ngram = LLM.fromModel(model, tokenizer, { ...small, speculativeConfig: NGRAM });
      expect(tokensOf(await ngram.generate(inputs, GREEDY))).toEqual(want);
      expect((await ngram.stats()).numPreemptions).toBeGreaterThan(0);
      expect((await ngram.stats()).specDecode!.numAcceptedTokens).toBeGreaterThan(0);
      const self = LLM.fromModel(model, tokenizer, { speculativeConfig: { method: 'draft_model', model: '(self)', num_speculative_tokens: 3, max_verify_tokens: 64 } }, model);
      expect(tokensOf(await self.generate(inputs, GREEDY))).toEqual(want);
      const spec = (await self.stats()).specDecode!;
      expect(spec.numAcceptedTokens).toBe(spec.numDraftTokens);
    } finally {
      model.backend.dispose();
    }
  });
});
