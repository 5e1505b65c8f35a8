/**
 * Llama-family weights prepared for a backend. q/k/v become one `[q | k | v]` matrix and gate/up
 * one `[gate | up]` matrix (concatenated along the output rows of the `[out, in]` Linear layout),
 * so each layer runs three input GEMMs fewer.
 */
import type { Backend, DType, Matrix, RawTensor } from '../kernels/backend.js';
import { toF32 } from '../kernels/half.js';
import type { LlamaConfig } from './llama-config.js';
import type { Checkpoint, Tensor } from '../checkpoint/tensor.js';
import { embeddingTable, tensor } from './weights.js';
import { lmHeadDType, type ChannelStats, type InputScaling, type WeightQuantization } from './quantization.js';
import { divideBy, prepareSmoothed } from './smoothquant.js';

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
  /** The embedding table in the checkpoint's dtype, widened row by row in `Backend.embed`. */
  readonly embed: RawTensor;
  readonly layers: readonly LlamaLayerWeights[];
  readonly norm: Float32Array;
  /** Null when no logits are wanted. */
  readonly lmHead: Matrix | null;
  readonly numParams: number;
  readonly bytes: number;
  /** Bytes of one layer's prepared matrices and vectors. */
  readonly layerBytes: number;
  /** How each quantized matrix after a norm was rescaled, in load order (empty without calibration). */
  readonly inputScaling: readonly InputScaling[];
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

/**
 * `quant` (default none) stores every layer matrix in that scheme, and the lm_head too with
 * `quant.lmHead`; with calibration statistics, qkv (after the input norm), gate_up (after the
 * post-attention norm) and a quantized lm_head (after the final norm) are rescaled per input channel
 * (SmoothQuant for 'int8', the searched scales for the weight-only schemes) into those RMSNorm gammas.
 */
export function prepareLlamaWeights(ckpt: Checkpoint, cfg: LlamaConfig, backend: Backend, dtype: DType, quant: WeightQuantization | null = null, logits = true): LlamaWeights {
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
  /**
   * Linear weights `[out_i, in]` stacked into one `[sum out_i, in]` matrix. With `norm`, the matrix
   * follows that RMSNorm: a rescaled quantized matrix returns the norm's gamma divided by its factors.
   */
  const inputScaling: InputScaling[] = [];
  const linear = (names: readonly string[], outs: readonly number[], k: number, after?: { norm: string; stats?: ChannelStats }): { m: Matrix; gamma?: Float32Array } => {
    const parts = names.map((n, i) => tensor(ckpt, n, [outs[i], k]));
    const n = outs.reduce((a, b) => a + b, 0);
    const w = parts.length === 1 ? parts[0] : concatRows(parts);
    const gamma = after ? vector(after.norm, k) : undefined;
    let m: Matrix;
    let s: Float32Array | null = null;
    if (quant) {
      const r = prepareSmoothed(backend, w, k, n, 'nk', quant.scheme, after?.stats ?? null, quant.alpha);
      ({ m, s } = r);
      if (r.scaling) inputScaling.push({ matrix: names[0]!, ...r.scaling });
    } else {
      m = backend.prepareMatrix(w, k, n, 'nk', dtype);
    }
    numParams += k * n;
    bytes += m.bytes;
    return { m, gamma: gamma && s ? divideBy(gamma, s) : gamma };
  };

  const embed = embeddingTable(ckpt, 'model.embed_tokens.weight', [V, C]);
  numParams += embed.data.length;
  bytes += embed.data.byteLength;

  const layers: LlamaLayerWeights[] = [];
  let layerBytes = 0;
  for (let l = 0; l < cfg.nLayer; l++) {
    const a = `model.layers.${l}.self_attn`;
    const m = `model.layers.${l}.mlp`;
    const qkvNames = ['q_proj', 'k_proj', 'v_proj'].map((p) => `${a}.${p}`);
    const gu = [`${m}.gate_proj`, `${m}.up_proj`];
    const before = bytes;
    const stats = quant?.stats?.layers[l];
    const qkv = linear(qkvNames.map((p) => `${p}.weight`), [q, kv, kv], C, { norm: `model.layers.${l}.input_layernorm.weight`, stats: stats?.attnIn });
    const gateUp = linear(gu.map((p) => `${p}.weight`), [I, I], C, { norm: `model.layers.${l}.post_attention_layernorm.weight`, stats: stats?.mlpIn });
    layers.push({
      inputNorm: qkv.gamma!,
      qkv: qkv.m,
      qkvBias: cfg.qkvBias ? vectors(qkvNames.map((p) => `${p}.bias`), [q, kv, kv]) : null,
      qNorm: cfg.qkNorm ? vector(`${a}.q_norm.weight`, D) : null,
      kNorm: cfg.qkNorm ? vector(`${a}.k_norm.weight`, D) : null,
      o: linear([`${a}.o_proj.weight`], [C], q).m,
      oBias: cfg.oBias ? vector(`${a}.o_proj.bias`, C) : null,
      postNorm: gateUp.gamma!,
      gateUp: gateUp.m,
      gateUpBias: cfg.mlpBias ? vectors(gu.map((p) => `${p}.bias`), [I, I]) : null,
      down: linear([`${m}.down_proj.weight`], [C], I).m,
      downBias: cfg.mlpBias ? vector(`${m}.down_proj.bias`, C) : null,
    });
    layerBytes = bytes - before;
  }
  // Beside quantized layers the lm_head stays in half precision unless it is quantized too (then
  // smoothed into the final norm).
  let norm: Float32Array;
  let lmHead: Matrix | null = null;
  if (!logits) {
    norm = vector('model.norm.weight', C);
  } else if (quant?.lmHead) {
    const final = { norm: 'model.norm.weight', stats: quant.stats?.final };
    let head: { m: Matrix; gamma?: Float32Array };
    if (cfg.tieWordEmbeddings) {
      // The tied weight is counted once (as the embedding), so only its bytes are added.
      const before = numParams;
      head = linear(['model.embed_tokens.weight'], [V], C, final);
      numParams = before + C;
    } else {
      head = linear(['lm_head.weight'], [V], C, final);
    }
    norm = head.gamma!;
    lmHead = head.m;
  } else {
    norm = vector('model.norm.weight', C);
    const headDtype = quant ? lmHeadDType(dtype) : dtype;
    if (cfg.tieWordEmbeddings) {
      // From the table already held, not a second read.
      lmHead = backend.prepareMatrix(embed, C, V, 'nk', headDtype);
      bytes += lmHead.bytes;
    } else {
      const head = tensor(ckpt, 'lm_head.weight', [V, C]);
      lmHead = backend.prepareMatrix(head, C, V, 'nk', headDtype);
      numParams += C * V;
      bytes += lmHead.bytes;
    }
  }
  return { embed, layers, norm, lmHead, numParams, bytes, layerBytes, inputScaling };
}
