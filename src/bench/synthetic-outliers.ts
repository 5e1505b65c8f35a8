/**
 * GPT-2-like activation outliers for synthetic checkpoints: a few hidden channels whose norm
 * outputs are 20-100x the rest, as trained GPT-2 and OPT models have (the case SmoothQuant exists
 * for). The norm's gamma and beta are multiplied by a power-of-two factor F in those channels and
 * the matching input rows of the matmul after the norm are divided by F, so the model computes the
 * same function in exact arithmetic (the values stay exact in f32 and bf16: F is a power of two)
 * while its activations carry the outliers. The final norm is left alone: GPT-2's lm_head is tied
 * to the embedding, which must not change.
 *
 * The price of keeping the function: those weight rows are F times smaller than the rest of their
 * column, so per-column weight quantization (int8-wo, q4) as stored loses most of their precision
 * too; the activation-aware scales (model/weight-scales.ts) win it back, and the accuracy bench
 * shows both (docs/benchmarks.md).
 */

export interface OutlierSpec {
  /** How many hidden channels carry outliers (spread evenly over the width). */
  channels: number;
  /** Their factor, a power of two between 2 and 2^10 (default 64). */
  factor?: number;
}

/** The channels of a `width`-wide hidden state that carry outliers. */
export function outlierChannels(width: number, spec: OutlierSpec): number[] {
  if (!Number.isInteger(spec.channels) || spec.channels < 1 || spec.channels > width) {
    throw new Error(`synthetic outliers: channels must be an integer in 1..${width}, got ${spec.channels}`);
  }
  return Array.from({ length: spec.channels }, (_, i) => Math.floor(((i + 0.5) * width) / spec.channels));
}

export function outlierFactor(spec: OutlierSpec): number {
  const f = spec.factor ?? 64;
  if (!(Number.isInteger(Math.log2(f)) && f >= 2 && f <= 1024)) throw new Error(`synthetic outliers: factor must be a power of two in 2..1024, got ${f}`);
  return f;
}

/** Norms whose outputs get outliers, and the matmuls after them with their input axis. */
const GPT2_NORM = /^h\.\d+\.ln_[12]\.(weight|bias)$/;
const GPT2_AFTER = /^h\.\d+\.(attn\.c_attn|mlp\.c_fc)\.weight$/; // Conv1D [in, out]: input = row
const LLAMA_NORM = /^model\.layers\.\d+\.(input_layernorm|post_attention_layernorm)\.weight$/;
const LLAMA_AFTER = /^model\.layers\.\d+\.(self_attn\.[qkv]_proj|mlp\.gate_proj|mlp\.up_proj)\.weight$/; // Linear [out, in]: input = column

/**
 * Applies the outliers to one tensor's values in place (a no-op for tensors they do not touch).
 * `width` is the hidden size.
 */
export function applyOutliers(name: string, shape: readonly number[], values: Float32Array, width: number, spec: OutlierSpec): void {
  const channels = outlierChannels(width, spec);
  const f = outlierFactor(spec);
  if (GPT2_NORM.test(name) || LLAMA_NORM.test(name)) {
    for (const j of channels) values[j] *= f;
  } else if (GPT2_AFTER.test(name)) {
    const n = shape[1]!;
    for (const j of channels) for (let c = j * n; c < (j + 1) * n; c++) values[c] /= f;
  } else if (LLAMA_AFTER.test(name)) {
    const [rows, k] = shape as [number, number];
    for (let r = 0; r < rows; r++) for (const j of channels) values[r * k + j] /= f;
  }
}
