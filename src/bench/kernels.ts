/**
 * Kernel benchmark of the native backend. First the machine's ceilings (f32 FMA peak on one core
 * and on all, large-buffer read and copy bandwidth), then every GPT-2 124M projection and the
 * lm_head at decode (t = 1, 4, 16) and prefill (t = 64, 256, 512) sizes, plus the projections at a
 * full chunked-prefill step (t = 2048, where the GEMM's cache blocking matters), in f32 and bf16 (and
 * the opt-in bf16 dot-product path), as GFLOP/s, GB/s and fractions of those ceilings. Weights are
 * cold (streamed from DRAM), as in a real forward pass. The quantized schemes (int8, int8-wo, q4)
 * run at GEMV (t = 1) and batched (t = 32, 128) sizes beside f32 and bf16; int8 is judged against
 * the int8 dot-product peak (a micro-benchmark of the variant's vpdpbusd / vpmaddubsw), the others
 * against the FMA peak. Last, paged attention at decode and prefill sizes (kernels-attention.ts).
 *
 *   npm run bench:kernels -- --quick --threads 2 --result-file bench-results/kernels.json
 */
import type { Backend, DType, Matrix, Quantization } from '../kernels/backend.js';
import { requireAddon } from '../kernels/native/addon.js';
import type { QuantAddon } from '../kernels/native/quant-addon.js';
import { createNativeBackend, nativeQuantPaths, nativeSimdPaths, quantSimdOf, type SimdPath } from '../kernels/native.js';
import { printAttentionBench, runAttentionBench, type AttentionRow } from './kernels-attention.js';
import { fixed, machineInfo, median, percent, printTable, targetColor, timeIt, uniform, writeJson, type MachineInfo } from './report.js';

interface CeilingValues {
  /** f32 FMA GFLOP/s on one core and on all threads of the pool. */
  fmaGflops1: number;
  fmaGflopsAll: number;
  /** GB/s reading a large buffer, and memcpy (read + written bytes), on all threads. */
  readGBs: number;
  copyGBs: number;
}

/**
 * The machine's ceilings: the best of several repetitions, since a ceiling is what the machine can
 * do and other load only ever lowers a measurement. The medians are kept alongside.
 */
export interface Ceilings extends CeilingValues {
  medians: CeilingValues;
  threads: number;
  simd: string;
}

/** Measures the ceilings with native micro-benchmarks. */
export function measureCeilings(threads: number, simd: SimdPath, quick = false): Ceilings {
  const addon = requireAddon();
  const { handle, threads: n } = addon.create(threads, simd);
  try {
    const reps = quick ? 3 : 9;
    const seconds = quick ? 0.1 : 0.2;
    const bytes = (quick ? 256 : 512) * 2 ** 20;
    const samples: Record<keyof CeilingValues, number[]> = {
      fmaGflops1: addon.benchFma(handle, false, seconds, reps),
      fmaGflopsAll: addon.benchFma(handle, true, seconds, reps),
      readGBs: addon.benchMemory(handle, 'read', bytes, reps),
      copyGBs: addon.benchMemory(handle, 'copy', bytes / 2, reps),
    };
    const pick = (f: (xs: number[]) => number): CeilingValues => ({
      fmaGflops1: f(samples.fmaGflops1), fmaGflopsAll: f(samples.fmaGflopsAll), readGBs: f(samples.readGBs), copyGBs: f(samples.copyGBs),
    });
    return { ...pick((xs) => Math.max(...xs)), medians: pick(median), threads: n, simd };
  } finally {
    addon.dispose(handle);
  }
}

/** Peak int8 dot-product rate of the default quantized kernels on `simd`, in GOP/s (a multiply-add is 2 ops), best of reps. */
export interface Int8Peak {
  /** The quantized-kernel variant measured ('avx512-vnni', 'avx512', 'avx-vnni', 'avx2', 'scalar'). */
  path: string;
  gops1: number;
  gopsAll: number;
}

