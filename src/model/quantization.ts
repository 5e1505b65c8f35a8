/**
 * What the weight loaders need to quantize a model: the scheme, whether the lm_head joins in, the
 * SmoothQuant strength for 'int8' (W8A8), and calibration statistics: 'int8' smooths with their
 * maxima (smoothquant.ts), the weight-only schemes search per-channel scales against their RMS
 * (weight-scales.ts).
 */
import { QUANTIZATIONS, type DType, type Quantization } from '../kernels/backend.js';

/** One norm's output over the calibration text, per hidden channel. */
export interface ChannelStats {
  /** max |x|. */
  readonly max: Float32Array;
  /** sqrt(mean x^2). */
  readonly rms: Float32Array;
}

/** Statistics at each norm output, measured by calibrate.ts. */
export interface ActivationStats {
  /** Per layer: the input of the attention projection (after the first norm) and of the MLP (after the second). */
  readonly layers: readonly { readonly attnIn: ChannelStats; readonly mlpIn: ChannelStats }[];
  /** After the final norm: the lm_head's input. */
  readonly final: ChannelStats;
}

/** How one quantized matrix after a norm was rescaled per input channel (the model reports these). */
export interface InputScaling {
  /** The matrix, by its (first) checkpoint tensor name. */
  readonly matrix: string;
  /** SmoothQuant (int8) or the activation-aware search (int8-wo, q4). */
  readonly method: 'smoothquant' | 'activation-aware';
  /** The exponent; 0 when the search kept the matrix as stored. */
  readonly alpha: number;
}

export interface WeightQuantization {
  readonly scheme: Quantization;
  /** Quantize the lm_head too; by default it stays bf16 (f16 when the model computes in f16). */
  readonly lmHead: boolean;
  /** SmoothQuant migration strength for 'int8'; null turns smoothing off. */
  readonly alpha: number | null;
  /** Calibration statistics; null quantizes the checkpoint's weights as they are. */
  readonly stats: ActivationStats | null;
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
