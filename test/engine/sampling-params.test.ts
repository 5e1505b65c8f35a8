import { describe, expect, it } from 'vitest';
import { ParamError, SamplingParams, type SamplingParamsInit } from '../../src/engine/sampling-params.js';

/** Asserts that `init` is rejected with a ParamError naming `param` (in `.param` and in the message). */
function expectRejected(init: unknown, param: string, limits?: { vocabSize?: number; maxLogprobs?: number }): ParamError {
  let caught: unknown;
  try {
    SamplingParams.create(init as SamplingParamsInit, limits);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${JSON.stringify(init)} to be rejected`).toBeInstanceOf(ParamError);
  const err = caught as ParamError;
  expect(err.param).toBe(param);
  expect(err.message).toContain(`'${param}'`);
  return err;
}

describe('SamplingParams defaults', () => {
  it('mirrors vLLM defaults', () => {
    const p = SamplingParams.create();
    expect(p).toMatchObject({
      n: 1, temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, presencePenalty: 0,
      frequencyPenalty: 0, seed: null, stop: [], stopTokenIds: [], ignoreEos: false, maxTokens: 16,
      minTokens: 0, logprobs: null, promptLogprobs: null, logitBias: null, includeStopStrInOutput: false,
      skipSpecialTokens: true,
    });
    expect(p.greedy).toBe(false);
  });

  it('treats explicit nulls as defaults, except max_tokens where null means "up to the context"', () => {
    const p = SamplingParams.create({ temperature: null, topP: null, maxTokens: null } as unknown as SamplingParamsInit);
    expect(p.temperature).toBe(1);
    expect(p.topP).toBe(1);
    expect(p.maxTokens).toBeNull();
  });

  it('normalises stop, top_k and logit_bias', () => {
    const p = SamplingParams.create({ stop: 'END', topK: -1, logitBias: { 50256: -100, 7: 2.5 } });
    expect(p.stop).toEqual(['END']);
    expect(p.topK).toBe(0);
    expect([...p.logitBias!.entries()].sort((a, b) => a[0] - b[0])).toEqual([[7, 2.5], [50256, -100]]);
  });

  it('is greedy at temperature 0 or top_k 1, and greedy n > 1 is allowed', () => {
    const g = SamplingParams.create({ temperature: 0, n: 4, topP: 0.5, topK: 10, minP: 0.2 });
    expect(g.greedy).toBe(true);
    expect(g.n).toBe(4);
    // Truncation cannot change an argmax; like vLLM, greedy params switch it off.
    expect([g.topK, g.topP, g.minP]).toEqual([0, 1, 0]);
    expect(SamplingParams.create({ topK: 1, temperature: 0.8 }).greedy).toBe(true);
    expect(SamplingParams.create({ temperature: 1e-3 }).greedy).toBe(false);
  });

  it('accepts temperatures above the server cap of 2 and any number of stop strings', () => {
    expect(SamplingParams.create({ temperature: 5 }).temperature).toBe(5);
    expect(SamplingParams.create({ stop: ['a', 'b', 'c', 'd', 'e', 'f'] }).stop).toHaveLength(6);
  });

  it('re-validates existing params against new limits, and round-trips through toInit', () => {
    const p = SamplingParams.create({ stopTokenIds: [60000], logprobs: 5, seed: -3, logitBias: { 3: 1 } });
    expect(SamplingParams.create(p)).toEqual(p);
    expectRejected(p, 'stop_token_ids', { vocabSize: 50257 });
    expectRejected(SamplingParams.create({ logprobs: 5 }), 'logprobs', { maxLogprobs: 4 });
  });

  it('is immutable', () => {
    const p = SamplingParams.create({ stop: ['x'] });
    expect(() => (p.stop as string[]).push('y')).toThrow();
    expect(() => Object.assign(p, { n: 3 })).toThrow();
  });
});

describe('SamplingParams validation names the parameter', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['n = 0', { n: 0 }, 'n'],
    ['n fractional', { n: 1.5 }, 'n'],
    ['n as string', { n: '2' }, 'n'],
    ['negative temperature', { temperature: -0.1 }, 'temperature'],
    ['NaN temperature', { temperature: NaN }, 'temperature'],
    ['infinite temperature', { temperature: Infinity }, 'temperature'],
    ['top_p = 0', { topP: 0 }, 'top_p'],
    ['top_p > 1', { topP: 1.01 }, 'top_p'],
    ['top_k = -2', { topK: -2 }, 'top_k'],
    ['top_k fractional', { topK: 2.5 }, 'top_k'],
    ['min_p > 1', { minP: 1.5 }, 'min_p'],
    ['min_p < 0', { minP: -0.1 }, 'min_p'],
    ['repetition_penalty = 0', { repetitionPenalty: 0 }, 'repetition_penalty'],
    ['repetition_penalty infinite', { repetitionPenalty: Infinity }, 'repetition_penalty'],
    ['presence_penalty > 2', { presencePenalty: 2.5 }, 'presence_penalty'],
    ['frequency_penalty < -2', { frequencyPenalty: -2.5 }, 'frequency_penalty'],
    ['seed fractional', { seed: 1.5 }, 'seed'],
    ['seed as string', { seed: '42' }, 'seed'],
    ['max_tokens = 0', { maxTokens: 0 }, 'max_tokens'],
    ['max_tokens fractional', { maxTokens: 3.5 }, 'max_tokens'],
    ['min_tokens negative', { minTokens: -1 }, 'min_tokens'],
    ['min_tokens > max_tokens', { minTokens: 10, maxTokens: 5 }, 'min_tokens'],
    ['logprobs above the cap', { logprobs: 21 }, 'logprobs'],
    ['logprobs negative', { logprobs: -1 }, 'logprobs'],
    ['prompt_logprobs above the cap', { promptLogprobs: 21 }, 'prompt_logprobs'],
    ['empty stop string', { stop: ['ok', ''] }, 'stop'],
    ['empty stop as string', { stop: '' }, 'stop'],
    ['stop not a string', { stop: [3] }, 'stop'],
    ['stop as number', { stop: 3 }, 'stop'],
    ['stop_token_ids not an array', { stopTokenIds: 5 }, 'stop_token_ids'],
    ['stop_token_ids negative', { stopTokenIds: [-1] }, 'stop_token_ids'],
    ['ignore_eos not boolean', { ignoreEos: 'yes' }, 'ignore_eos'],
    ['skip_special_tokens not boolean', { skipSpecialTokens: 1 }, 'skip_special_tokens'],
    ['include_stop_str_in_output not boolean', { includeStopStrInOutput: 0 }, 'include_stop_str_in_output'],
    ['logit_bias above 100', { logitBias: { 5: 101 } }, 'logit_bias'],
    ['logit_bias NaN', { logitBias: { 5: NaN } }, 'logit_bias'],
    ['logit_bias bad key', { logitBias: { abc: 1 } }, 'logit_bias'],
    ['logit_bias negative key', { logitBias: { '-1': 1 } }, 'logit_bias'],
    ['logit_bias as array', { logitBias: [1, 2] }, 'logit_bias'],
  ];
  for (const [name, init, param] of cases) {
    it(name, () => {
      expectRejected(init, param);
    });
  }

  it('checks token ids against the vocabulary when it is known', () => {
    const limits = { vocabSize: 50257 };
    expect(SamplingParams.create({ stopTokenIds: [50256], logitBias: { 50256: 5 } }, limits).stopTokenIds).toEqual([50256]);
    expectRejected({ stopTokenIds: [50257] }, 'stop_token_ids', limits);
    expectRejected({ logitBias: { 50257: 1 } }, 'logit_bias', limits);
  });

  it('uses the engine cap for logprobs', () => {
    expect(SamplingParams.create({ logprobs: 50, promptLogprobs: 0 }, { maxLogprobs: 50 }).logprobs).toBe(50);
    expectRejected({ promptLogprobs: 6 }, 'prompt_logprobs', { maxLogprobs: 5 });
  });

  it('says what was expected and what was given', () => {
    const err = expectRejected({ topP: 1.5 }, 'top_p');
    expect(err.message).toMatch(/<= 1/);
    expect(err.message).toContain('1.5');
    expect(err.name).toBe('ParamError');
  });
});
