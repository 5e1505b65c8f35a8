import { describe, expect, it } from 'vitest';
import { parseGenerationConfig, withEosTokenIds, withGenerationDefaults } from '../../src/engine/generation-config.js';

describe('generation_config.json', () => {
  const llama = parseGenerationConfig(JSON.stringify({ bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], do_sample: true, temperature: 0.6, top_p: 0.9 }), 'g');

  it('reads every EOS id (one or a list) and the sampling defaults', () => {
    expect(llama.eosTokenIds).toEqual([128001, 128008, 128009]);
    expect(llama.defaults).toEqual({ temperature: 0.6, topP: 0.9 });
    expect(parseGenerationConfig('{"eos_token_id": 50256, "max_new_tokens": 64, "top_k": 20}', 'g')).toEqual({ eosTokenIds: [50256], defaults: { maxTokens: 64, topK: 20 } });
  });

  it('adds the EOS ids to the stop token ids unless ignore_eos', () => {
    expect(withEosTokenIds({ stopTokenIds: [7, 128009] }, llama).stopTokenIds).toEqual([7, 128009, 128001, 128008]);
    expect(withEosTokenIds({ ignoreEos: true }, llama).stopTokenIds).toBeUndefined();
  });

  it('fills only fields the request left unset', () => {
    expect(withGenerationDefaults({ temperature: 0, topP: undefined }, llama)).toEqual({ temperature: 0, topP: 0.9 });
    expect(withGenerationDefaults({}, llama)).toEqual({ temperature: 0.6, topP: 0.9 });
  });

  it('rejects bad values naming the file and field', () => {
    expect(() => parseGenerationConfig('{"eos_token_id": "x"}', '/m/generation_config.json')).toThrow(/\/m\/generation_config\.json: eos_token_id must be/);
    expect(() => parseGenerationConfig('{"temperature": "hot"}', 'g.json')).toThrow(/g\.json: temperature must be a number/);
    expect(() => parseGenerationConfig('{', 'g.json')).toThrow(/g\.json: malformed JSON/);
  });
});
