import { describe, expect, it } from 'vitest';
import { architectureOf, headDim, kvHeads, parseConfig } from '../../src/model/config.js';
import { kvBytesPerToken } from '../../src/model/kv-cache.js';
import { ropeInvFreq } from '../../src/model/rope.js';

const FILE = '/models/x/config.json';

/** The fields of HuggingFaceTB/SmolLM2-135M-Instruct's config.json that matter here. */
const SMOLLM2 = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 49152, max_position_embeddings: 8192, hidden_size: 576,
  num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, intermediate_size: 1536, hidden_act: 'silu',
  rms_norm_eps: 1e-5, rope_theta: 100000, rope_scaling: null, tie_word_embeddings: true, attention_bias: false, mlp_bias: false,
  bos_token_id: 1, eos_token_id: 2, torch_dtype: 'bfloat16',
};
/** meta-llama/Llama-3.2-1B-Instruct. */
const LLAMA32 = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 128256, max_position_embeddings: 131072, hidden_size: 2048,
  num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, intermediate_size: 8192, hidden_act: 'silu',
  rms_norm_eps: 1e-5, rope_theta: 500000, tie_word_embeddings: true, attention_bias: false, mlp_bias: false,
  rope_scaling: { factor: 32, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], torch_dtype: 'bfloat16',
};
/** Qwen/Qwen2.5-0.5B-Instruct. */
const QWEN25 = {
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 151936, max_position_embeddings: 32768, hidden_size: 896,
  num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, intermediate_size: 4864, hidden_act: 'silu',
  rms_norm_eps: 1e-6, rope_theta: 1000000, sliding_window: 131072, use_sliding_window: false, max_window_layers: 21,
  tie_word_embeddings: true, bos_token_id: 151643, eos_token_id: 151645, torch_dtype: 'bfloat16',
};
/** Qwen/Qwen3-0.6B. */
const QWEN3 = {
  architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', vocab_size: 151936, max_position_embeddings: 40960, hidden_size: 1024,
  num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, intermediate_size: 3072, hidden_act: 'silu',
  rms_norm_eps: 1e-6, rope_theta: 1000000, rope_scaling: null, attention_bias: false, sliding_window: null, use_sliding_window: false,
  tie_word_embeddings: true, bos_token_id: 151643, eos_token_id: 151645, torch_dtype: 'bfloat16',
};

