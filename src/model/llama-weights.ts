/**
 * Llama-family weights prepared for a backend. q/k/v become one `[q | k | v]` matrix and gate/up
 * one `[gate | up]` matrix (concatenated along the output rows of the `[out, in]` Linear layout),
 * so each layer runs three input GEMMs fewer.
 */
import type { Backend, DType, Matrix, RawTensor } from '../kernels/backend.js';
import { toF32 } from '../kernels/half.js';
import type { LlamaConfig } from './llama-config.js';
import type { Checkpoint, Tensor } from '../checkpoint/tensor.js';
import { tensor } from './weights.js';

export interface LlamaLayerWeights {
  readonly inputNorm: Float32Array;
  readonly qkv: Matrix;
  readonly qkvBias: Float32Array | null;
  readonly qNorm: Float32Array | null;
  readonly kNorm: Float32Array | null;
  readonly o: Matrix;
  readonly oBias: Float32Array | null;
  readonly postNorm: Float32Array;
  readonly gateUp: Matrix;
  readonly gateUpBias: Float32Array | null;
  readonly down: Matrix;
  readonly downBias: Float32Array | null;
}

export interface LlamaWeights {
  /** f32 copy for the embedding gather. */
  readonly embed: Float32Array;
  readonly layers: readonly LlamaLayerWeights[];
  readonly norm: Float32Array;
  readonly lmHead: Matrix;
  readonly numParams: number;
  readonly bytes: number;
}

/** Row-major concatenation (along the first axis) of same-width tensors, kept in their dtype when they share one. */
function concatRows(parts: readonly Tensor[]): RawTensor {
  const dtype = parts.every((p) => p.dtype === parts[0].dtype) ? parts[0].dtype : 'f32';
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const data = dtype === 'f32' ? new Float32Array(total) : new Uint16Array(total);
  let at = 0;
  for (const p of parts) {
    const src = dtype === 'f32' ? toF32(p) : p.data;
    data.set(src, at);
    at += src.length;
  }
  return { dtype, data };
}

export function prepareLlamaWeights(ckpt: Checkpoint, cfg: LlamaConfig, backend: Backend, dtype: DType): LlamaWeights {
  const { nEmbd: C, nInner: I, headDim: D, vocabSize: V } = cfg;
  const q = cfg.nHead * D;
  const kv = cfg.nKvHead * D;
  let numParams = 0;
  let bytes = 0;

  const vector = (name: string, n: number): Float32Array => {
    const v = toF32(tensor(ckpt, name, [n]));
    numParams += n;
    bytes += v.byteLength;
    return v;
  };
  const vectors = (names: readonly string[], sizes: readonly number[]): Float32Array => {
    const parts = names.map((n, i) => vector(n, sizes[i]));
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  /** Linear weights `[out_i, in]` stacked into one `[sum out_i, in]` matrix. */
  const linear = (names: readonly string[], outs: readonly number[], k: number): Matrix => {
    const parts = names.map((n, i) => tensor(ckpt, n, [outs[i], k]));
    const n = outs.reduce((a, b) => a + b, 0);
    const m = backend.prepareMatrix(parts.length === 1 ? parts[0] : concatRows(parts), k, n, 'nk', dtype);
    numParams += k * n;
    bytes += m.bytes;
    return m;
  };

  const embedT = tensor(ckpt, 'model.embed_tokens.weight', [V, C]);
  const embed = toF32(embedT);
  numParams += embed.length;
  bytes += embed.byteLength;

  const layers: LlamaLayerWeights[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const a = `model.layers.${l}.self_attn`;
    const m = `model.layers.${l}.mlp`;
    const qkvNames = ['q_proj', 'k_proj', 'v_proj'].map((p) => `${a}.${p}`);
    const gu = [`${m}.gate_proj`, `${m}.up_proj`];
    layers.push({
      inputNorm: vector(`model.layers.${l}.input_layernorm.weight`, C),
      qkv: linear(qkvNames.map((p) => `${p}.weight`), [q, kv, kv], C),
      qkvBias: cfg.qkvBias ? vectors(qkvNames.map((p) => `${p}.bias`), [q, kv, kv]) : null,
      qNorm: cfg.qkNorm ? vector(`${a}.q_norm.weight`, D) : null,
      kNorm: cfg.qkNorm ? vector(`${a}.k_norm.weight`, D) : null,
      o: linear([`${a}.o_proj.weight`], [C], q),
      oBias: cfg.oBias ? vector(`${a}.o_proj.bias`, C) : null,
      postNorm: vector(`model.layers.${l}.post_attention_layernorm.weight`, C),
      gateUp: linear(gu.map((p) => `${p}.weight`), [I, I], C),
      gateUpBias: cfg.mlpBias ? vectors(gu.map((p) => `${p}.bias`), [I, I]) : null,
      down: linear([`${m}.down_proj.weight`], [C], I),
      downBias: cfg.mlpBias ? vector(`${m}.down_proj.bias`, C) : null,
    });
  }
  const norm = vector('model.norm.weight', C);
  let lmHead: Matrix;
  if (cfg.tieWordEmbeddings) {
    lmHead = backend.prepareMatrix(embedT, C, V, 'nk', dtype);
    bytes += lmHead.bytes;
  } else {
    lmHead = linear(['lm_head.weight'], [V], C);
  }
  return { embed, layers, norm, lmHead, numParams, bytes };
}
