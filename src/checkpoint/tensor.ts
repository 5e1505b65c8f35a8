import type { DType } from '../kernels/backend.js';

/**
 * One tensor of a checkpoint. F16/BF16 data are raw bits. A loaded checkpoint's tensors read `data`
 * from disk on each access, uncached, so only the tensor being prepared is resident: read it once
 * (or through `resident`) where it is used more than once.
 */
export interface Tensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Uint16Array;
  /** The file it came from, for error messages. */
  readonly file: string;
}

/** A checkpoint directory after loading and validation. */
export interface Checkpoint {
  readonly dir: string;
  readonly config: import('../model/config.js').ModelConfig;
  /** Tensors keyed by canonical name: GPT-2's without any `transformer.` prefix (`h.0.attn.c_attn.weight`), Hugging Face's for Llama (`model.layers.0.self_attn.q_proj.weight`). */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** The dtype most weights are stored in. */
  readonly dtype: DType;
}

/** A copy of `t` whose data is read once and held, for code that touches `data` repeatedly. */
export function resident(t: Tensor): Tensor {
  return { name: t.name, dtype: t.dtype, shape: t.shape, data: t.data, file: t.file };
}
