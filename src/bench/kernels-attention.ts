/**
 * Attention rows of the kernel benchmark: paged flash attention at GPT-2 124M's shape (12 heads of
 * 64, block size 16) for a decode step of 64 sequences at context 256 and a 512-token prefill
 * chunk of one sequence, over an f32 and a bf16 KV cache, on 1 thread and on all. Block tables are shuffled, as a long-running
 * engine leaves them. Reported as GFLOP/s (4 * headDim flops per query-key pair: q.k and p.v), the
 * K/V bytes read per second, and cycles per query-key pair, taking the clock from the measured
 * FMA peak of one core (GFLOP/s / flops per cycle).
 */
import type { AttentionMeta, KVCacheDType, KVCacheLayer } from '../kernels/backend.js';
import { createNativeBackend, type SimdPath } from '../kernels/native.js';
import { f32ArrayToBf16, f32ArrayToF16 } from '../kernels/half.js';
import { fixed, median, percent, printTable, timeIt, uniform } from './report.js';

export const ATTENTION_SHAPE = { nHead: 12, headDim: 64, blockSize: 16 } as const;

export const ATTENTION_CASES: readonly { name: string; seqs: number; queries: number; context: number; kvDtype: KVCacheDType }[] = [
  { name: 'decode', seqs: 64, queries: 1, context: 256, kvDtype: 'f32' },
  { name: 'decode', seqs: 64, queries: 1, context: 256, kvDtype: 'bf16' },
  { name: 'prefill', seqs: 1, queries: 512, context: 512, kvDtype: 'f32' },
  { name: 'prefill', seqs: 1, queries: 512, context: 512, kvDtype: 'bf16' },
];

/** Uniform values stored in `dtype` (bf16 / f16 as bits). */
function pool(n: number, seed: number, dtype: KVCacheDType): Float32Array | Uint16Array {
  const x = uniform(n, seed);
  return dtype === 'bf16' ? f32ArrayToBf16(x) : dtype === 'f16' ? f32ArrayToF16(x) : x;
}

export interface AttentionRow {
  name: string;
  /** KV cache storage precision. */
  kvDtype: KVCacheDType;
  seqs: number;
  queries: number;
  context: number;
  threads: number;
  seconds: number;
  /** Query-key pairs over all heads (causal: row i of a chunk sees context - queries + i + 1 keys). */
  pairs: number;
  gflops: number;
  /** K and V bytes read once per (sequence, head), per second. */
  kvGBs: number;
  /** Wall-clock cycles per query-key pair, and the same times the thread count (cycles of core time). */
  cyclesPerPair: number;
  coreCyclesPerPair: number;
  fracFma: number;
}

/** f32 flops per cycle of one core, for turning GFLOP/s into a clock: 2 * lanes (one FMA port of 512 bits). */
export function flopsPerCycle(simd: string): number {
  return simd.startsWith('avx512') ? 32 : simd === 'avx2' ? 16 : 8;
}

/** One case's inputs: every sequence owns whole blocks, handed out in a shuffled order. */
function attentionInputs(c: (typeof ATTENTION_CASES)[number]) {
  const { nHead, headDim, blockSize } = ATTENTION_SHAPE;
  const width = nHead * headDim;
  const maxBlocksPerSeq = Math.ceil(c.context / blockSize);
  const numBlocks = c.seqs * maxBlocksPerSeq;
  const ids = Int32Array.from({ length: numBlocks }, (_, i) => i);
  let s = 12345;
  for (let i = numBlocks - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const queryStart = Int32Array.from({ length: c.seqs + 1 }, (_, i) => i * c.queries);
  const t = c.seqs * c.queries;
  const meta: AttentionMeta = {
    numSeqs: c.seqs, queryStart, seqLens: new Int32Array(c.seqs).fill(c.context), blockTables: ids, maxBlocksPerSeq,
    slotMapping: new Int32Array(t), blockSize,
  };
  const cache: KVCacheLayer = { dtype: c.kvDtype, k: pool(numBlocks * blockSize * width, 1, c.kvDtype), v: pool(numBlocks * blockSize * width, 2, c.kvDtype) };
  const pairs = c.seqs * nHead * (c.queries * (c.context - c.queries) + (c.queries * (c.queries + 1)) / 2);
  return { meta, cache, qkv: uniform(t * 3 * width, 3), out: new Float32Array(t * width), pairs };
}

/**
 * Times each case on 1 thread and on `threads`, in interleaved rounds (median over rounds).
 * `fmaGflops1` is the one-core FMA peak the clock is derived from.
 */
export function runAttentionBench(threads: number, simd: SimdPath, fmaGflops1: number, quick = false): AttentionRow[] {
  const { nHead, headDim } = ATTENTION_SHAPE;
  const ghz = fmaGflops1 / flopsPerCycle(simd);
  const counts = [...new Set([1, threads])];
  const backends = counts.map((n) => createNativeBackend({ threads: n, simd }));
  const rows: AttentionRow[] = [];
  try {
    for (const c of ATTENTION_CASES) {
      const x = attentionInputs(c);
      const samples = counts.map(() => [] as number[]);
      for (let round = 0; round < (quick ? 1 : 3); round++) {
        backends.forEach((be, i) => {
          const call = () => be.attention(x.out, x.qkv, x.cache, x.meta, nHead, headDim, 1 / Math.sqrt(headDim));
          samples[i].push(timeIt(call, { minReps: 3, minSeconds: quick ? 0.05 : 0.15, maxReps: 200 }).median);
        });
      }
      const kvBytes = c.seqs * c.context * nHead * headDim * x.cache.k.BYTES_PER_ELEMENT * 2;
      counts.forEach((n, i) => {
        const seconds = median(samples[i]);
        const gflops = (4 * headDim * x.pairs) / seconds / 1e9;
        const cyclesPerPair = (ghz * 1e9 * seconds) / x.pairs;
        rows.push({
          name: c.name, kvDtype: c.kvDtype, seqs: c.seqs, queries: c.queries, context: c.context, threads: n, seconds, pairs: x.pairs, gflops,
          kvGBs: kvBytes / seconds / 1e9, cyclesPerPair, coreCyclesPerPair: cyclesPerPair * n, fracFma: gflops / (fmaGflops1 * n),
        });
      });
    }
  } finally {
    backends.forEach((be) => be.dispose());
  }
  return rows;
}

export function printAttentionBench(rows: readonly AttentionRow[], readGBs: number): void {
  const { nHead, headDim, blockSize } = ATTENTION_SHAPE;
  printTable(`Paged attention (${nHead} heads x ${headDim}, block ${blockSize}; cycles at the clock implied by the FMA peak)`, [
    { header: 'case', value: (r: AttentionRow) => `${r.name} ${r.seqs} x ${r.queries === 1 ? `ctx ${r.context}` : `${r.queries} tokens`}, ${r.kvDtype} KV` },
    { header: 'threads', value: (r) => r.threads },
    { header: 'µs', value: (r) => fixed(r.seconds * 1e6, 0) },
    { header: 'GFLOP/s', value: (r) => fixed(r.gflops) },
    { header: '% FMA peak', value: (r) => percent(r.fracFma) },
    { header: 'K/V GB/s', value: (r) => fixed(r.kvGBs) },
    { header: '% bandwidth', value: (r) => percent(r.kvGBs / readGBs) },
    { header: 'cycles/pair', value: (r) => fixed(r.cyclesPerPair, 1) },
    { header: 'core cycles/pair', value: (r) => fixed(r.coreCyclesPerPair, 1) },
  ], rows);
}