function parseError(json: unknown): string {
  try {
    parseConfig(json, FILE);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected parseConfig to fail');
}

describe('Llama-family configs', () => {
  it('reads SmolLM2: GQA 9/3, derived head size, tied head', () => {
    const c = parseConfig(SMOLLM2, FILE);
    expect(c).toMatchObject({ family: 'llama', architecture: 'LlamaForCausalLM', nEmbd: 576, nLayer: 30, nHead: 9, nKvHead: 3, headDim: 64, nInner: 1536 });
    expect(c).toMatchObject({ rmsNormEps: 1e-5, ropeTheta: 100000, ropeScaling: null, tieWordEmbeddings: true, qkvBias: false, qkNorm: false });
    expect([kvHeads(c), headDim(c), architectureOf(c)]).toEqual([3, 64, 'LlamaForCausalLM']);
    // 30 layers x K and V x 3 heads x 64 values.
    expect(kvBytesPerToken(c, 'f32')).toBe(30 * 2 * 3 * 64 * 4);
    expect(kvBytesPerToken(c, 'bf16')).toBe(30 * 2 * 3 * 64 * 2);
  });

  it('reads Llama 3.2: llama3 rope scaling and a list of end tokens', () => {
    const c = parseConfig(LLAMA32, FILE);
    expect(c).toMatchObject({ nKvHead: 8, headDim: 64, ropeTheta: 500000, eosTokenId: 128001 });
    expect(c).toMatchObject({ ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } });
  });

  it('reads Qwen2.5 (q/k/v biases, no o_proj bias) and Qwen3 (q/k norm)', () => {
    expect(parseConfig(QWEN25, FILE)).toMatchObject({ architecture: 'Qwen2ForCausalLM', headDim: 64, qkvBias: true, oBias: false, qkNorm: false });
    expect(parseConfig(QWEN3, FILE)).toMatchObject({ architecture: 'Qwen3ForCausalLM', headDim: 128, qkvBias: false, qkNorm: true });
    // Qwen3Config's default head_dim is 128, whatever hidden_size / heads is.
    const { head_dim: _, ...noHeadDim } = QWEN3;
    expect(parseConfig(noHeadDim, FILE)).toMatchObject({ headDim: 128 });
  });

  it('reads transformers 5 rope_parameters', () => {
    const { rope_theta: _t, rope_scaling: _s, ...rest } = LLAMA32;
    const c = parseConfig({ ...rest, rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 32, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192 } }, FILE);
    expect(c).toMatchObject({ ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 32 } });
  });

  it('chooses the model by model_type when architectures is absent', () => {
    const { architectures: _, ...rest } = QWEN3;
    expect(parseConfig(rest, FILE)).toMatchObject({ architecture: 'Qwen3ForCausalLM' });
  });

  it('rejects what it cannot compute, naming the file and the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...SMOLLM2, architectures: ['MistralForCausalLM'] }, /architecture "MistralForCausalLM" is not supported \(supported: GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM\)/],
      [{ ...SMOLLM2, architectures: [] }, /field "architectures" must be a non-empty list/],
      [{ ...SMOLLM2, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /field "rope_scaling" type "yarn" is not supported \(supported: default, llama3\)/],
      [{ ...SMOLLM2, rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling" type "linear" is not supported/],
      [{ ...LLAMA32, rope_scaling: { ...LLAMA32.rope_scaling, factor: undefined } }, /field "rope_scaling.factor" is missing/],
      [{ ...QWEN25, use_sliding_window: true }, /field "use_sliding_window" is true: sliding-window attention is not supported/],
      [{ ...SMOLLM2, sliding_window: 4096 }, /field "sliding_window" is 4096: sliding-window attention is not supported/],
      [{ ...SMOLLM2, num_key_value_heads: 4 }, /field "num_key_value_heads" \(4\) must divide num_attention_heads \(9\)/],
      [{ ...SMOLLM2, hidden_act: 'gelu' }, /field "hidden_act" must be "silu", got "gelu"/],
      [{ ...SMOLLM2, hidden_size: 577 }, /field "hidden_size" \(577\) must be divisible by num_attention_heads \(9\)/],
      [{ ...SMOLLM2, eos_token_id: 49152 }, /field "eos_token_id" must be a token id in \[0, 49152\)/],
      [{ ...SMOLLM2, intermediate_size: undefined }, /field "intermediate_size" is missing/],
    ];
    for (const [json, pattern] of cases) {
      const msg = parseError(json);
      expect(msg, JSON.stringify(json).slice(0, 80)).toMatch(pattern);
      expect(msg.startsWith(FILE)).toBe(true);
    }
  });
});

describe('rotary frequencies', () => {
  it('are theta^(-2i/d) by default', () => {
    const inv = ropeInvFreq({ headDim: 8, ropeTheta: 10000, ropeScaling: null });
    expect(Array.from(inv)).toEqual([1, 10000 ** -0.25, 10000 ** -0.5, 10000 ** -0.75]);
  });

  it('follow the llama3 rule: long wavelengths slowed by factor, short kept, the band between blended', () => {
    const scaling = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 };
    const base = ropeInvFreq({ headDim: 16, ropeTheta: 10000, ropeScaling: null });
    const inv = ropeInvFreq({ headDim: 16, ropeTheta: 10000, ropeScaling: scaling });
    let kept = 0, slowed = 0, blended = 0;
    base.forEach((f, i) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < 16) {
        expect(inv[i]).toBe(f);
        kept++;
      } else if (wavelen > 64) {
        expect(inv[i]).toBeCloseTo(f / 8, 15);
        slowed++;
      } else {
        const smooth = (64 / wavelen - 1) / 3;
        expect(inv[i]).toBeCloseTo((1 - smooth) * (f / 8) + smooth * f, 15);
        blended++;
      }
    });
    expect([kept, slowed, blended].every((n) => n > 0)).toBe(true);
  });
});