export function measureInt8Peak(threads: number, simd: SimdPath, quick = false): Int8Peak {
  const addon = requireAddon() as ReturnType<typeof requireAddon> & QuantAddon;
  const { handle } = addon.create(threads, simd);
  try {
    const reps = quick ? 3 : 7;
    const seconds = quick ? 0.1 : 0.2;
    const best = (all: boolean) => Math.max(...Array.from({ length: reps }, () => 2 * addon.benchInt8(handle, '', all, seconds)));
    const probe = createNativeBackend({ threads: 1, simd });
    const path = quantSimdOf(probe.prepareMatrix({ dtype: 'f32', data: new Float32Array(4) }, 2, 2, 'kn', 'f32', 'int8')) ?? '?';
    probe.dispose();
    return { path, gops1: best(false), gopsAll: best(true) };
  } finally {
    addon.dispose(handle);
  }
}

/** GPT-2 124M's matmuls: [k -> n] and the layout the model prepares them in. */
export const GPT2_SHAPES = [
  { name: 'c_attn', k: 768, n: 2304, layout: 'kn' },
  { name: 'attn.c_proj', k: 768, n: 768, layout: 'kn' },
  { name: 'mlp.c_fc', k: 768, n: 3072, layout: 'kn' },
  { name: 'mlp.c_proj', k: 3072, n: 768, layout: 'kn' },
  { name: 'lm_head', k: 768, n: 50257, layout: 'nk' },
] as const;

export const DECODE_T = [1, 4, 16];
export const PREFILL_T = [64, 256, 512];
/** Rows of the quantized variants: single-stream decode and two batch sizes. */
export const QUANT_T = [1, 32, 128];
/** A whole chunked-prefill step's rows (the engine's default token budget); not run for lm_head. */
export const LONG_T = 2048;

export interface KernelRow {
  shape: string;
  k: number;
  n: number;
  t: number;
  /** 'f32', 'bf16', 'bf16-dot' (the opt-in vdpbf16ps path), or a quantization ('int8', 'int8-wo', 'q4'). */
  variant: string;
  seconds: number;
  gflops: number;
  /** Weights + activations in + out, per second. */
  gbs: number;
  /** Of the FMA peak, or for int8 of the int8 dot-product peak. */
  fracFma: number;
  fracBandwidth: number;
}

export interface KernelBenchOptions {
  threads?: number;
  /** Exact SIMD path for f32 / bf16 (default: the best). */
  simd?: SimdPath;
  /** Include the opt-in avx512-bf16 dot-product path where the CPU has it (default true). */
  bf16Dot?: boolean;
  /** Include the quantized schemes (default true). */
  quant?: boolean;
  /** Fewer repetitions and shapes (a smoke run). */
  quick?: boolean;
  /** Where the JSON goes (default bench-results/kernels.json); null to skip. */
  resultFile?: string | null;
  print?: boolean;
}

export interface KernelBenchResult {
  machine: MachineInfo;
  ceilings: Ceilings;
  /** Present when the quantized schemes ran. */
  int8Peak?: Int8Peak;
  rows: KernelRow[];
  /** Speed-up of 2+ threads over 1 on a large GEMM and a GEMV (f32). */
  scaling: { shape: string; t: number; threads: number; speedup: number }[];
  /** Paged attention, decode and prefill, on 1 thread and on all (see kernels-attention.ts). */
  attention: AttentionRow[];
}

/**
 * Copies of one matrix totalling at least this many bytes, used round-robin so every call streams
 * its weights from DRAM as in a real forward pass (GPT-2's 12 layers do not fit in the caches).
 */
const COLD_BYTES = 128 * 2 ** 20;

function prepareCopies(be: Backend, data: Float32Array, shape: (typeof GPT2_SHAPES)[number], dtype: DType, quant: Quantization | null = null): Matrix[] {
  const prepare = () => be.prepareMatrix({ dtype: 'f32', data }, shape.k, shape.n, shape.layout, dtype, quant);
  const first = prepare();
  const copies = [first];
  while (copies.length * first.bytes < COLD_BYTES) copies.push(prepare());
  return copies;
}

/** Median seconds of one `t`-row matmul, cycling through the copies. */
function timeMatmul(be: Backend, ws: Matrix[], t: number, x: Float32Array, out: Float32Array, quick: boolean): number {
  const big = 2 * t * ws[0].k * ws[0].n > 5e9;
  let i = 0;
  const call = () => be.matmul(out, x, t, ws[i++ % ws.length], null, 'none');
  return timeIt(call, { minReps: big || quick ? 3 : 5, minSeconds: quick ? 0.05 : 0.1, maxReps: 300 }).median;
}

