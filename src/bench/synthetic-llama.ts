/**
 * Synthetic Llama-family checkpoints (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM) with
 * the weight scheme of synthetic.ts (the Llama rows of its table), for tests and benchmarks.
 * scripts/make_llama_fixtures.py computes the float64 reference outputs for the same weights.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLlamaConfig, type LlamaArchitecture } from '../model/llama-config.js';
import { llamaTensorShapes } from '../model/llama-tensors.js';
import type { OutlierSpec } from './synthetic-outliers.js';
import { FORMATS, findTokenizerFiles, GPT2_VOCAB_SIZE, linkOrCopy, writeStandInVocabulary, writeSyntheticTensors } from './synthetic.js';

export interface LlamaSyntheticSpec {
  architecture: LlamaArchitecture;
  nLayer: number;
  nHead: number;
  nKvHead: number;
  nEmbd: number;
  /** Defaults to nEmbd / nHead (Qwen3 included: the spec always writes head_dim). */
  headDim?: number;
  nInner: number;
  nPositions: number;
  /** Defaults to GPT-2's 50257. */
  vocabSize?: number;
  tieWordEmbeddings: boolean;
  ropeTheta?: number;
  /** Llama 3.1 rope scaling, in config.json's field names. */
  ropeScaling?: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number } | null;
  attentionBias?: boolean;
  mlpBias?: boolean;
  rmsNormEps?: number;
  dtype: 'f32' | 'bf16' | 'f16';
  seed?: number;
  /**
   * Holds a Hugging Face tokenizer.json (+ tokenizer_config.json), e.g. Llama 3's or Qwen3's, or
   * GPT-2's vocab.json + merges.txt; default: synthetic.ts's stand-in vocabulary.
   */
  tokenizerDir?: string;
  /** GPT-2-like activation outlier channels (synthetic-outliers.ts); default none. */
  outliers?: OutlierSpec;
}

const MODEL_TYPES: Record<LlamaArchitecture, string> = { LlamaForCausalLM: 'llama', Qwen2ForCausalLM: 'qwen2', Qwen3ForCausalLM: 'qwen3' };

/** The config.json a spec describes. */
export function llamaSyntheticConfig(spec: LlamaSyntheticSpec): Record<string, unknown> {
  const vocab = spec.vocabSize ?? GPT2_VOCAB_SIZE;
  return {
    architectures: [spec.architecture],
    model_type: MODEL_TYPES[spec.architecture],
    vocab_size: vocab,
    max_position_embeddings: spec.nPositions,
    hidden_size: spec.nEmbd,
    num_hidden_layers: spec.nLayer,
    num_attention_heads: spec.nHead,
    num_key_value_heads: spec.nKvHead,
    head_dim: spec.headDim ?? spec.nEmbd / spec.nHead,
    intermediate_size: spec.nInner,
    hidden_act: 'silu',
    rms_norm_eps: spec.rmsNormEps ?? 1e-6,
    rope_theta: spec.ropeTheta ?? 10000,
    rope_scaling: spec.ropeScaling ? { rope_type: 'llama3', ...spec.ropeScaling } : null,
    attention_bias: spec.attentionBias ?? false,
    mlp_bias: spec.mlpBias ?? false,
    tie_word_embeddings: spec.tieWordEmbeddings,
    use_sliding_window: false,
    bos_token_id: vocab - 1,
    eos_token_id: vocab - 1,
    torch_dtype: FORMATS[spec.dtype].torch,
  };
}

/**
 * Writes config.json, model.safetensors and the tokenizer files of `tokenizerDir` (tokenizer.json and
 * tokenizer_config.json, or GPT-2's vocab.json + merges.txt; default: the stand-in vocabulary of
 * synthetic.ts) into `dir`.
 */
export function writeLlamaSyntheticCheckpoint(dir: string, spec: LlamaSyntheticSpec): void {
  const config = llamaSyntheticConfig(spec);
  const parsed = parseLlamaConfig(config, spec.architecture, 'synthetic spec');
  const seed = spec.seed ?? 0;
  const format = FORMATS[spec.dtype];
  if (!format) throw new Error(`synthetic checkpoint: dtype must be f32, bf16 or f16, got ${String(spec.dtype)}`);
  const hfTokenizer = spec.tokenizerDir !== undefined && existsSync(join(spec.tokenizerDir, 'tokenizer.json'));
  const tokenizer = spec.tokenizerDir === undefined || hfTokenizer ? null : findTokenizerFiles(spec.tokenizerDir);
  mkdirSync(dir, { recursive: true });
  writeSyntheticTensors(dir, [...llamaTensorShapes(parsed)].map(([name, shape]) => ({ name, shape })), spec.dtype, seed, spec.outliers && { ...spec.outliers, width: spec.nEmbd });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  if (hfTokenizer) {
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
      const from = join(spec.tokenizerDir as string, file);
      if (existsSync(from)) linkOrCopy(from, join(dir, file));
    }
  } else if (tokenizer) {
    linkOrCopy(tokenizer.vocab, join(dir, 'vocab.json'));
    linkOrCopy(tokenizer.merges, join(dir, 'merges.txt'));
  } else {
    writeStandInVocabulary(dir, config.vocab_size as number);
  }
}
