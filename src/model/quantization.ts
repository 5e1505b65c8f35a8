/**
 * What the weight loaders need to quantize a model: the scheme, whether the lm_head joins in, and
 * for 'int8' (W8A8) the SmoothQuant settings and calibration maxima (see smoothquant.ts).
 */
import { QUANTIZATIONS, type DType, type Quantization } from '../kernels/backend.js';

/** Per-channel max |activation| at each norm output, measured by calibrate.ts. */
export interface ActivationMaxima {
  /** Per layer: the input of the attention projection (after the first norm) and of the MLP (after the second). */
  readonly layers: readonly { readonly attnIn: Float32Array; readonly mlpIn: Float32Array }[];
  /** After the final norm: the lm_head's input. */
  readonly final: Float32Array;
}

export interface WeightQuantization {
  readonly scheme: Quantization;
  /** Quantize the lm_head too; by default it stays bf16 (f16 when the model computes in f16). */
  readonly lmHead: boolean;
  /** SmoothQuant migration strength for 'int8'; null turns smoothing off. */
  readonly alpha: number | null;
  /** Calibration maxima for smoothing ('int8' with alpha only). */
  readonly maxima: ActivationMaxima | null;
}

/** SmoothQuant's migration strength: half of each channel's range moves into the weights. */
export const DEFAULT_SMOOTHQUANT_ALPHA = 0.5;

/** Checks a user-given scheme, naming the choices; undefined, null and 'none' mean unquantized. */
export function parseQuantization(v: unknown, what = 'quantization'): Quantization | null {
  if (v === undefined || v === null || v === 'none') return null;
  if (typeof v !== 'string' || !(QUANTIZATIONS as readonly string[]).includes(v)) {
    throw new Error(`${what}: unknown scheme ${JSON.stringify(v)} (choices: ${QUANTIZATIONS.join(', ')}, or none)`);
  }
  return v as Quantization;
}

/** Checks a SmoothQuant alpha: a number in [0, 1], or null (off). */
export function parseSmoothQuantAlpha(v: unknown, what = 'smoothQuantAlpha'): number | null {
  if (v === undefined) return DEFAULT_SMOOTHQUANT_ALPHA;
  if (v === null) return null;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${what}: expected a number in [0, 1] or null, got ${String(v)}`);
  return v;
}

/** The precision an unquantized lm_head is kept in beside quantized layers. */
export function lmHeadDType(dtype: DType): DType {
  return dtype === 'f16' ? 'f16' : 'bf16';
}
