/**
 * GPT-2 weights prepared for a backend: every matmul weight becomes a backend `Matrix`
 * (converted to the compute dtype once), vectors and the embedding tables become f32.
 */
import type { Backend, DType, Matrix } from '../kernels/backend.js';
import { toF32 } from '../kernels/half.js';
import type { GPT2Config } from './config.js';
import type { Checkpoint, Tensor } from '../checkpoint/tensor.js';

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
  /** f32 copies for the embedding gather. */
  readonly wte: Float32Array;
  readonly wpe: Float32Array;
  readonly layers: readonly LayerWeights[];
  readonly lnF: { readonly gamma: Float32Array; readonly beta: Float32Array };
  /** The output projection: the tied wte, `[vocab, nEmbd]` in 'nk' layout. */
  readonly lmHead: Matrix;
  /** Parameters of the model (the tied lm_head is not counted twice). */
  readonly numParams: number;
  /** Bytes held by prepared matrices, embedding tables and vectors. */
  readonly bytes: number;
}

/** Fetches a tensor and checks its shape, naming both in any error. */
export function tensor(ckpt: Checkpoint, name: string, shape: readonly number[]): Tensor {
  const t = ckpt.tensors.get(name);
  if (!t) throw new Error(`checkpoint ${ckpt.dir} is missing tensor '${name}'`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`tensor '${name}' in ${t.file} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

export function prepareWeights(ckpt: Checkpoint, cfg: GPT2Config, backend: Backend, dtype: DType): GPT2Weights {
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
  const matrix = (name: string, k: number, n: number, layout: 'kn' | 'nk'): Matrix => {
    const t = tensor(ckpt, name, layout === 'kn' ? [k, n] : [n, k]);
    const m = backend.prepareMatrix(t, k, n, layout, dtype);
    numParams += k * n;
    bytes += m.bytes;
    return m;
  };
  const norm = (prefix: string) => ({ gamma: vector(`${prefix}.weight`, C), beta: vector(`${prefix}.bias`, C) });

  const wteT = tensor(ckpt, 'wte.weight', [cfg.vocabSize, C]);
  const wpeT = tensor(ckpt, 'wpe.weight', [cfg.nPositions, C]);
  const wte = toF32(wteT);
  const wpe = toF32(wpeT);
  numParams += wte.length + wpe.length;
  bytes += wte.byteLength + wpe.byteLength;

  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}`;
    layers.push({
      ln1: norm(`${p}.ln_1`),
      cAttn: matrix(`${p}.attn.c_attn.weight`, C, 3 * C, 'kn'),
      cAttnBias: vector(`${p}.attn.c_attn.bias`, 3 * C),
      attnProj: matrix(`${p}.attn.c_proj.weight`, C, C, 'kn'),
      attnProjBias: vector(`${p}.attn.c_proj.bias`, C),
      ln2: norm(`${p}.ln_2`),
      cFc: matrix(`${p}.mlp.c_fc.weight`, C, I, 'kn'),
      cFcBias: vector(`${p}.mlp.c_fc.bias`, I),
      mlpProj: matrix(`${p}.mlp.c_proj.weight`, I, C, 'kn'),
      mlpProjBias: vector(`${p}.mlp.c_proj.bias`, C),
    });
  }
  const lnF = norm('ln_f');

  // GPT-2 ties lm_head to wte (as Hugging Face does, any stored `lm_head.weight` is ignored).
  const lmHead = backend.prepareMatrix(wteT, C, cfg.vocabSize, 'nk', dtype);
  bytes += lmHead.bytes;
  return { wte, wpe, layers, lnF, lmHead, numParams, bytes };
}
