/**
 * GPT-2 weights prepared for a backend: every matmul weight becomes a backend `Matrix`
 * (converted to the compute dtype once), vectors become f32, and the embedding tables stay in the
 * checkpoint's dtype (see `embeddingTable`).
 */
import type { Backend, DType, Matrix, RawTensor } from '../kernels/backend.js';
import { toF32 } from '../kernels/half.js';
import type { GPT2Config } from './config.js';
import { resident, type Checkpoint, type Tensor } from '../checkpoint/tensor.js';
import { lmHeadDType, type ChannelStats, type InputScaling, type WeightQuantization } from './quantization.js';
import { divideBy, prepareSmoothed } from './smoothquant.js';

export interface LayerWeights {
  readonly ln1: { readonly gamma: Float32Array; readonly beta: Float32Array };
  readonly cAttn: Matrix;
  readonly cAttnBias: Float32Array;
  readonly attnProj: Matrix;
  readonly attnProjBias: Float32Array;
  readonly ln2: { readonly gamma: Float32Array; readonly beta: Float32Array };
  readonly cFc: Matrix;
  readonly cFcBias: Float32Array;
  readonly mlpProj: Matrix;
  readonly mlpProjBias: Float32Array;
}

export interface GPT2Weights {
  /** The embedding tables in the checkpoint's dtype, widened row by row in `Backend.embed`. */
  readonly wte: RawTensor;
  readonly wpe: RawTensor;
  readonly layers: readonly LayerWeights[];
  readonly lnF: { readonly gamma: Float32Array; readonly beta: Float32Array };
  /** The output projection: the tied wte, `[vocab, nEmbd]` in 'nk' layout; null when no logits are wanted. */
  readonly lmHead: Matrix | null;
  /** Parameters of the model (the tied lm_head is not counted twice). */
  readonly numParams: number;
  /** Bytes held by prepared matrices, embedding tables and vectors. */
  readonly bytes: number;
  /** Bytes of one layer's prepared matrices and vectors (all layers are the same size). */
  readonly layerBytes: number;
  /** How each quantized matrix after a norm was rescaled, in load order (empty without calibration). */
  readonly inputScaling: readonly InputScaling[];
}

/**
 * Fetches a tensor and checks its shape, naming both in any error. Its data is read from disk now and
 * held only as long as the caller holds the result, so prepare it and let it go.
 */
