import { describe, expect, it } from 'vitest';
import { LLM } from '../../src/engine/llm.js';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { referenceGreedy, tinyLLM, tinyModel, tokensOf } from '../helpers/engine.js';

describe('LLM', () => {
  it('generates for hundreds of short prompts, in input order, matching the reference', async () => {
    const { model, tokenizer } = await tinyModel();
    const llm = await tinyLLM({ maxNumSeqs: 64 });
    const prompts = Array.from({ length: 200 }, (_, i) => `Item ${i}:${' x'.repeat(i % 7)}`);
    const outs = await llm.generate(prompts, { temperature: 0, maxTokens: 2, ignoreEos: true }, { progress: false });
    expect(outs.map((o) => o.prompt)).toEqual(prompts);
    expect(outs.map((o) => o.promptTokenIds)).toEqual(prompts.map((p) => tokenizer.encode(p)));
    expect(outs.every((o) => o.finished && o.outputs.length === 1 && o.outputs[0]!.tokenIds.length === 2)).toBe(true);
    for (const i of [0, 37, 111, 199]) expect(tokensOf([outs[i]!])[0]).toEqual(referenceGreedy(model, tokenizer.encode(prompts[i]!), 2));
    const s = await llm.stats();
    expect(s.generationTokens).toBe(400);
    expect(s.numFreeBlocks).toBe(s.numBlocks);
  });

  it('accepts one prompt or per-prompt parameters', async () => {
    const llm = await tinyLLM();
    const [single] = await llm.generate('Hello', { temperature: 0, maxTokens: 3 });
    expect(single!.prompt).toBe('Hello');
    const outs = await llm.generate(['a', 'b'], [{ maxTokens: 1, temperature: 0 }, { maxTokens: 4, temperature: 0, ignoreEos: true }]);
    expect(outs.map((o) => o.outputs[0]!.tokenIds.length)).toEqual([1, 4]);
    await expect(llm.generate(['a', 'b'], [{}])).rejects.toThrow(/1 sampling parameter sets for 2 prompts/);
  });

  it('streams deltas that add up to the generated output', async () => {
    const llm = await tinyLLM();
    const params = { temperature: 0, maxTokens: 9, ignoreEos: true, logprobs: 1 };
    const [whole] = await llm.generate('The harbour was quiet', params);
    const deltas = [];
    for await (const d of llm.stream('The harbour was quiet', params)) deltas.push(d);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.flatMap((d) => d.outputs[0]!.tokenIds)).toEqual(whole!.outputs[0]!.tokenIds);
    expect(deltas.map((d) => d.outputs[0]!.text).join('')).toBe(whole!.outputs[0]!.text);
    expect(deltas.flatMap((d) => d.outputs[0]!.logprobs!)).toEqual(whole!.outputs[0]!.logprobs);
    expect(deltas.at(-1)!.outputs[0]!.cumulativeLogprob).toBe(whole!.outputs[0]!.cumulativeLogprob);
  });

  it('loads from a checkpoint directory, validates options and closes', async () => {
    await expect(LLM.create({ model: fixtureModelDir('tiny-gpt2-b'), backend: 'reference', blockSize: 0 })).rejects.toThrow(/blockSize: expected a positive integer, got 0/);
    await expect(LLM.create({ model: fixtureModelDir('tiny-gpt2-b'), backend: 'reference', kvCacheMemory: '12 parsecs' })).rejects.toThrow(/kvCacheMemory: cannot parse '12 parsecs'/);
    await expect(LLM.create({ model: fixtureModelDir('tiny-gpt2-b'), backend: 'reference', maxModelLen: 1000 })).rejects.toThrow(/maxModelLen: 1000 exceeds the model's context length \(n_positions = 320\)/);
    const llm = await LLM.create({ model: fixtureModelDir('tiny-gpt2-b'), backend: 'reference', maxModelLen: 64, kvCacheMemory: '1MiB', blockSize: 8 });
    expect(llm.maxModelLen).toBe(64);
    // tiny-gpt2-b: 3 layers x 96 dims x 2 x 4 bytes = 2304 bytes per token, 18432 per 8-token block.
    expect(llm.config.numBlocks).toBe(Math.floor(2 ** 20 / 18432));
    const [out] = await llm.generate('Hi', { temperature: 0, maxTokens: 2, ignoreEos: true });
    expect(out!.outputs[0]!.tokenIds).toHaveLength(2);
    llm.close();
    await expect(llm.generate('Hi')).rejects.toThrow(/closed/);
  });
});
