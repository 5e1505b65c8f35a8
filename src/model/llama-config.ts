/**
 * Llama-family hyper-parameters (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM), read from a
 * Hugging Face config.json. Anything that would change the math without us implementing it (another
 * rope_scaling type, a sliding window, another activation) is an error, never silently ignored.
 */

export const LLAMA_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'] as const;
export type LlamaArchitecture = (typeof LLAMA_ARCHITECTURES)[number];

/** Llama 3.1's frequency-dependent rotary rescaling (HF `_compute_llama3_parameters`). */
export interface Llama3RopeScaling {
  readonly type: 'llama3';
  readonly factor: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly originalMaxPositionEmbeddings: number;
}

export interface LlamaConfig {
  readonly family: 'llama';
  readonly architecture: LlamaArchitecture;
  readonly modelType: string;
  readonly vocabSize: number;
  /** `max_position_embeddings`. */
  readonly nPositions: number;
  /** `hidden_size`. */
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  /** `num_key_value_heads`: K/V heads, each shared by nHead / nKvHead query heads. */
  readonly nKvHead: number;
  readonly headDim: number;
  /** `intermediate_size`. */
  readonly nInner: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: Llama3RopeScaling | null;
  readonly tieWordEmbeddings: boolean;
  /** Biases on q/k/v (Qwen2 always; `attention_bias` also on o_proj for Llama). */
  readonly qkvBias: boolean;
  readonly oBias: boolean;
  readonly mlpBias: boolean;
  /** Qwen3: per-head RMSNorm on q and k before rotary. */
  readonly qkNorm: boolean;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly torchDtype: string | null;
}

type Json = Record<string, unknown>;
type Fail = (field: string, why: string) => never;

export function parseLlamaConfig(obj: Json, arch: LlamaArchitecture, file: string): LlamaConfig {
  const fail: Fail = (field, why) => {
    throw new Error(`${file}: field "${field}" ${why}`);
  };
  const vocabSize = positiveInt(obj, 'vocab_size', fail);
  const nPositions = positiveInt(obj, 'max_position_embeddings', fail);
  const nEmbd = positiveInt(obj, 'hidden_size', fail);
  const nLayer = positiveInt(obj, 'num_hidden_layers', fail);
  const nHead = positiveInt(obj, 'num_attention_heads', fail);
  const nKvHead = obj.num_key_value_heads == null ? nHead : positiveInt(obj, 'num_key_value_heads', fail);
  if (nHead % nKvHead !== 0) fail('num_key_value_heads', `(${nKvHead}) must divide num_attention_heads (${nHead})`);
  const nInner = positiveInt(obj, 'intermediate_size', fail);
  // Qwen3Config defaults head_dim to 128; Llama and Qwen2 derive it.
  let headDim: number;
  if (obj.head_dim != null) headDim = positiveInt(obj, 'head_dim', fail);
  else if (arch === 'Qwen3ForCausalLM') headDim = 128;
  else {
    if (nEmbd % nHead !== 0) fail('hidden_size', `(${nEmbd}) must be divisible by num_attention_heads (${nHead}) when head_dim is not set`);
    headDim = nEmbd / nHead;
  }
  if (headDim % 2 !== 0) fail('head_dim', `must be even for rotary embeddings, got ${headDim}`);

  const act = obj.hidden_act ?? 'silu';
  if (act !== 'silu') fail('hidden_act', `must be "silu", got ${describe(act)}`);
  const rmsNormEps = positiveNumber(obj, 'rms_norm_eps', 1e-6, fail);
  // transformers >= 5 nests rope settings in `rope_parameters`; earlier versions use rope_theta + rope_scaling.
  const ropeParams = obj.rope_parameters;
  const ropeObj: Json | null = isObject(ropeParams) ? ropeParams : isObject(obj.rope_scaling) ? obj.rope_scaling : null;
  if (obj.rope_scaling != null && !isObject(obj.rope_scaling)) fail('rope_scaling', `must be an object or null, got ${describe(obj.rope_scaling)}`);
  const ropeTheta = isObject(ropeParams) && ropeParams.rope_theta !== undefined
    ? positiveNumber(ropeParams, 'rope_theta', 10000, (f, why) => fail(`rope_parameters.${f}`, why))
    : positiveNumber(obj, 'rope_theta', 10000, fail);
  const ropeScaling = ropeObj === null ? null : parseRopeScaling(ropeObj, fail);
  checkNoSlidingWindow(obj, arch, fail);

  const attentionBias = bool(obj, 'attention_bias', false, fail);
  const mlpBias = bool(obj, 'mlp_bias', false, fail);
  const eos = tokenId(obj, 'eos_token_id', vocabSize, fail);
  const bos = obj.bos_token_id == null ? eos : tokenId(obj, 'bos_token_id', vocabSize, fail);
  const dtype = obj.torch_dtype ?? obj.dtype ?? null;
  if (dtype !== null && typeof dtype !== 'string') fail('torch_dtype', `must be a string, got ${describe(dtype)}`);
  return {
    family: 'llama',
    architecture: arch,
    modelType: typeof obj.model_type === 'string' ? obj.model_type : arch,
    vocabSize,
    nPositions,
    nEmbd,
    nLayer,
    nHead,
    nKvHead,
    headDim,
    nInner,
    rmsNormEps,
    ropeTheta,
    ropeScaling,
    tieWordEmbeddings: bool(obj, 'tie_word_embeddings', false, fail),
    qkvBias: arch === 'Qwen2ForCausalLM' || attentionBias,
    // Qwen2's o_proj never has a bias; Llama's and Qwen3's follow attention_bias.
    oBias: arch !== 'Qwen2ForCausalLM' && attentionBias,
    mlpBias: arch === 'LlamaForCausalLM' && mlpBias,
    qkNorm: arch === 'Qwen3ForCausalLM',
    bosTokenId: bos,
    eosTokenId: eos,
    torchDtype: dtype as string | null,
  };
}

