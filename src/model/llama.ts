/**
 * The Llama-family forward pass (Llama 3.x / SmolLM2, Qwen2.5, Qwen3) over one flattened ragged
 * batch, written only as backend calls, like gpt2.ts:
 *
 *   x = embed(tokens)
 *   per layer: h = rms(x); qkv = h·Wqkv (+b); q/k norm (Qwen3) and rotary; write K/V;
 *              x += attn(q, paged K/V)·Wo (+b); h = rms(x); x += (silu(h·Wg) * h·Wu)·Wd
 *   logits = rms(x[rows])·lm_head
 *
 * Grouped-query attention: the cache holds only the nKvHead K/V heads.
 */
import type { Backend, DType, KVCacheDType, KVCacheLayer, Quantization, QKNorm, RopeTable } from '../kernels/backend.js';
import { isLlamaConfig } from './config.js';
import { checkBatch, type ForwardBatch } from './forward-batch.js';
import { allocateKVCache, kvBytesPerToken } from './kv-cache.js';
import type { LlamaConfig } from './llama-config.js';
import { prepareLlamaWeights, type LlamaWeights } from './llama-weights.js';
import type { CausalLM, CreateModelOptions } from './model.js';
import { lmHeadDType, type InputScaling } from './quantization.js';
import { ropeInvFreq, ropeTable } from './rope.js';
import type { Checkpoint } from '../checkpoint/tensor.js';

/** Activation buffers, sized for the largest batch seen so far. */
class Workspace {
  rows = 0;
  x = new Float32Array(0); // residual stream [T, C]
  h = new Float32Array(0); // normed [T, C]
  qkv = new Float32Array(0); // [T, (H + 2 KV) D]
  att = new Float32Array(0); // [T, H D]
  gateUp = new Float32Array(0); // [T, 2I]
  ff = new Float32Array(0); // [T, I]
  logitRowCap = 0;
  gathered = new Float32Array(0);
  normed = new Float32Array(0);
  logits = new Float32Array(0);

  /** `logits`: whether the model has an lm_head (a calibration model has none: no [R, vocab] buffer). */
  ensure(c: LlamaConfig, t: number, r: number, logits: boolean): void {
    if (t > this.rows) {
      this.rows = t;
      this.x = new Float32Array(t * c.nEmbd);
      this.h = new Float32Array(t * c.nEmbd);
      this.qkv = new Float32Array(t * (c.nHead + 2 * c.nKvHead) * c.headDim);
      this.att = new Float32Array(t * c.nHead * c.headDim);
      this.gateUp = new Float32Array(t * 2 * c.nInner);
      this.ff = new Float32Array(t * c.nInner);
    }
    if (r > this.logitRowCap) {
      this.logitRowCap = r;
      this.gathered = new Float32Array(r * c.nEmbd);
      this.normed = new Float32Array(r * c.nEmbd);
      this.logits = new Float32Array(logits ? r * c.vocabSize : 0);
    }
  }
}

export class LlamaModel implements CausalLM {
  readonly numParams: number;
  readonly weightBytes: number;
  readonly layerBytes: number;
  readonly quantization: Quantization | null;
  readonly lmHeadQuantized: boolean;
  readonly inputScaling: readonly InputScaling[];
  private readonly ws = new Workspace();
  private readonly invFreq: Float64Array;
  private rope: RopeTable;
  private readonly qkNorms: (QKNorm | null)[];

  private constructor(
    readonly config: LlamaConfig,
    readonly backend: Backend,
    readonly dtype: DType,
    private readonly w: LlamaWeights,
    quant: CreateModelOptions['quant'] = null,
  ) {
    this.numParams = w.numParams;
    this.weightBytes = w.bytes;
    this.layerBytes = w.layerBytes;
    this.quantization = quant?.scheme ?? null;
    this.lmHeadQuantized = quant?.lmHead ?? false;
    this.inputScaling = w.inputScaling;
    this.invFreq = ropeInvFreq(config);
    this.rope = ropeTable(this.invFreq, Math.min(config.nPositions, 256));
    this.qkNorms = w.layers.map((l) => (l.qNorm && l.kNorm ? { q: l.qNorm, k: l.kNorm, eps: config.rmsNormEps } : null));
  }

