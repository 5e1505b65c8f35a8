/**
 * Paged KV writes and causal attention over the paged cache, flash-style: each query walks its
 * sequence's KV blocks through the block table keeping a running max and sum (online softmax),
 * so no `T x T` score matrix ever exists.
 */
import type { AttentionMeta, KVCacheLayer } from '../backend.js';

export function writeKV(cache: KVCacheLayer, qkv: Float32Array, t: number, nHead: number, headDim: number, meta: AttentionMeta): void {
  const c = nHead * headDim;
  const numSlots = cache.k.length / c;
  for (let row = 0; row < t; row++) {
    const slot = meta.slotMapping[row];
    if (!(slot >= 0 && slot < numSlots)) throw new Error(`writeKV: row ${row} maps to slot ${slot}, cache has ${numSlots} slots`);
    const src = row * 3 * c;
    cache.k.set(qkv.subarray(src + c, src + 2 * c), slot * c);
    cache.v.set(qkv.subarray(src + 2 * c, src + 3 * c), slot * c);
  }
}

export function attention(
  out: Float32Array, qkv: Float32Array, cache: KVCacheLayer, meta: AttentionMeta, nHead: number, headDim: number, scale: number,
): void {
  const c = nHead * headDim;
  const { blockSize, blockTables, maxBlocksPerSeq } = meta;
  const numBlocks = cache.k.length / (blockSize * c);
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
        const qo = (q0 + i) * 3 * c + h * headDim;
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
            const ko = ((block * blockSize + j) * nHead + h) * headDim;
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += qkv[qo + d] * cache.k[ko + d];
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
            const vo = ((block * blockSize + j) * nHead + h) * headDim;
            for (let d = 0; d < headDim; d++) acc[d] += p * cache.v[vo + d];
          }
          m = mNew;
        }
        const oo = (q0 + i) * c + h * headDim;
        for (let d = 0; d < headDim; d++) out[oo + d] = acc[d] / l;
      }
    }
  }
}
