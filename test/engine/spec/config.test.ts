/** Parsing and validating --speculative-config (vLLM's JSON). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_VERIFY_TOKENS, parseSpeculativeConfig } from '../../../src/engine/spec/config.js';

describe('parseSpeculativeConfig', () => {
  it('parses the ngram and draft_model forms of the issue', () => {
    expect(parseSpeculativeConfig('{"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 4, "prompt_lookup_min": 2}')).toEqual({
      method: 'ngram', numSpeculativeTokens: 4, promptLookupMax: 4, promptLookupMin: 2, model: null, maxVerifyTokens: DEFAULT_MAX_VERIFY_TOKENS,
    });
    expect(parseSpeculativeConfig({ method: 'draft_model', model: 'distilgpt2', num_speculative_tokens: 3 })).toMatchObject({ method: 'draft_model', model: 'distilgpt2', numSpeculativeTokens: 3 });
    // The method follows from the fields when left out, as in vLLM.
    expect(parseSpeculativeConfig({ model: 'distilgpt2', num_speculative_tokens: 3 })!.method).toBe('draft_model');
    expect(parseSpeculativeConfig({ num_speculative_tokens: 3, prompt_lookup_max: 5 })).toMatchObject({ method: 'ngram', promptLookupMax: 5, promptLookupMin: 2 });
    expect(parseSpeculativeConfig(undefined)).toBeNull();
  });

  it.each([
    ['{"method": "ngram"', /not valid JSON/],
    ['[1]', /expected a JSON object/],
    ['{"method": "medusa", "num_speculative_tokens": 2}', /method: expected one of ngram, draft_model, got "medusa"/],
    ['{"method": "ngram"}', /num_speculative_tokens: required/],
    ['{"method": "ngram", "num_speculative_tokens": 0}', /num_speculative_tokens: expected an integer >= 1, got 0/],
    ['{"method": "ngram", "num_speculative_tokens": 2.5}', /expected an integer >= 1, got 2.5/],
    ['{"method": "ngram", "num_speculative_tokens": 2, "prompt_lookup_min": 5, "prompt_lookup_max": 3}', /prompt_lookup_min \(5\) exceeds prompt_lookup_max \(3\)/],
    ['{"method": "draft_model", "num_speculative_tokens": 2}', /draft_model needs the draft checkpoint/],
    ['{"method": "ngram", "model": "gpt2", "num_speculative_tokens": 2}', /only draft_model takes a model/],
    ['{"method": "ngram", "num_speculative_tokens": 2, "typo": 1}', /unknown field 'typo'/],
  ])('rejects %s', (json, err) => {
    expect(() => parseSpeculativeConfig(json)).toThrow(err);
  });
});