  static fromCheckpoint(ckpt: Checkpoint, backend: Backend, opts: CreateModelOptions = {}): LlamaModel {
    const cfg = ckpt.config;
    if (!isLlamaConfig(cfg)) throw new Error(`config in ${ckpt.dir}: not a Llama-family model (use createModel)`);
    const weights = prepareLlamaWeights(ckpt, cfg, backend, opts.dtype ?? ckpt.dtype, opts.quant ?? null, opts.logits ?? true);
    // A quantized lm_head reports the half precision an unquantized one would be kept in.
    const dtype = opts.quant?.lmHead ? lmHeadDType(opts.dtype ?? ckpt.dtype) : (weights.lmHead?.dtype ?? opts.dtype ?? ckpt.dtype);
    return new LlamaModel(cfg, backend, dtype, weights, opts.quant);
  }

  kvBytesPerToken(dtype: KVCacheDType = 'f32'): number {
    return kvBytesPerToken(this.config, dtype);
  }

  createKVCache(numBlocks: number, blockSize: number, dtype: KVCacheDType = 'f32'): KVCacheLayer[] {
    return allocateKVCache(this.backend, this.config, numBlocks, blockSize, dtype);
  }

  /** The angle table, grown (doubling, up to the context) to cover `maxPos`. */
  private ropeFor(maxPos: number): RopeTable {
    if (maxPos >= this.rope.positions) {
      let n = this.rope.positions;
      while (n <= maxPos) n *= 2;
      this.rope = ropeTable(this.invFreq, Math.min(n, this.config.nPositions));
    }
    return this.rope;
  }

  forward(batch: ForwardBatch, cache: KVCacheLayer[]): Float32Array {
    const cfg = this.config;
    const be = this.backend;
    const { nEmbd: C, nHead: H, nKvHead: KV, headDim: D, nInner: I, rmsNormEps: eps } = cfg;
    const t = batch.tokens.length;
    const r = batch.logitRows.length;
    checkBatch(cfg, batch, cache);
    const ws = this.ws;
    ws.ensure(cfg, t, r, this.w.lmHead !== null);
    const { x, h, qkv, att, gateUp, ff } = ws;
    const { attn, positions } = batch;
    let maxPos = 0;
    for (let i = 0; i < t; i++) maxPos = Math.max(maxPos, positions[i]);
    const rope = this.ropeFor(maxPos);
    const scale = 1 / Math.sqrt(D);

    be.embed(x, this.w.embed, null, batch.tokens, positions, C);
    for (let l = 0; l < cfg.nLayer; l++) {
      const lw = this.w.layers[l];
      be.rmsNorm(h, x, t, C, lw.inputNorm, eps);
      be.matmul(qkv, h, t, lw.qkv, lw.qkvBias, 'none');
      be.rotary(qkv, t, H, KV, D, positions, rope, this.qkNorms[l]);
      be.writeKV(cache[l], qkv, t, H, D, attn, KV);
      be.attention(att, qkv, cache[l], attn, H, D, scale, KV);
      be.matmul(x, att, t, lw.o, lw.oBias, 'residual');
      be.rmsNorm(h, x, t, C, lw.postNorm, eps);
      be.matmul(gateUp, h, t, lw.gateUp, lw.gateUpBias, 'none');
      be.siluMul(ff, gateUp, t, I);
      be.matmul(x, ff, t, lw.down, lw.downBias, 'residual');
    }

    if (r === 0) return ws.logits.subarray(0, 0);
    for (let i = 0; i < r; i++) {
      const row = batch.logitRows[i];
      ws.gathered.set(x.subarray(row * C, (row + 1) * C), i * C);
    }
    be.rmsNorm(ws.normed, ws.gathered, r, C, this.w.norm, eps);
    if (!this.w.lmHead) return ws.logits.subarray(0, 0);
    be.matmul(ws.logits, ws.normed, r, this.w.lmHead, null, 'none');
    return ws.logits.subarray(0, r * cfg.vocabSize);
  }
}