function parseRopeScaling(r: Json, fail: Fail): Llama3RopeScaling | null {
  const type = r.rope_type ?? r.type ?? 'default';
  if (type === 'default') return null;
  if (type !== 'llama3') {
    fail('rope_scaling', `type ${describe(type)} is not supported (supported: default, llama3)`);
  }
  const sub: Fail = (f, why) => fail(`rope_scaling.${f}`, why);
  const scaling: Llama3RopeScaling = {
    type: 'llama3',
    factor: positiveNumber(r, 'factor', undefined, sub),
    lowFreqFactor: positiveNumber(r, 'low_freq_factor', undefined, sub),
    highFreqFactor: positiveNumber(r, 'high_freq_factor', undefined, sub),
    originalMaxPositionEmbeddings: positiveInt(r, 'original_max_position_embeddings', sub),
  };
  if (!(scaling.highFreqFactor > scaling.lowFreqFactor)) sub('high_freq_factor', `must exceed low_freq_factor (${scaling.lowFreqFactor})`);
  return scaling;
}

/** Qwen configs carry `sliding_window` but only use it with `use_sliding_window: true`. */
function checkNoSlidingWindow(obj: Json, arch: LlamaArchitecture, fail: Fail): void {
  if (arch === 'LlamaForCausalLM') {
    if (obj.sliding_window != null) fail('sliding_window', `is ${describe(obj.sliding_window)}: sliding-window attention is not supported`);
    return;
  }
  if (obj.use_sliding_window === true) fail('use_sliding_window', 'is true: sliding-window attention is not supported');
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function positiveInt(obj: Json, field: string, fail: Fail): number {
  const v = obj[field];
  if (v === undefined) fail(field, 'is missing');
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(field, `must be a positive integer, got ${describe(v)}`);
  return v as number;
}

function positiveNumber(obj: Json, field: string, dflt: number | undefined, fail: Fail): number {
  const v = obj[field] ?? dflt;
  if (v === undefined) fail(field, 'is missing');
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(field, `must be a positive number, got ${describe(v)}`);
  return v as number;
}

function bool(obj: Json, field: string, dflt: boolean, fail: Fail): boolean {
  const v = obj[field] ?? dflt;
  if (typeof v !== 'boolean') fail(field, `must be true or false, got ${describe(v)}`);
  return v as boolean;
}

function tokenId(obj: Json, field: string, vocabSize: number, fail: Fail): number {
  const v = obj[field];
  if (v == null) fail(field, 'is missing');
  // Lists (Llama 3's several end tokens) keep their first as the primary id.
  const id = Array.isArray(v) ? v[0] : v;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
    fail(field, `must be a token id in [0, ${vocabSize}), got ${describe(v)}`);
  }
  return id as number;
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
