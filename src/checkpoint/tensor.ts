import type { DType } from '../kernels/backend.js';

/** One tensor read from a checkpoint. F16/BF16 data are raw bits. */
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
  readonly config: import('../model/config.js').GPT2Config;
  /** Tensors keyed by canonical GPT-2 name without any `transformer.` prefix, e.g. `h.0.attn.c_attn.weight`. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** The dtype most weights are stored in. */
  readonly dtype: DType;
}
