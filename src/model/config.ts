import { LLAMA_ARCHITECTURES, parseLlamaConfig, type LlamaArchitecture, type LlamaConfig } from './llama-config.js';

export type { LlamaConfig } from './llama-config.js';

/** GPT-2 hyper-parameters, read from a Hugging Face config.json. */
export interface GPT2Config {
  readonly modelType: string;
  readonly vocabSize: number;
  readonly nPositions: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  /** `n_inner`, or 4 * nEmbd when null. */
  readonly nInner: number;
  readonly layerNormEpsilon: number;
  readonly activation: string;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  /** `torch_dtype` from config.json, if present. */
  readonly torchDtype: string | null;
}

/**
 * Activations we implement. Both names are the tanh approximation of GELU (HF's `gelu_new` and
 * PyTorch's `gelu(approximate='tanh')`), so both are normalised to `gelu_new`.
 */
const TANH_GELU_NAMES = new Set(['gelu_new', 'gelu_pytorch_tanh']);

type Json = Record<string, unknown>;

/** Any supported model's hyper-parameters; Llama-family configs carry `family: 'llama'`. */
export type ModelConfig = GPT2Config | LlamaConfig;

export function isLlamaConfig(c: ModelConfig): c is LlamaConfig {
  return (c as Partial<LlamaConfig>).family === 'llama';
}

/** K/V heads (GPT-2: one per query head). */
export function kvHeads(c: ModelConfig): number {
  return isLlamaConfig(c) ? c.nKvHead : c.nHead;
}

export function headDim(c: ModelConfig): number {
  return isLlamaConfig(c) ? c.headDim : c.nEmbd / c.nHead;
}

/** The Hugging Face class name the config describes. */
export function architectureOf(c: ModelConfig): string {
  return isLlamaConfig(c) ? c.architecture : 'GPT2LMHeadModel';
}

const SUPPORTED = ['GPT2LMHeadModel', ...LLAMA_ARCHITECTURES];
const MODEL_TYPES: Record<string, string> = { gpt2: 'GPT2LMHeadModel', llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };

/**
 * Parses and validates a Hugging Face `config.json`, choosing the model from `architectures`
 * (or `model_type` when that is absent); `file` is used in error messages.
 */
export function parseConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${file}: expected a JSON object, got ${describe(json)}`);
  }
  const obj = json as Json;
  let arch: unknown;
  if (obj.architectures !== undefined && obj.architectures !== null) {
    const list = obj.architectures;
    if (!Array.isArray(list) || list.length === 0 || typeof list[0] !== 'string') {
      throw new Error(`${file}: field "architectures" must be a non-empty list of class names, got ${describe(list)}`);
    }
    arch = list[0];
    if (!SUPPORTED.includes(arch as string)) {
      throw new Error(`${file}: architecture "${String(arch)}" is not supported (supported: ${SUPPORTED.join(', ')})`);
    }
  } else if (typeof obj.model_type === 'string' && obj.model_type in MODEL_TYPES) {
    arch = MODEL_TYPES[obj.model_type];
  }
  if (arch !== undefined && arch !== 'GPT2LMHeadModel') return parseLlamaConfig(obj, arch as LlamaArchitecture, file);
  return parseGPT2Config(obj, file);
}

function parseGPT2Config(obj: Json, file: string): GPT2Config {
  const fail = (field: string, why: string): never => {
    throw new Error(`${file}: field "${field}" ${why}`);
  };

  const modelType = obj.model_type;
  if (modelType !== 'gpt2') {
    fail('model_type', `must be "gpt2", got ${describe(modelType)} (or set "architectures" to one of ${SUPPORTED.join(', ')})`);
  }

  const vocabSize = positiveInt(obj, 'vocab_size', fail);
  // Old configs name the context length n_ctx; current ones n_positions.
  const nPositions = 'n_positions' in obj ? positiveInt(obj, 'n_positions', fail) : positiveInt(obj, 'n_ctx', fail);
  const nEmbd = positiveInt(obj, 'n_embd', fail);
  const nLayer = positiveInt(obj, 'n_layer', fail);
  const nHead = positiveInt(obj, 'n_head', fail);
  if (nEmbd % nHead !== 0) fail('n_embd', `(${nEmbd}) must be divisible by n_head (${nHead})`);
  const nInner = obj.n_inner === null || obj.n_inner === undefined ? 4 * nEmbd : positiveInt(obj, 'n_inner', fail);

  // Defaults below are those of transformers' GPT2Config, used when a field is absent.
  const eps = obj.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    fail('layer_norm_epsilon', `must be a positive number, got ${describe(eps)}`);
  }
  const act = obj.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !TANH_GELU_NAMES.has(act)) {
    fail('activation_function', `must be "gelu_new" or "gelu_pytorch_tanh", got ${describe(act)}`);
  }
  const bosTokenId = tokenId(obj, 'bos_token_id', vocabSize, fail);
  const eosTokenId = tokenId(obj, 'eos_token_id', vocabSize, fail);

  // The LM head is always read from wte, so an untied head would be silently ignored.
  if (obj.tie_word_embeddings === false) fail('tie_word_embeddings', 'is false: models with an untied LM head are not supported');

  // transformers >= 4.56 writes `dtype`; older versions `torch_dtype`.
  const dtype = obj.torch_dtype ?? obj.dtype ?? null;
  if (dtype !== null && typeof dtype !== 'string') fail('torch_dtype', `must be a string, got ${describe(dtype)}`);

  return {
    modelType: 'gpt2',
    vocabSize,
    nPositions,
    nEmbd,
    nLayer,
    nHead,
    nInner,
    layerNormEpsilon: eps as number,
    activation: 'gelu_new',
    bosTokenId,
    eosTokenId,
    torchDtype: dtype as string | null,
  };
}

function positiveInt(obj: Json, field: string, fail: (f: string, why: string) => never): number {
  const v = obj[field];
  if (v === undefined) fail(field, 'is missing');
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    fail(field, `must be a positive integer, got ${describe(v)}`);
  }
  return v as number;
}

function tokenId(obj: Json, field: string, vocabSize: number, fail: (f: string, why: string) => never): number {
  // transformers defaults to 50256, GPT-2's <|endoftext|>: its last token, hence the clamp for small vocabularies.
  const v = obj[field] ?? Math.min(50256, vocabSize - 1);
  // Some configs list several ids; the first is the primary one.
  const id = Array.isArray(v) ? v[0] : v;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
    fail(field, `must be a token id in [0, ${vocabSize}), got ${describe(v)}`);
  }
  return id as number;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
