/**
 * Paged KV writes and causal attention over the paged cache, flash-style: each query walks its
 * sequence's KV blocks through the block table keeping a running max and sum (online softmax),
 * so no `T x T` score matrix ever exists.
 *
 * A bf16 / f16 cache stores each K/V value rounded to nearest even; attention widens them back
 * exactly, so it equals f32 attention over the rounded values.
 */
import type { AttentionMeta, KVCacheDType, KVCacheLayer } from '../backend.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../half.js';

const KV_DTYPES: readonly KVCacheDType[] = ['f32', 'bf16', 'f16'];

/** Zeroed K and V pools of `slots * width` values: Float32Arrays for f32, Uint16Arrays of bits otherwise. */
export function allocateKVCache(slots: number, width: number, dtype: KVCacheDType): KVCacheLayer {
  if (!KV_DTYPES.includes(dtype)) throw new Error(`allocateKVCache: dtype must be 'f32', 'bf16' or 'f16', got ${String(dtype)}`);
  if (!Number.isInteger(slots) || slots <= 0) throw new Error(`allocateKVCache: slots must be a positive integer, got ${slots}`);
  if (!Number.isInteger(width) || width <= 0) throw new Error(`allocateKVCache: width must be a positive integer, got ${width}`);
  const values = slots * width;
  if (values > 2 ** 32 - 1) throw new Error(`allocateKVCache: ${slots} slots of ${width} values is too large for one pool`);
  if (dtype === 'f32') return { dtype, k: new Float32Array(values), v: new Float32Array(values) };
  return { dtype, k: new Uint16Array(values), v: new Uint16Array(values) };
}

/** The cache's pools, checked to be the array type its dtype says. */
function pools(cache: KVCacheLayer, op: string): { k: Float32Array | Uint16Array; v: Float32Array | Uint16Array } {
  const want = cache.dtype === 'f32' ? Float32Array : Uint16Array;
  if (!KV_DTYPES.includes(cache.dtype)) throw new Error(`${op}: cache.dtype must be 'f32', 'bf16' or 'f16', got ${String(cache.dtype)}`);
  if (!(cache.k instanceof want) || !(cache.v instanceof want)) {
    throw new Error(`${op}: a ${cache.dtype} KV cache needs ${want.name} pools, got ${cache.k.constructor.name} and ${cache.v.constructor.name}`);
  }
  if (cache.k.length !== cache.v.length) throw new Error(`${op}: cache.k and cache.v differ in size`);
  return cache;
}

/** Stored value of an f32 in the cache's dtype (f32: itself; else the rounded bits). */
function encoder(dtype: KVCacheDType): (x: number) => number {
  return dtype === 'bf16' ? f32ToBf16Bits : dtype === 'f16' ? f32ToF16Bits : (x) => x;
}

/** f32 value of a stored element (exact). */
function decoder(dtype: KVCacheDType): (x: number) => number {
  return dtype === 'bf16' ? bf16BitsToF32 : dtype === 'f16' ? f16BitsToF32 : (x) => x;
}

/** Checks a grouped-query head split; returns the row width of qkv, `[q | k | v]`. */
function qkvWidth(op: string, nHead: number, nKvHead: number, headDim: number): number {
  if (!(Number.isInteger(nKvHead) && nKvHead >= 1 && nHead % nKvHead === 0)) throw new Error(`${op}: nKvHead (${nKvHead}) must divide nHead (${nHead})`);
  return (nHead + 2 * nKvHead) * headDim;
}

export function writeKV(cache: KVCacheLayer, qkv: Float32Array, t: number, nHead: number, headDim: number, meta: AttentionMeta, nKvHead = nHead): void {
  const { k, v } = pools(cache, 'writeKV');
  const encode = encoder(cache.dtype);
  const width = qkvWidth('writeKV', nHead, nKvHead, headDim);
  const q = nHead * headDim;
  const c = nKvHead * headDim;
  const numSlots = k.length / c;
  for (let row = 0; row < t; row++) {
    const slot = meta.slotMapping[row];
    if (!(slot >= 0 && slot < numSlots)) throw new Error(`writeKV: row ${row} maps to slot ${slot}, cache has ${numSlots} slots`);
    const src = row * width + q;
    for (let i = 0; i < c; i++) {
      k[slot * c + i] = encode(qkv[src + i]);
      v[slot * c + i] = encode(qkv[src + c + i]);
    }
  }
}

export function attention(
  out: Float32Array, qkv: Float32Array, cache: KVCacheLayer, meta: AttentionMeta, nHead: number, headDim: number, scale: number, nKvHead = nHead,
): void {
  const { k, v } = pools(cache, 'attention');
  const decode = decoder(cache.dtype);
  const width = qkvWidth('attention', nHead, nKvHead, headDim);
  const group = nHead / nKvHead;
  const oc = nHead * headDim; // output row width
  const c = nKvHead * headDim; // cache slot width
  const { blockSize, blockTables, maxBlocksPerSeq } = meta;
  const numBlocks = k.length / (blockSize * c);
  const scores = new Float64Array(blockSize);
  const acc = new Float64Array(headDim);
  for (let s = 0; s < meta.numSeqs; s++) {
    const q0 = meta.queryStart[s];
    const qLen = meta.queryStart[s + 1] - q0;
    const kvLen = meta.seqLens[s];
    const first = kvLen - qLen; // absolute position of the first query row
    if (qLen < 0 || first < 0) throw new Error(`attention: sequence ${s} has ${qLen} query rows but KV length ${kvLen}`);
    if (kvLen > maxBlocksPerSeq * blockSize) throw new Error(`attention: sequence ${s} KV length ${kvLen} exceeds its block table`);
    for (let h = 0; h < nHead; h++) {
      for (let i = 0; i < qLen; i++) {
        const qo = (q0 + i) * width + h * headDim;
        const kvh = Math.floor(h / group);
        const end = first + i + 1; // attend to KV positions [0, end)
        let m = -Infinity;
        let l = 0;
        acc.fill(0);
        for (let b = 0; b * blockSize < end; b++) {
          const block = blockTables[s * maxBlocksPerSeq + b];
          if (!(block >= 0 && block < numBlocks)) throw new Error(`attention: sequence ${s} block ${b} is ${block}, cache has ${numBlocks} blocks`);
          const len = Math.min(blockSize, end - b * blockSize);
          // Scores for this tile, and its max.
          let tileMax = -Infinity;
          for (let j = 0; j < len; j++) {
            const ko = ((block * blockSize + j) * nKvHead + kvh) * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += qkv[qo + d] * decode(k[ko + d]);
            scores[j] = dot * scale;
            if (scores[j] > tileMax) tileMax = scores[j];
          }
          // Rescale what we have so far to the new running max, then add this tile.
          const mNew = Math.max(m, tileMax);
          const correction = Math.exp(m - mNew);
          l *= correction;
          for (let d = 0; d < headDim; d++) acc[d] *= correction;
          for (let j = 0; j < len; j++) {
            const p = Math.exp(scores[j] - mNew);
            l += p;
            const vo = ((block * blockSize + j) * nKvHead + kvh) * headDim;
            for (let d = 0; d < headDim; d++) acc[d] += p * decode(v[vo + d]);
          }
          m = mNew;
        }
        const oo = (q0 + i) * oc + h * headDim;
        for (let d = 0; d < headDim; d++) out[oo + d] = acc[d] / l;
      }
    }
  }
}
