/**
 * The GPT-2 forward pass over one flattened ragged batch, written only as backend calls.
 *
 * All scheduled tokens of all sequences are stacked as `[T, nEmbd]` rows (no padding). Every GEMM
 * runs over the T rows at once; attention runs per sequence over its own query rows and its paged
 * KV; the final layer norm and lm_head run only on the rows whose logits are wanted.
 */
import type { Backend, DType, KVCacheDType, KVCacheLayer, Quantization } from '../kernels/backend.js';
import { isLlamaConfig, type GPT2Config } from './config.js';
import { allocateKVCache, kvBytesPerToken } from './kv-cache.js';
import { checkBatch, type ForwardBatch } from './forward-batch.js';
import type { CausalLM, CreateModelOptions } from './model.js';
import { lmHeadDType, type InputScaling } from './quantization.js';
import type { Checkpoint } from '../checkpoint/tensor.js';
import { prepareWeights, type GPT2Weights } from './weights.js';

export type { ForwardBatch } from './forward-batch.js';

/** Activation buffers, sized for the largest batch seen so far. */
class Workspace {
  rows = 0;
  x = new Float32Array(0); // residual stream [T, C]
  h = new Float32Array(0); // layer-norm output [T, C]
  qkv = new Float32Array(0); // [T, 3C]
  att = new Float32Array(0); // attention output [T, C]
  ff = new Float32Array(0); // MLP hidden [T, nInner]
  logitRowCap = 0;
  gathered = new Float32Array(0); // [R, C]
  normed = new Float32Array(0); // [R, C]
  logits = new Float32Array(0); // [R, vocab]

  /** `logits`: whether the model has an lm_head (a calibration model has none: no [R, vocab] buffer). */
  ensure(cfg: GPT2Config, t: number, r: number, logits: boolean): void {
    if (t > this.rows) {
      this.rows = t;
      this.x = new Float32Array(t * cfg.nEmbd);
      this.h = new Float32Array(t * cfg.nEmbd);
      this.qkv = new Float32Array(t * 3 * cfg.nEmbd);
      this.att = new Float32Array(t * cfg.nEmbd);
      this.ff = new Float32Array(t * cfg.nInner);
    }
    if (r > this.logitRowCap) {
      this.logitRowCap = r;
      this.gathered = new Float32Array(r * cfg.nEmbd);
      this.normed = new Float32Array(r * cfg.nEmbd);
      this.logits = new Float32Array(logits ? r * cfg.vocabSize : 0);
    }
  }
}

export class GPT2Model implements CausalLM {
  readonly numParams: number;
  readonly weightBytes: number;
  readonly layerBytes: number;
  readonly quantization: Quantization | null;
  readonly lmHeadQuantized: boolean;
  readonly inputScaling: readonly InputScaling[];
  private readonly headDim: number;
  private readonly ws = new Workspace();

  private constructor(
    readonly config: GPT2Config,
    readonly backend: Backend,
    readonly dtype: DType,
    private readonly w: GPT2Weights,
    quant: CreateModelOptions['quant'] = null,
  ) {
    this.numParams = w.numParams;
    this.weightBytes = w.bytes;
    this.layerBytes = w.layerBytes;
    this.quantization = quant?.scheme ?? null;
    this.lmHeadQuantized = quant?.lmHead ?? false;
    this.inputScaling = w.inputScaling;
    this.headDim = config.nEmbd / config.nHead;
  }

