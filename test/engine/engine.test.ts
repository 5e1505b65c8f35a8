/**
 * Engine behaviour end to end on the tiny fixture model: finish conditions, logprobs, seeded
 * sampling, limits, abort and input validation. Oracles: the PyTorch reference outputs of the
 * fixture (greedy continuations, top-5 logits per prompt position) and the tokenizer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RequestOutput } from '../../src/engine/outputs.js';
import { ParamError, type SamplingParamsInit } from '../../src/engine/sampling-params.js';
import type { LLM } from '../../src/engine/llm.js';
import type { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { loadReference, type ReferencePrompt } from '../helpers/fixtures.js';
import { randomPrompts, tinyLLM, tinyModel, tokensOf } from '../helpers/engine.js';

const ref = loadReference('tiny-gpt2-a');
const harbour = ref.prompts.find((p) => p.name === 'harbour')!;
const greedy = harbour.greedy.tokens; // PyTorch, 32 steps
const EOS = 50256;

let llm: LLM;
let tok: GPT2Tokenizer;

beforeAll(async () => {
  llm = await tinyLLM();
  tok = (await tinyModel()).tokenizer;
});

async function one(prompt: ReferencePrompt | readonly number[], params: SamplingParamsInit): Promise<RequestOutput> {
  const tokens = 'tokens' in prompt ? prompt.tokens : prompt;
  const [out] = await llm.generate([{ promptTokenIds: tokens }], params);
  return out!;
}

async function drain(it: AsyncIterable<RequestOutput>): Promise<RequestOutput[]> {
  const all: RequestOutput[] = [];
  for await (const d of it) all.push(d);
  return all;
}

describe('finish conditions', () => {
  it('max_tokens: exactly that many tokens, finish reason length', async () => {
    const out = await one(harbour, { temperature: 0, maxTokens: 7 });
    expect(out.outputs[0]!.tokenIds).toEqual(greedy.slice(0, 7));
    expect(out.outputs[0]!.finishReason).toBe('length');
    expect(out.outputs[0]!.text).toBe(tok.decode(greedy.slice(0, 7)));
    expect(out.finished).toBe(true);
  });

  it('EOS stops with its text dropped; min_tokens defers it; ignore_eos overrides it', async () => {
    const bias = { logitBias: { [EOS]: 100 } };
    const eos = await one(harbour, { temperature: 0, maxTokens: 8, ...bias });
    expect(eos.outputs[0]).toMatchObject({ tokenIds: [EOS], text: '', finishReason: 'stop', stopReason: null });

    const min = await one(harbour, { temperature: 0, maxTokens: 8, minTokens: 3, ...bias });
    // EOS is banned for the first 3 tokens, which are then the unbiased greedy ones.
    expect(min.outputs[0]!.tokenIds).toEqual([...greedy.slice(0, 3), EOS]);
    expect(min.outputs[0]!.finishReason).toBe('stop');

    const ignored = await one(harbour, { temperature: 0, maxTokens: 4, ignoreEos: true, ...bias });
    expect(ignored.outputs[0]!.tokenIds).toEqual([EOS, EOS, EOS, EOS]);
    expect(ignored.outputs[0]!.finishReason).toBe('length');
  });

  it('stop token ids end the output on that token', async () => {
    const stopId = greedy[5]!;
    expect(greedy.indexOf(stopId)).toBe(5);
    const out = await one(harbour, { temperature: 0, maxTokens: 20, stopTokenIds: [stopId] });
    expect(out.outputs[0]!.tokenIds).toEqual(greedy.slice(0, 6));
    expect(out.outputs[0]!.finishReason).toBe('stop');
    expect(out.outputs[0]!.stopReason).toBe(stopId);
  });

  it('stop strings truncate the text, also when streamed', async () => {
    const before = tok.decode(greedy.slice(0, 5));
    const stop = tok.decode([greedy[5]!]);
    expect(tok.decode(greedy).indexOf(stop)).toBe(before.length); // first occurrence: token 5
    const out = await one(harbour, { temperature: 0, maxTokens: 20, stop: [stop] });
    expect(out.outputs[0]).toMatchObject({ text: before, finishReason: 'stop', stopReason: stop });
    expect(out.outputs[0]!.tokenIds).toEqual(greedy.slice(0, 6));

    const deltas = await drain(llm.stream({ promptTokenIds: harbour.tokens }, { temperature: 0, maxTokens: 20, stop: [stop], includeStopStrInOutput: true }));
    expect(deltas.map((d) => d.outputs.map((c) => c.text).join('')).join('')).toBe(before + stop);
    expect(deltas.at(-1)!.finished).toBe(true);
    expect(deltas.slice(0, -1).every((d) => !d.finished)).toBe(true);
  });
});

describe('logprobs', () => {
  it('prompt logprobs match the PyTorch top-5 at every position, through chunked prefill and a warm cache', async () => {
    const chunked = await tinyLLM({ maxNumBatchedTokens: 8 });
    await chunked.generate([{ promptTokenIds: harbour.tokens }], { temperature: 0, maxTokens: 1 }); // warms the prefix cache
    const [out] = await chunked.generate([{ promptTokenIds: harbour.tokens }], { temperature: 0, maxTokens: 2, promptLogprobs: 5 });
    const pl = out!.promptLogprobs!;
    expect(pl).toHaveLength(harbour.tokens.length);
    expect(pl[0]).toBeNull();
    for (let j = 1; j < pl.length; j++) {
      const e = pl[j]!;
      expect(e.tokenId).toBe(harbour.tokens[j]);
      expect(e.top.map((t) => t.tokenId)).toEqual(harbour.top5[j - 1]);
      // Logprobs differ from logits by a per-row constant.
      const logits = harbour.top5Logits[j - 1]!;
      for (let k = 1; k < 5; k++) expect(e.top[k]!.logprob - e.top[0]!.logprob).toBeCloseTo(logits[k]! - logits[0]!, 4);
    }
  });

  it('sample logprobs: one entry per token, rank 1 when greedy, summing to the cumulative logprob', async () => {
    const out = await one(harbour, { temperature: 0, maxTokens: 5, logprobs: 2 });
    const c = out.outputs[0]!;
    expect(c.logprobs!.map((l) => l.tokenId)).toEqual(greedy.slice(0, 5));
    expect(c.logprobs!.every((l) => l.rank === 1 && l.top.length === 2 && l.top[0]!.tokenId === l.tokenId)).toBe(true);
    expect(c.cumulativeLogprob).toBeCloseTo(c.logprobs!.reduce((s, l) => s + l.logprob, 0), 10);
  });
});

describe('seeded sampling', () => {
  const sampled: SamplingParamsInit = { temperature: 1, topK: 40, seed: 7, maxTokens: 12, ignoreEos: true };
  const others = randomPrompts([5, 30, 12, 50], 77).map((p) => ({ promptTokenIds: p }));

  it('is reproducible whatever else is in the batch', async () => {
    const alone = tokensOf([await one(harbour, sampled)])[0]!;
    const mixed = await llm.generate([others[0]!, { promptTokenIds: harbour.tokens }, others[1]!, others[2]!], [
      { temperature: 0.7, seed: 1, maxTokens: 3 },
      sampled,
      { temperature: 0, maxTokens: 20 },
      { temperature: 1.3, maxTokens: 9 },
    ]);
    const chunked = await tinyLLM({ maxNumBatchedTokens: 5 });
    const [late] = await chunked.generate([others[3]!, { promptTokenIds: harbour.tokens }], [{ temperature: 1, maxTokens: 6 }, sampled]).then((o) => [o[1]!]);
    expect(tokensOf(mixed)[1]).toEqual(alone);
    expect(tokensOf([late!])[0]).toEqual(alone);
    expect(alone).not.toEqual(greedy.slice(0, 12)); // it did sample
  });

  it('gives n > 1 samples their own reproducible streams', async () => {
    const a = await one(harbour, { ...sampled, n: 3 });
    const b = await llm.generate([others[1]!, { promptTokenIds: harbour.tokens }], [{ temperature: 0, maxTokens: 4 }, { ...sampled, n: 3 }]);
    const samples = [0, 1, 2].map((i) => tokensOf([a], i)[0]!);
    expect([0, 1, 2].map((i) => tokensOf([b[1]!], i)[0])).toEqual(samples);
    expect(new Set(samples.map((s) => s.join(','))).size).toBe(3);
    // Sample 0 of n = 3 draws from the same stream as the single sample with that seed.
    expect(samples[0]).toEqual(tokensOf([await one(harbour, sampled)])[0]);
  });
});

describe('limits, abort and validation', () => {
  it('finishes a prompt that can never fit in the KV cache instead of hanging', async () => {
    // 5 blocks of 16 tokens (1 KiB per token): 4 usable = 64 tokens.
    const small = await tinyLLM({ kvCacheMemory: 5 * 16 * 1024 });
    const [big, fits] = await small.generate(
      [{ promptTokenIds: randomPrompts([70])[0]! }, { promptTokenIds: randomPrompts([60])[0]! }],
      { temperature: 0, maxTokens: 10, ignoreEos: true },
    );
    expect(big!.outputs[0]).toMatchObject({ tokenIds: [], finishReason: 'length' });
    expect(fits!.outputs[0]!.tokenIds).toHaveLength(4); // the sequence fills the whole pool
    expect(fits!.outputs[0]!.finishReason).toBe('length');
    expect((await small.stats()).numFreeBlocks).toBe(4);
  });

  it('abort ends the stream with reason abort and frees the blocks at once', async () => {
    const deltas: RequestOutput[] = [];
    for await (const d of llm.stream({ promptTokenIds: harbour.tokens }, { temperature: 0, maxTokens: 100, ignoreEos: true }, 'to-abort')) {
      deltas.push(d);
      if (deltas.length === 2) {
        expect((await llm.stats()).numRunning).toBe(1);
        llm.abort('to-abort');
        const s = await llm.stats();
        expect([s.numRunning, s.numWaiting, s.numFreeBlocks]).toEqual([0, 0, s.numBlocks]);
      }
    }
    expect(deltas).toHaveLength(3);
    expect(deltas[2]!.finished).toBe(true);
    expect(deltas[2]!.outputs[0]!.finishReason).toBe('abort');
    llm.abort('unknown-id'); // ignored
  });

  it('breaking out of a stream aborts the request', async () => {
    for await (const _ of llm.stream({ promptTokenIds: harbour.tokens }, { temperature: 0, maxTokens: 100 })) break;
    const s = await llm.stats();
    expect([s.numRunning, s.numWaiting, s.numFreeBlocks]).toEqual([0, 0, s.numBlocks]);
  });

  it('rejects bad input at once with a ParamError naming the parameter, queueing nothing', async () => {
    const err = async (p: Promise<unknown>): Promise<ParamError> => {
      const e = await p.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(ParamError);
      return e as ParamError;
    };
    expect((await err(llm.generate(['ok', 'fine'], { temperature: -1 }))).param).toBe('temperature');
    expect((await err(llm.generate([{ promptTokenIds: [1, 50257] }]))).param).toBe('prompt_token_ids');
    expect((await err(llm.generate(['']))).param).toBe('prompt');
    const tooLong = await err(llm.generate([{ promptTokenIds: new Array<number>(256).fill(11) }]));
    expect(tooLong.param).toBe('prompt');
    expect(tooLong.message).toMatch(/maximum context length is 256 tokens.*256 tokens/);
    expect((await err(llm.stream('hi', { topP: 2 }).next())).param).toBe('top_p');
    expect((await llm.stats()).numWaiting + (await llm.stats()).numRunning).toBe(0);
  });

  it('rejects a request id that is in use', async () => {
    const a = llm.stream('one', { maxTokens: 3 }, 'same');
    const b = llm.stream('two', { maxTokens: 3 }, 'same');
    const first = a.next();
    await expect(b.next()).rejects.toThrow(/'same' is already in use/);
    await first;
    await a.return(undefined);
  });

  it('counts tokens and requests in its stats', async () => {
    const fresh = await tinyLLM();
    await fresh.generate([{ promptTokenIds: [1, 2, 3] }, { promptTokenIds: [4, 5] }], { temperature: 0, maxTokens: 4, ignoreEos: true, n: 2 });
    const s = await fresh.stats();
    expect(s.promptTokens).toBe(5);
    expect(s.generationTokens).toBe(16);
    expect(s.kvCacheUsage).toBe(0);
  });
});
