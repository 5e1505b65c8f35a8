import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/model/config.js';

/** The fields of openai-community/gpt2's config.json that parseConfig reads. */
const GPT2_SMALL = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  bos_token_id: 50256,
  eos_token_id: 50256,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  vocab_size: 50257,
};

const FILE = '/models/gpt2/config.json';

function parseError(json: unknown): string {
  try {
    parseConfig(json, FILE);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected parseConfig to fail');
}

describe('parseConfig', () => {
  it('reads the GPT-2 small config', () => {
    expect(parseConfig(GPT2_SMALL, FILE)).toEqual({
      modelType: 'gpt2',
      vocabSize: 50257,
      nPositions: 1024,
      nEmbd: 768,
      nLayer: 12,
      nHead: 12,
      nInner: 3072,
      layerNormEpsilon: 1e-5,
      activation: 'gelu_new',
      bosTokenId: 50256,
      eosTokenId: 50256,
      torchDtype: null,
    });
  });

  it('honours n_inner, n_ctx, gelu_pytorch_tanh and torch_dtype / dtype', () => {
    const { n_positions: _, ...noPositions } = GPT2_SMALL;
    const c = parseConfig({ ...noPositions, n_ctx: 512, n_inner: 1000, activation_function: 'gelu_pytorch_tanh', torch_dtype: 'float16' }, FILE);
    expect(c).toMatchObject({ nPositions: 512, nInner: 1000, activation: 'gelu_new', torchDtype: 'float16' });
    expect(parseConfig({ ...GPT2_SMALL, dtype: 'bfloat16' }, FILE).torchDtype).toBe('bfloat16');
  });

  it('applies transformers defaults for absent optional fields', () => {
    const { layer_norm_epsilon: _e, activation_function: _a, bos_token_id: _b, eos_token_id: _o, ...bare } = GPT2_SMALL;
    expect(parseConfig(bare, FILE)).toMatchObject({ layerNormEpsilon: 1e-5, activation: 'gelu_new', bosTokenId: 50256, eosTokenId: 50256 });
    // A vocabulary smaller than GPT-2's has <|endoftext|> as its last token.
    expect(parseConfig({ ...bare, vocab_size: 100 }, FILE).eosTokenId).toBe(99);
  });

  it('rejects bad fields, naming the file and the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ activation_function: 'relu' }, /field "activation_function" must be "gelu_new" or "gelu_pytorch_tanh", got "relu"/],
      [{ n_head: 5 }, /field "n_embd" \(768\) must be divisible by n_head \(5\)/],
      [{ model_type: 'llama' }, /field "model_type" must be "gpt2", got "llama"/],
      [{ model_type: undefined }, /field "model_type" must be "gpt2", got nothing/],
      [{ vocab_size: undefined }, /field "vocab_size" is missing/],
      [{ n_layer: 1.5 }, /field "n_layer" must be a positive integer, got 1.5/],
      [{ n_embd: '768' }, /field "n_embd" must be a positive integer, got "768"/],
      [{ n_positions: 0 }, /field "n_positions" must be a positive integer, got 0/],
      [{ layer_norm_epsilon: -1 }, /field "layer_norm_epsilon" must be a positive number/],
      [{ eos_token_id: 50257 }, /field "eos_token_id" must be a token id in \[0, 50257\), got 50257/],
      [{ torch_dtype: 16 }, /field "torch_dtype" must be a string/],
      [{ tie_word_embeddings: false }, /field "tie_word_embeddings" is false: models with an untied LM head are not supported/],
    ];
    for (const [patch, pattern] of cases) {
      const msg = parseError({ ...GPT2_SMALL, ...patch });
      expect(msg.startsWith(`${FILE}: `), msg).toBe(true);
      expect(msg).toMatch(pattern);
    }
    expect(parseError([1, 2])).toBe(`${FILE}: expected a JSON object, got [1,2]`);
  });
});
