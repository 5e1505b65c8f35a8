/**
 * Every native op against the reference backend (f64 accumulation), on every SIMD path this CPU
 * supports, with 1 and 2 threads: odd sizes, tails that are not a multiple of the vector width,
 * all weight dtypes and layouts, and paged attention over shuffled block tables with a mixed
 * prefill / decode / chunked-prefill batch.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AttentionMeta, Backend, DType, Epilogue, KVCacheLayer } from '../../src/kernels/backend.js';
import { addonLoadError } from '../../src/kernels/native/addon.js';
import { createNativeBackend, nativeAvailable, nativeSimdPaths, type SimdPath } from '../../src/kernels/native.js';
import { f32ArrayToBf16, f32ArrayToF16, f32ToBf16Bits, f32ToF16Bits, toF32 } from '../../src/kernels/half.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';
import { expectClose, firstDifference } from '../helpers/compare.js';

const available = nativeAvailable();
if (!available) console.warn(`skipping native kernel tests: ${addonLoadError()}`);

const rng = mulberry32;

function uniform(n: number, rand: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

const ref = createReferenceBackend();
const exactPaths = nativeSimdPaths().filter((p) => p !== 'avx512-bf16');
const configs: { simd: SimdPath; threads: number }[] = exactPaths.flatMap((simd) => [1, 2].map((threads) => ({ simd, threads })));
const backends = new Map<string, Backend>();
function backend(simd: SimdPath, threads: number): Backend {
  const key = `${simd}/${threads}`;
  let be = backends.get(key);
  if (!be) {
    be = createNativeBackend({ simd, threads });
    backends.set(key, be);
  }
  return be;
}
afterAll(() => {
  for (const be of backends.values()) be.dispose();
});

function rawWeights(values: Float32Array, dtype: DType): { dtype: DType; data: Float32Array | Uint16Array } {
  if (dtype === 'f32') return { dtype, data: values };
  return { dtype, data: Uint16Array.from(values, dtype === 'bf16' ? f32ToBf16Bits : f32ToF16Bits) };
}

describe.skipIf(!available)('native backend', () => {
  it('reports its SIMD path and threads, and auto never picks the approximate bf16 path', () => {
    expect(nativeSimdPaths()).toContain('scalar');
    const be = createNativeBackend({ threads: 2 });
    expect(be.name).toBe('native');
    expect(be.threads).toBe(2);
    expect(be.simd).toBe(exactPaths[0]);
    be.dispose();
  });

  describe('matmul vs reference', () => {
    // [t, k, n]: GEMV, tails in every dimension, several panels, more rows than a micro-kernel.
    const shapes: [number, number, number][] = [[1, 37, 53], [3, 16, 16], [13, 100, 67], [70, 129, 130]];
    const cases: { src: DType; dtype: DType }[] = [
      { src: 'f32', dtype: 'f32' }, { src: 'f32', dtype: 'bf16' }, { src: 'f32', dtype: 'f16' },
      { src: 'bf16', dtype: 'bf16' }, { src: 'f16', dtype: 'f16' }, { src: 'bf16', dtype: 'f32' },
    ];
    const epilogues: Epilogue[] = ['none', 'gelu', 'residual'];
    for (const [t, k, n] of shapes) {
      it(`t=${t} k=${k} n=${n}: all layouts, dtypes and epilogues on every path`, () => {
        const rand = rng(t * 1000 + k);
        const x = uniform(t * k, rand);
        const wkn = uniform(k * n, rand, 0.5);
        const wnk = new Float32Array(k * n);
        for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) wnk[j * k + p] = wkn[p * n + j];
        const bias = uniform(n, rand);
        const resid = uniform(t * n, rand);
        for (const { src, dtype } of cases) {
          for (const layout of ['kn', 'nk'] as const) {
            const raw = rawWeights(layout === 'kn' ? wkn : wnk, src);
            const rw = ref.prepareMatrix(raw, k, n, layout, dtype);
            for (const ep of epilogues) {
              const b = ep === 'none' && k % 2 === 0 ? null : bias; // 'none' both with and without a bias
              const expected = Float32Array.from(resid);
              ref.matmul(expected, x, t, rw, b, ep);
              for (const { simd, threads } of configs) {
                const be = backend(simd, threads);
                const w = be.prepareMatrix(raw, k, n, layout, dtype);
                expect([w.k, w.n, w.dtype]).toEqual([k, n, dtype]);
                const out = Float32Array.from(resid);
                be.matmul(out, x, t, w, b, ep);
                expectClose(out, expected, 1e-5, `${simd}/${threads}t ${src}->${dtype} ${layout} ${ep}`);
              }
            }
          }
        }
      });
    }

    it('packs bf16/f16 weights as 16-bit (half the bytes of f32)', () => {
      // n = 192 is a whole number of panels on every path, so no padding muddies the sizes.
      for (const simd of exactPaths) {
        const be = backend(simd, 1);
        const w = uniform(64 * 192, rng(5));
        expect(be.prepareMatrix({ dtype: 'f32', data: w }, 64, 192, 'kn').bytes).toBe(64 * 192 * 4);
        expect(be.prepareMatrix({ dtype: 'f32', data: w }, 64, 192, 'kn', 'bf16').bytes).toBe(64 * 192 * 2);
        expect(be.prepareMatrix({ dtype: 'f32', data: w }, 64, 192, 'kn', 'f16').bytes).toBe(64 * 192 * 2);
      }
    });
  });

  describe('row ops vs reference', () => {
    for (const { simd, threads } of configs) {
      it(`${simd}, ${threads} thread(s): layerNorm, softmax, argmax, embed`, () => {
        const be = backend(simd, threads);
        const rand = rng(7);
        for (const [t, n] of [[1, 37], [5, 768], [300, 100]]) {
          const x = uniform(t * n, rand, 3);
          for (let i = 0; i < t * n; i++) x[i] += 1.5; // a non-zero mean
          const gamma = uniform(n, rand);
          const beta = uniform(n, rand);
          const expected = new Float32Array(t * n);
          const out = new Float32Array(t * n);
          ref.layerNorm(expected, x, t, n, gamma, beta, 1e-5);
          be.layerNorm(out, x, t, n, gamma, beta, 1e-5);
          expectClose(out, expected, 1e-5, `layerNorm ${t}x${n}`);
        }
        for (const [rows, n] of [[1, 5], [3, 17], [2, 50257], [40, 1000]]) {
          const x = uniform(rows * n, rand, 8);
          const expected = Float32Array.from(x);
          ref.softmax(expected, rows, n);
          be.softmax(x, rows, n);
          expectClose(x, expected, 1e-5, `softmax ${rows}x${n}`);
        }
        const logits = uniform(1003, rand);
        logits[700] = 5;
        logits[900] = 5; // a tie: the lower index wins
        expect(be.argmax(logits, logits.length)).toBe(ref.argmax(logits, logits.length));
        expect(be.argmax(logits, 700)).toBe(ref.argmax(logits, 700));

        const c = 19;
        const wte = uniform(50 * c, rand);
        const wpe = uniform(30 * c, rand);
        const tokens = Int32Array.of(3, 49, 0, 3);
        const positions = Int32Array.of(0, 1, 29, 7);
        const e1 = new Float32Array(4 * c);
        const e2 = new Float32Array(4 * c);
        ref.embed(e1, { dtype: 'f32', data: wte }, { dtype: 'f32', data: wpe }, tokens, positions, c);
        be.embed(e2, { dtype: 'f32', data: wte }, { dtype: 'f32', data: wpe }, tokens, positions, c);
        expect(e2).toEqual(e1);
        // Half tables (and none for positions, as Llama) give exactly the gather of their f32 widening.
        for (const [dtype, narrow] of [['bf16', f32ArrayToBf16], ['f16', f32ArrayToF16]] as const) {
          const te = { dtype, data: narrow(wte) };
          const pe = { dtype, data: narrow(wpe) };
          const wide = new Float32Array(4 * c);
          ref.embed(wide, { dtype: 'f32', data: toF32(te) }, { dtype: 'f32', data: toF32(pe) }, tokens, positions, c);
          be.embed(e2, te, pe, tokens, positions, c);
          expect(e2).toEqual(wide);
          ref.embed(e1, te, pe, tokens, positions, c);
          expect(e1).toEqual(wide);
          be.embed(e2, te, null, tokens, Int32Array.of(-1, -1, -1, -1), c);
          expect(e2).toEqual(Float32Array.from(Array.from(tokens).flatMap((t) => Array.from(toF32(te).subarray(t * c, (t + 1) * c)))));
        }
      });
    }
  });

  describe('paged attention vs reference', () => {
    /** A prefill from scratch, a decode and a prefill chunk after cached tokens, over shuffled blocks. */
    function batch(blockSize: number, nHead: number, headDim: number, seed: number) {
      const rand = rng(seed);
      const c = nHead * headDim;
      const seqs = [{ qLen: 37, kvLen: 37 }, { qLen: 1, kvLen: 50 }, { qLen: 9, kvLen: 30 }];
      const maxBlocksPerSeq = Math.ceil(50 / blockSize) + 1; // one spare entry, left as -1
      const numBlocks = seqs.length * maxBlocksPerSeq + 3;
      const ids = Array.from({ length: numBlocks }, (_, i) => i);
      for (let i = ids.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [ids[i], ids[j]] = [ids[j], ids[i]];
      }
      const blockTables = new Int32Array(seqs.length * maxBlocksPerSeq).fill(-1);
      let next = 0;
      seqs.forEach((s, i) => {
        for (let b = 0; b * blockSize < s.kvLen; b++) blockTables[i * maxBlocksPerSeq + b] = ids[next++];
      });
      const t = seqs.reduce((a, s) => a + s.qLen, 0);
      const queryStart = new Int32Array(seqs.length + 1);
      const slotMapping = new Int32Array(t);
      seqs.forEach((s, i) => {
        queryStart[i + 1] = queryStart[i] + s.qLen;
        for (let r = 0; r < s.qLen; r++) {
          const pos = s.kvLen - s.qLen + r;
          slotMapping[queryStart[i] + r] = blockTables[i * maxBlocksPerSeq + Math.floor(pos / blockSize)] * blockSize + (pos % blockSize);
        }
      });
      const meta: AttentionMeta = {
        numSeqs: seqs.length, queryStart, seqLens: Int32Array.from(seqs, (s) => s.kvLen), blockTables, maxBlocksPerSeq, slotMapping, blockSize,
      };
      // Earlier tokens' K/V are already cached: random everywhere, then this step overwrites its slots.
      const kv = { k: uniform(numBlocks * blockSize * c, rand), v: uniform(numBlocks * blockSize * c, rand) };
      return { meta, t, c, kv, qkv: uniform(t * 3 * c, rand, 2) };
    }

    for (const [blockSize, nHead, headDim] of [[16, 3, 24], [5, 2, 64], [16, 12, 64]]) {
      it(`blockSize=${blockSize} nHead=${nHead} headDim=${headDim} on every path`, () => {
        const { meta, t, c, kv, qkv } = batch(blockSize, nHead, headDim, blockSize * 100 + headDim);
        const refCache: KVCacheLayer = { dtype: 'f32', k: Float32Array.from(kv.k), v: Float32Array.from(kv.v) };
        ref.writeKV(refCache, qkv, t, nHead, headDim, meta);
        const expected = new Float32Array(t * c);
        ref.attention(expected, qkv, refCache, meta, nHead, headDim, 1 / Math.sqrt(headDim));
        for (const { simd, threads } of configs) {
          const be = backend(simd, threads);
          const cache: KVCacheLayer = { dtype: 'f32', k: Float32Array.from(kv.k), v: Float32Array.from(kv.v) };
          be.writeKV(cache, qkv, t, nHead, headDim, meta);
          expect(firstDifference(cache.k, refCache.k), 'K cache').toBe(-1);
          expect(firstDifference(cache.v, refCache.v), 'V cache').toBe(-1);
          const out = new Float32Array(t * c);
          be.attention(out, qkv, cache, meta, nHead, headDim, 1 / Math.sqrt(headDim));
          expectClose(out, expected, 1e-5, `${simd}/${threads}t attention`);
        }
      });
    }
  });

  describe.skipIf(!nativeSimdPaths().includes('avx512-bf16'))('opt-in avx512-bf16 dot-product path', () => {
    it('matches the reference to bf16 precision, and f32 weights exactly as the avx512 path', () => {
      const be = createNativeBackend({ simd: 'avx512-bf16', threads: 2 });
      const exact = backend('avx512', 2);
      expect(be.simd).toBe('avx512-bf16');
      const rand = rng(11);
      for (const [t, k, n] of [[1, 37, 53], [19, 129, 100]]) {
        const x = uniform(t * k, rand);
        const w = uniform(k * n, rand, 0.5);
        const bias = uniform(n, rand);
        const expected = new Float32Array(t * n);
        ref.matmul(expected, x, t, ref.prepareMatrix({ dtype: 'f32', data: w }, k, n, 'kn', 'bf16'), bias, 'gelu');
        const out = new Float32Array(t * n);
        be.matmul(out, x, t, be.prepareMatrix({ dtype: 'f32', data: w }, k, n, 'kn', 'bf16'), bias, 'gelu');
        // Activations rounded to bf16 (8 significant bits): errors of a few 1e-3 relative.
        expectClose(out, expected, 2e-2, `bf16 dot t=${t}`);
        const f32a = new Float32Array(t * n);
        const f32b = new Float32Array(t * n);
        be.matmul(f32a, x, t, be.prepareMatrix({ dtype: 'f32', data: w }, k, n, 'kn'), bias, 'none');
        exact.matmul(f32b, x, t, exact.prepareMatrix({ dtype: 'f32', data: w }, k, n, 'kn'), bias, 'none');
        expect(firstDifference(f32a, f32b)).toBe(-1);
      }
      be.dispose();
    });
  });

  describe('bad input', () => {
    it('names the op and argument, and refuses use after dispose', () => {
      const be = createNativeBackend({ threads: 1 });
      const w = be.prepareMatrix({ dtype: 'f32', data: new Float32Array(6) }, 2, 3, 'kn');
      expect(() => be.matmul(new Float32Array(6), new Float32Array(3), 2, w, null, 'none')).toThrow(/matmul: x holds 3 values, needs 2x2/);
      expect(() => be.matmul(new Float32Array(6), new Float32Array(4), 2, w, new Float32Array(2), 'none')).toThrow(/matmul: bias has 2 values/);
      expect(() => be.matmul(new Float32Array(6), new Float32Array(4), 2, ref.prepareMatrix({ dtype: 'f32', data: new Float32Array(6) }, 2, 3, 'kn'), null, 'none')).toThrow(/not prepared by the native backend/);
      expect(() => be.prepareMatrix({ dtype: 'f32', data: new Float32Array(5) }, 2, 3, 'kn')).toThrow(/prepareMatrix: weights hold 5 values, expected 2x3/);
      expect(() => be.prepareMatrix({ dtype: 'bf16', data: new Float32Array(6) }, 2, 3, 'kn')).toThrow(/prepareMatrix: weights must be a Uint16Array/);
      const table = { dtype: 'f32', data: new Float32Array(8) } as const;
      expect(() => be.embed(new Float32Array(4), table, table, Int32Array.of(4), Int32Array.of(0), 2)).toThrow(/embed: token id 4 at row 0 is outside the vocabulary/);
      expect(() => be.embed(new Float32Array(4), { dtype: 'bf16', data: new Float32Array(8) }, null, Int32Array.of(0), Int32Array.of(0), 2)).toThrow(/embed: wte must be a Uint16Array/);
      const cache: KVCacheLayer = { dtype: 'f32', k: new Float32Array(2 * 4 * 2), v: new Float32Array(2 * 4 * 2) };
      const meta: AttentionMeta = {
        numSeqs: 1, queryStart: Int32Array.of(0, 1), seqLens: Int32Array.of(5), blockTables: Int32Array.of(0, 7), maxBlocksPerSeq: 2,
        slotMapping: Int32Array.of(4), blockSize: 4,
      };
      expect(() => be.attention(new Float32Array(2), new Float32Array(6), cache, meta, 1, 2, 1)).toThrow(/attention: sequence 0 block 1 is 7, cache has 2 blocks/);
      expect(() => be.writeKV(cache, new Float32Array(6), 1, 1, 2, { ...meta, slotMapping: Int32Array.of(8) })).toThrow(/writeKV: row 0 maps to slot 8/);
      be.dispose();
      expect(() => be.matmul(new Float32Array(6), new Float32Array(4), 2, w, null, 'none')).toThrow(/disposed/);
      expect(() => createNativeBackend({ threads: 0 })).toThrow(/threads must be a positive integer/);
    });
  });
});