export function runKernelBench(opts: KernelBenchOptions = {}): KernelBenchResult {
  const quick = opts.quick ?? false;
  const paths = nativeSimdPaths();
  const simd = opts.simd ?? paths.find((p) => p !== 'avx512-bf16') ?? 'scalar';
  const probe = createNativeBackend({ threads: opts.threads, simd });
  const threads = probe.threads;
  probe.dispose();
  const ceilings = measureCeilings(threads, simd, quick);

  const withQuant = (opts.quant ?? true) && nativeQuantPaths().length > 0;
  const int8Peak = withQuant ? measureInt8Peak(threads, simd, quick) : undefined;

  const variants: { variant: string; simd: SimdPath; dtype: DType; quant: Quantization | null }[] = [
    { variant: 'f32', simd, dtype: 'f32', quant: null },
    { variant: 'bf16', simd, dtype: 'bf16', quant: null },
  ];
  if ((opts.bf16Dot ?? true) && paths.includes('avx512-bf16')) variants.push({ variant: 'bf16-dot', simd: 'avx512-bf16', dtype: 'bf16', quant: null });
  if (withQuant) for (const quant of ['int8', 'int8-wo', 'q4'] as const) variants.push({ variant: quant, simd, dtype: 'f32', quant });
  const baseTs = quick ? [1, 16, 256] : [...DECODE_T, ...PREFILL_T];
  const quantTs = quick ? QUANT_T.slice(0, 2) : QUANT_T;
  // f32 and bf16 also run at the quantized batch sizes, so every scheme has its baseline beside it.
  const unquantTs = withQuant ? [...new Set([...baseTs, ...quantTs])].sort((a, b) => a - b) : baseTs;
  const shapeTs = (shape: (typeof GPT2_SHAPES)[number], quant: Quantization | null) =>
    quant ? quantTs : shape.name === 'lm_head' ? unquantTs : [...unquantTs, LONG_T];
  // Each shape's cases are timed in interleaved rounds (median over rounds), so a burst of other
  // load on the machine blurs every case a little instead of ruining a few.
  const rounds = quick ? 1 : 3;
  const rows: KernelRow[] = [];
  for (const shape of GPT2_SHAPES) {
    const maxT = Math.max(...shapeTs(shape, null));
    const data = uniform(shape.k * shape.n, shape.k + shape.n, 0.1);
    const x = uniform(maxT * shape.k, 7, 0.1);
    const out = new Float32Array(maxT * shape.n);
    const prepared = variants.map((v) => {
      const be = createNativeBackend({ threads, simd: v.simd });
      return { ...v, be, ws: prepareCopies(be, data, shape, v.dtype, v.quant), ts: shapeTs(shape, v.quant) };
    });
    const samples = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const p of prepared) {
        for (const t of p.ts) {
          const key = `${p.variant}/${t}`;
          samples.set(key, [...(samples.get(key) ?? []), timeMatmul(p.be, p.ws, t, x, out, quick)]);
        }
      }
    }
    for (const p of prepared) {
      for (const t of p.ts) {
        const seconds = median(samples.get(`${p.variant}/${t}`) ?? []);
        const gflops = (2 * t * shape.k * shape.n) / seconds / 1e9;
        const gbs = (p.ws[0].bytes + 4 * t * (shape.k + shape.n)) / seconds / 1e9;
        rows.push({
          shape: shape.name, k: shape.k, n: shape.n, t, variant: p.variant, seconds, gflops, gbs,
          fracFma: gflops / (p.quant === 'int8' && int8Peak ? int8Peak.gopsAll : ceilings.fmaGflopsAll), fracBandwidth: gbs / ceilings.readGBs,
        });
      }
      p.be.dispose();
    }
  }

  // Thread scaling: 1 thread and all threads alternately, median of the per-round speed-ups.
  const scaling: KernelBenchResult['scaling'] = [];
  if (threads > 1) {
    for (const [shapeIdx, t] of [[2, 256], [2, 1], [4, 1]] as const) {
      const shape = GPT2_SHAPES[shapeIdx];
      const data = uniform(shape.k * shape.n, 3, 0.1);
      const x = uniform(t * shape.k, 5, 0.1);
      const out = new Float32Array(t * shape.n);
      const [one, all] = [1, threads].map((n) => {
        const be = createNativeBackend({ threads: n, simd });
        return { be, ws: prepareCopies(be, data, shape, 'f32') };
      });
      const speedups: number[] = [];
      for (let r = 0; r < Math.max(rounds, 3); r++) {
        speedups.push(timeMatmul(one.be, one.ws, t, x, out, quick) / timeMatmul(all.be, all.ws, t, x, out, quick));
      }
      one.be.dispose();
      all.be.dispose();
      scaling.push({ shape: shape.name, t, threads, speedup: median(speedups) });
    }
  }

  const attention = runAttentionBench(threads, simd, ceilings.fmaGflops1, quick);

  const result: KernelBenchResult = { machine: machineInfo(), ceilings, int8Peak, rows, scaling, attention };
  if (opts.print ?? true) printKernelBench(result);
  const file = opts.resultFile === undefined ? 'bench-results/kernels.json' : opts.resultFile;
  if (file) console.log(`\nwrote ${writeJson(file, result)}`);
  return result;
}