export function tensor(ckpt: Checkpoint, name: string, shape: readonly number[]): Tensor {
  const t = ckpt.tensors.get(name);
  if (!t) throw new Error(`checkpoint ${ckpt.dir} is missing tensor '${name}'`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`tensor '${name}' in ${t.file} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return resident(t);
}

/**
 * An embedding table as stored: f32, or the raw bits of a bf16 / f16 checkpoint. Widening is exact,
 * so keeping the 16-bit form changes no output while holding half the bytes of an f32 copy (GPT-2
 * 124M's wte is 154 MB in f32).
 */
export function embeddingTable(ckpt: Checkpoint, name: string, shape: readonly number[]): RawTensor {
  const t = tensor(ckpt, name, shape);
  return { dtype: t.dtype, data: t.data };
}

/**
 * `quant` (default none) stores every layer matrix in that scheme, and the lm_head too with
 * `quant.lmHead`; with calibration statistics, each quantized matmul that follows a LayerNorm (c_attn
 * after ln_1, c_fc after ln_2, the lm_head after ln_f) is rescaled per input channel (SmoothQuant
 * for 'int8', the searched scales for the weight-only schemes), the factors folded into the norm.
 */
export function prepareWeights(ckpt: Checkpoint, cfg: GPT2Config, backend: Backend, dtype: DType, quant: WeightQuantization | null = null, logits = true): GPT2Weights {
  const C = cfg.nEmbd;
  const I = cfg.nInner;
  let numParams = 0;
  let bytes = 0;

  const vector = (name: string, n: number): Float32Array => {
    const v = toF32(tensor(ckpt, name, [n]));
    numParams += n;
    bytes += v.byteLength;
    return v;
  };
  const matrix = (name: string, k: number, n: number, layout: 'kn' | 'nk', after?: { norm: string; stats?: ChannelStats }): { m: Matrix; ln?: { gamma: Float32Array; beta: Float32Array } } => {
    const t = tensor(ckpt, name, layout === 'kn' ? [k, n] : [n, k]);
    const r = after ? normed(name, after.norm, t, k, n, layout, after.stats) : { m: backend.prepareMatrix(t, k, n, layout, dtype, quant?.scheme ?? null) };
    numParams += k * n;
    bytes += r.m.bytes;
    return r;
  };
  const norm = (prefix: string) => ({ gamma: vector(`${prefix}.weight`, C), beta: vector(`${prefix}.bias`, C) });
  /** A matmul that follows the norm `prefix`: quantized (and rescaled into the norm) when asked. */
  const inputScaling: InputScaling[] = [];
  const normed = (name: string, prefix: string, t: RawTensor, k: number, n: number, layout: 'kn' | 'nk', stats: ChannelStats | undefined) => {
    const ln = norm(prefix);
    if (!quant) return { ln, m: backend.prepareMatrix(t, k, n, layout, dtype) };
    const { m, s, scaling } = prepareSmoothed(backend, t, k, n, layout, quant.scheme, stats ?? null, quant.alpha);
    if (scaling) inputScaling.push({ matrix: name, ...scaling });
    return { ln: s ? { gamma: divideBy(ln.gamma, s), beta: divideBy(ln.beta, s) } : ln, m };
  };

  const wte = embeddingTable(ckpt, 'wte.weight', [cfg.vocabSize, C]);
  const wpe = embeddingTable(ckpt, 'wpe.weight', [cfg.nPositions, C]);
  numParams += wte.data.length + wpe.data.length;
  bytes += wte.data.byteLength + wpe.data.byteLength;

  const layers: LayerWeights[] = [];
  let layerBytes = 0;
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}`;
    const before = bytes;
    const stats = quant?.stats?.layers[l];
    const attn = matrix(`${p}.attn.c_attn.weight`, C, 3 * C, 'kn', { norm: `${p}.ln_1`, stats: stats?.attnIn });
    const fc = matrix(`${p}.mlp.c_fc.weight`, C, I, 'kn', { norm: `${p}.ln_2`, stats: stats?.mlpIn });
    layers.push({
      ln1: attn.ln!,
      cAttn: attn.m,
      cAttnBias: vector(`${p}.attn.c_attn.bias`, 3 * C),
      attnProj: matrix(`${p}.attn.c_proj.weight`, C, C, 'kn').m,
      attnProjBias: vector(`${p}.attn.c_proj.bias`, C),
      ln2: fc.ln!,
      cFc: fc.m,
      cFcBias: vector(`${p}.mlp.c_fc.bias`, I),
      mlpProj: matrix(`${p}.mlp.c_proj.weight`, I, C, 'kn').m,
      mlpProjBias: vector(`${p}.mlp.c_proj.bias`, C),
    });
    layerBytes = bytes - before;
  }

  // GPT-2 ties lm_head to wte (as Hugging Face does, any stored `lm_head.weight` is ignored). Beside
  // quantized layers it stays in half precision unless it is quantized too (then smoothed into ln_f).
  // From the table already held, not a second read of wte.
  let lnF: { gamma: Float32Array; beta: Float32Array };
  let lmHead: Matrix | null = null;
  if (!logits) {
    lnF = norm('ln_f');
  } else if (quant?.lmHead) {
    ({ ln: lnF, m: lmHead } = normed('wte.weight', 'ln_f', wte, C, cfg.vocabSize, 'nk', quant.stats?.final));
  } else {
    lnF = norm('ln_f');
    lmHead = backend.prepareMatrix(wte, C, cfg.vocabSize, 'nk', quant ? lmHeadDType(dtype) : dtype);
  }
  bytes += lmHead?.bytes ?? 0;
  return { wte, wpe, layers, lnF, lmHead, numParams, bytes, layerBytes, inputScaling };
}