  /** Prepares the checkpoint's weights on `backend`, computing from `dtype` (default: the checkpoint's). */
  static fromCheckpoint(ckpt: Checkpoint, backend: Backend, opts: CreateModelOptions = {}): GPT2Model {
    const cfg = ckpt.config;
    if (isLlamaConfig(cfg)) throw new Error(`config in ${ckpt.dir}: ${cfg.architecture} is not a GPT-2 model (use createModel)`);
    if (cfg.nEmbd % cfg.nHead !== 0) throw new Error(`config in ${ckpt.dir}: n_embd ${cfg.nEmbd} is not divisible by n_head ${cfg.nHead}`);
    if (cfg.activation !== 'gelu_new') throw new Error(`config in ${ckpt.dir}: activation_function '${cfg.activation}' is not supported (only gelu_new)`);
    const weights = prepareWeights(ckpt, cfg, backend, opts.dtype ?? ckpt.dtype, opts.quant ?? null, opts.logits ?? true);
    // Report the precision the backend actually computes from (it may widen half weights).
    // A quantized lm_head reports the half precision an unquantized one would be kept in.
    const dtype = opts.quant?.lmHead ? lmHeadDType(opts.dtype ?? ckpt.dtype) : (weights.lmHead?.dtype ?? opts.dtype ?? ckpt.dtype);
    return new GPT2Model(cfg, backend, dtype, weights, opts.quant);
  }

  /** Bytes of KV cache one token needs across all layers, in a cache of `dtype`. */
  kvBytesPerToken(dtype: KVCacheDType = 'f32'): number {
    return kvBytesPerToken(this.config, dtype);
  }

  /** Per-layer K/V pools on this model's backend; `dtype` is the storage precision (attention computes in f32). */
  createKVCache(numBlocks: number, blockSize: number, dtype: KVCacheDType = 'f32'): KVCacheLayer[] {
    return allocateKVCache(this.backend, this.config, numBlocks, blockSize, dtype);
  }

  /**
   * Runs one step and returns `[logitRows.length, vocabSize]` logits. The result is a view into a
   * reused buffer: it is valid only until the next `forward` call (copy it to keep it).
   */
  forward(batch: ForwardBatch, cache: KVCacheLayer[]): Float32Array {
    const cfg = this.config;
    const be = this.backend;
    const C = cfg.nEmbd;
    const t = batch.tokens.length;
    const r = batch.logitRows.length;
    checkBatch(cfg, batch, cache);
    const ws = this.ws;
    ws.ensure(cfg, t, r, this.w.lmHead !== null);
    const { x, h, qkv, att, ff } = ws;
    const { attn } = batch;
    const eps = cfg.layerNormEpsilon;

    be.embed(x, this.w.wte, this.w.wpe, batch.tokens, batch.positions, C);
    for (let l = 0; l < cfg.nLayer; l++) {
      const lw = this.w.layers[l];
      be.layerNorm(h, x, t, C, lw.ln1.gamma, lw.ln1.beta, eps);
      be.matmul(qkv, h, t, lw.cAttn, lw.cAttnBias, 'none');
      be.writeKV(cache[l], qkv, t, cfg.nHead, this.headDim, attn);
      be.attention(att, qkv, cache[l], attn, cfg.nHead, this.headDim, 1 / Math.sqrt(this.headDim));
      be.matmul(x, att, t, lw.attnProj, lw.attnProjBias, 'residual');
      be.layerNorm(h, x, t, C, lw.ln2.gamma, lw.ln2.beta, eps);
      be.matmul(ff, h, t, lw.cFc, lw.cFcBias, 'gelu');
      be.matmul(x, ff, t, lw.mlpProj, lw.mlpProjBias, 'residual');
    }

    // Only the sampled rows go through ln_f and the (large) lm_head.
    if (r === 0) return ws.logits.subarray(0, 0);
    for (let i = 0; i < r; i++) {
      const row = batch.logitRows[i];
      ws.gathered.set(x.subarray(row * C, (row + 1) * C), i * C);
    }
    be.layerNorm(ws.normed, ws.gathered, r, C, this.w.lnF.gamma, this.w.lnF.beta, eps);
    if (!this.w.lmHead) return ws.logits.subarray(0, 0);
    be.matmul(ws.logits, ws.normed, r, this.w.lmHead, null, 'none');
    return ws.logits.subarray(0, r * cfg.vocabSize);
  }
}
