/**
 * The GPT-2 forward pass over one flattened ragged batch, written only as backend calls.
 *
 * All scheduled tokens of all sequences are stacked as `[T, nEmbd]` rows (no padding). Every GEMM
 * runs over the T rows at once; attention runs per sequence over its own query rows and its paged
 * KV; the final layer norm and lm_head run only on the rows whose logits are wanted.
 */
import type { AttentionMeta, Backend, DType, KVCacheDType, KVCacheLayer } from '../kernels/backend.js';
import type { GPT2Config } from './config.js';
import { allocateKVCache, kvBytesPerToken } from './kv-cache.js';
import type { Checkpoint } from '../checkpoint/tensor.js';
import { prepareWeights, type GPT2Weights } from './weights.js';

export interface ForwardBatch {
  /** `[T]` token ids, all sequences' rows stacked. */
  readonly tokens: Int32Array;
  /** `[T]` absolute position of each row within its sequence. */
  readonly positions: Int32Array;
  readonly attn: AttentionMeta;
  /** Batch rows that need logits, in the order the logits are returned. */
  readonly logitRows: Int32Array;
}

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

  ensure(cfg: GPT2Config, t: number, r: number): void {
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
      this.logits = new Float32Array(r * cfg.vocabSize);
    }
  }
}

export class GPT2Model {
  readonly numParams: number;
  readonly weightBytes: number;
  private readonly headDim: number;
  private readonly ws = new Workspace();

  private constructor(
    readonly config: GPT2Config,
    readonly backend: Backend,
    readonly dtype: DType,
    private readonly w: GPT2Weights,
  ) {
    this.numParams = w.numParams;
    this.weightBytes = w.bytes;
    this.headDim = config.nEmbd / config.nHead;
  }

  /** Prepares the checkpoint's weights on `backend`, computing from `dtype` (default: the checkpoint's). */
  static fromCheckpoint(ckpt: Checkpoint, backend: Backend, opts: { dtype?: DType } = {}): GPT2Model {
    const cfg = ckpt.config;
    if (cfg.nEmbd % cfg.nHead !== 0) throw new Error(`config in ${ckpt.dir}: n_embd ${cfg.nEmbd} is not divisible by n_head ${cfg.nHead}`);
    if (cfg.activation !== 'gelu_new') throw new Error(`config in ${ckpt.dir}: activation_function '${cfg.activation}' is not supported (only gelu_new)`);
    const weights = prepareWeights(ckpt, backend, opts.dtype ?? ckpt.dtype);
    // Report the precision the backend actually computes from (it may widen half weights).
    return new GPT2Model(cfg, backend, weights.lmHead.dtype, weights);
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
    ws.ensure(cfg, t, r);
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
    be.matmul(ws.logits, ws.normed, r, this.w.lmHead, null, 'none');
    return ws.logits.subarray(0, r * cfg.vocabSize);
  }
}

/**
 * Checks a batch against the model and cache in O(T + blocks), so a bad batch fails with a clear
 * message rather than reading or writing outside a buffer in a native kernel.
 */
function checkBatch(cfg: GPT2Config, b: ForwardBatch, cache: readonly KVCacheLayer[]): void {
  const t = b.tokens.length;
  const a = b.attn;
  const fail = (msg: string): never => {
    throw new Error(`forward: ${msg}`);
  };
  if (t === 0) fail('the batch has no tokens');
  if (b.positions.length !== t) fail(`positions has ${b.positions.length} entries for ${t} tokens`);
  if (cache.length !== cfg.nLayer) fail(`the KV cache has ${cache.length} layers, the model ${cfg.nLayer}`);
  const slotValues = cache[0].k.length / cfg.nEmbd;
  const numBlocks = slotValues / a.blockSize;
  if (!Number.isInteger(numBlocks)) fail(`KV cache size is not a whole number of ${a.blockSize}-token blocks`);
  for (const layer of cache) if (layer.k.length !== cache[0].k.length || layer.v.length !== cache[0].k.length) fail('KV cache layers differ in size');
  for (let i = 0; i < t; i++) {
    const tok = b.tokens[i];
    const pos = b.positions[i];
    const slot = a.slotMapping[i];
    if (!(tok >= 0 && tok < cfg.vocabSize)) fail(`token id ${tok} at row ${i} is outside the vocabulary (0..${cfg.vocabSize - 1})`);
    if (!(pos >= 0 && pos < cfg.nPositions)) fail(`position ${pos} at row ${i} exceeds the context (0..${cfg.nPositions - 1})`);
    if (!(slot >= 0 && slot < slotValues)) fail(`slot ${slot} at row ${i} is outside the KV cache (0..${slotValues - 1})`);
  }
  if (a.queryStart.length < a.numSeqs + 1 || a.queryStart[0] !== 0 || a.queryStart[a.numSeqs] !== t) {
    fail(`queryStart must run from 0 to ${t} over ${a.numSeqs} sequences`);
  }
  if (a.seqLens.length < a.numSeqs) fail(`seqLens has ${a.seqLens.length} entries for ${a.numSeqs} sequences`);
  for (let s = 0; s < a.numSeqs; s++) {
    const qLen = a.queryStart[s + 1] - a.queryStart[s];
    const kvLen = a.seqLens[s];
    if (qLen < 0 || kvLen < qLen) fail(`sequence ${s} has ${qLen} query rows but KV length ${kvLen}`);
    if (kvLen > a.maxBlocksPerSeq * a.blockSize) fail(`sequence ${s} KV length ${kvLen} exceeds its block table`);
    for (let j = 0; j * a.blockSize < kvLen; j++) {
      const block = a.blockTables[s * a.maxBlocksPerSeq + j];
      if (!(block >= 0 && block < numBlocks)) fail(`sequence ${s} block ${j} is ${block}, the cache has ${numBlocks} blocks`);
    }
  }
  for (let i = 0; i < b.logitRows.length; i++) {
    const row = b.logitRows[i];
    if (!(row >= 0 && row < t)) fail(`logit row ${row} is outside the batch (0..${t - 1})`);
  }
}