export function printKernelBench(r: KernelBenchResult): void {
  const c = r.ceilings;
  console.log(`${r.machine.cpu}, ${c.threads} thread(s), SIMD ${c.simd}, Node ${r.machine.node}; kernel times are medians of repetitions`);
  printTable('Machine ceilings (best of repetitions; median beside)', [
    { header: 'measure', value: (row: [string, keyof CeilingValues, string]) => row[0] },
    { header: 'best', value: (row) => fixed(c[row[1]]) },
    { header: 'median', value: (row) => fixed(c.medians[row[1]]) },
    { header: 'unit', value: (row) => row[2] },
  ], [
    ['f32 FMA peak, 1 core', 'fmaGflops1', 'GFLOP/s'],
    [`f32 FMA peak, ${c.threads} threads`, 'fmaGflopsAll', 'GFLOP/s'],
    ['memory read bandwidth', 'readGBs', 'GB/s'],
    ['memory copy bandwidth (read + write)', 'copyGBs', 'GB/s'],
  ]);
  if (r.int8Peak) {
    const p = r.int8Peak;
    console.log(`int8 dot-product peak (${p.path}, best of repetitions): ${fixed(p.gops1)} GOP/s on 1 core, ${fixed(p.gopsAll)} GOP/s on ${c.threads} threads`);
  }
  // Decode (small t) is judged by bandwidth, prefill by FMA peak (int8: its dot-product peak).
  printTable('Matmul kernels (out = x . W, no epilogue)', [
    { header: 'shape', value: (row: KernelRow) => `${row.shape} ${row.k}->${row.n}` },
    { header: 't', value: (row) => row.t },
    { header: 'weights', value: (row) => row.variant },
    { header: 'µs', value: (row) => fixed(row.seconds * 1e6, 0) },
    { header: 'GFLOP/s', value: (row) => fixed(row.gflops) },
    { header: 'GB/s', value: (row) => fixed(row.gbs) },
    { header: '% peak', value: (row) => percent(row.fracFma), color: (row) => (row.t >= 256 ? targetColor(row.fracFma, 0.6) : undefined) },
    { header: '% bandwidth', value: (row) => percent(row.fracBandwidth), color: (row) => (row.t === 1 ? targetColor(row.fracBandwidth, 0.7) : undefined) },
  ], r.rows);
  if (r.scaling.length) {
    printTable('Thread scaling (f32)', [
      { header: 'shape', value: (row: KernelBenchResult['scaling'][number]) => row.shape },
      { header: 't', value: (row) => row.t },
      { header: 'threads', value: (row) => row.threads },
      { header: 'speed-up vs 1 thread', value: (row) => `${fixed(row.speedup, 2)}x` },
    ], r.scaling);
  }
  printAttentionBench(r.attention, c.readGBs);
}
