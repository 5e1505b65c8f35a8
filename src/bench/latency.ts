/**
 * Single-stream latency: prefill tokens/s and greedy decode tokens/s of one sequence, in F32 and
 * BF16, by default on a GPT-2 124M-shaped synthetic checkpoint. Beside each, the ceiling the
 * machine allows: decode streams every matmul weight once per token, so it is bounded by
 * read bandwidth / weight bytes per token; prefill is bounded by the FMA peak.
 *
 *   npm run bench:decode -- --dtype f32 bf16 --prompt-len 512 --decode-tokens 128 --threads 2
 */
import type { EngineOptions } from '../engine/engine-client.js';
import type { DType, KVCacheDType, Quantization } from '../kernels/backend.js';
import { nativeAvailable, nativeSimdPaths } from '../kernels/native.js';
import type { ModelConfig } from '../model/config.js';
import { loadModel } from '../model/load.js';
import { SingleSequence } from '../model/single-sequence.js';
import { measureCeilings, type Ceilings } from './kernels.js';
import { fixed, machineInfo, median, percent, printTable, targetColor, writeJson, type MachineInfo } from './report.js';
import { attentionWidths, benchModel, layerParams, matmulParams } from './model-shape.js';

export interface LatencyBenchOptions {
  /** Checkpoint directory or hub name; default: a synthetic GPT-2 124M-shaped checkpoint. */
  model?: string;
  backend?: EngineOptions['backend'];
  /** Native SIMD path (default 'auto'); 'avx512-bf16' is the fast, less exact bf16 dot-product path. */
  simd?: EngineOptions['simd'];
  threads?: number;
  /** Precisions to compute from (the checkpoint is converted once at load). Default f32 and bf16. */
  dtypes?: DType[];
  /** Quantization schemes measured after the `dtypes` rows, in the same run (default none). */
  quantizations?: Quantization[];
  /** Quantize the lm_head too in those rows (default: it stays bf16). */
  quantizeLmHead?: boolean;
  /** Tokens in the measured prefill (one chunk into an empty sequence). Default 512. */
  promptLen?: number;
  /** Greedy decode steps measured after a 32-token prompt. Default 128. */
  decodeTokens?: number;
  /** KV cache precision; 'auto' (default) is the model's compute dtype, as in the engine. */
  kvCacheDtype?: 'auto' | KVCacheDType;
  /** Prefill repetitions (median). Default 5. */
  reps?: number;
  /**
   * Decode goes in this many interleaved rounds over all rows (default 3): every model stays
   * loaded and each round decodes its share of the tokens on each in turn, so load that comes
   * and goes on a shared machine falls on every row alike and the ratios between rows hold.
   */
  rounds?: number;
  /** Reuse ceilings measured elsewhere (e.g. by the kernel benchmark) instead of measuring them. */
  ceilings?: Ceilings;
  /** Where the JSON goes (default bench-results/latency.json); null to skip. */
  resultFile?: string | null;
  print?: boolean;
}

export interface LatencyRow {
  /** The unquantized precision (for a quantized row: the lm_head's, unless it is quantized too). */
  dtype: DType;
  quantization: Quantization | null;
  lmHeadQuantized: boolean;
  backend: string;
  /** Bytes of matmul weights streamed per decoded token (every layer, then lm_head). */
  weightBytesPerToken: number;
  kvCacheDtype: KVCacheDType;
  prefillTokens: number;
  prefillTokPerS: number;
  prefillGflops: number;
  /** Prefill GFLOP/s over the all-core FMA peak. */
  prefillFracFma: number;
  decodeTokPerS: number;
  /** Median milliseconds per decode step. */
  decodeMsPerToken: number;
  /** Read bandwidth / weight bytes per token. */
  decodeCeilingTokPerS: number;
  decodeFracCeiling: number;
  /**
   * Decode speed over the baseline row's (the first unquantized one: bf16 when measured), the
   * median of the rounds' ratios of median step times; null without a baseline.
   */
  decodeVsBaseline: number | null;
  /** That ratio in each round. */
  decodeVsBaselineRounds: number[];
}

export interface LatencyBenchResult {
  machine: MachineInfo;
  model: string;
  /** Null when the native addon (which measures them) is not built. */
  ceilings: Ceilings | null;
  rows: LatencyRow[];
}

const BYTES: Record<DType, number> = { f32: 4, bf16: 2, f16: 2 };

/** Flops of a `t`-token prefill into an empty sequence that samples its last row. */
function prefillFlops(c: ModelConfig, t: number): number {
  const attention = 2 * t * (t + 1) * attentionWidths(c).attnWidth; // QK^T and PV over the causal triangle
  return c.nLayer * (2 * t * layerParams(c) + attention) + 2 * c.vocabSize * c.nEmbd;
}

export async function runLatencyBench(opts: LatencyBenchOptions = {}): Promise<LatencyBenchResult> {
  const dtypes = opts.dtypes ?? ['f32', 'bf16'];
  const promptLen = opts.promptLen ?? 512;
  const decodeTokens = opts.decodeTokens ?? 128;
  const reps = opts.reps ?? 5;
  const modelName = benchModel(opts.model, 'f32');
  const print = opts.print ?? true;
  let ceilings = opts.ceilings ?? null;
  const rows: LatencyRow[] = [];
  const runs: { dtype?: DType; quantization: Quantization | null }[] = [
    ...dtypes.map((dtype) => ({ dtype, quantization: null })),
    ...(opts.quantizations ?? []).map((quantization) => ({ quantization })),
  ];
  const rounds = opts.rounds ?? 3;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`latency bench: rounds must be a positive integer, got ${rounds}`);
  type Loaded = Awaited<ReturnType<typeof loadModel>>;
  const loaded: { model: Loaded['model']; backend: Loaded['backend']; seq: SingleSequence; kvCacheDtype: KVCacheDType; prefillS: number; stepTimes: number[][]; logits: Float32Array }[] = [];
  const backends: Loaded['backend'][] = [];
  try {
    for (const { dtype, quantization } of runs) {
      const { model, backend } = await loadModel(modelName, {
        backend: opts.backend ?? 'native', threads: opts.threads, simd: opts.simd, dtype, quantization, quantizeLmHead: quantization !== null && opts.quantizeLmHead === true,
      });
      backends.push(backend);
      const cfg = model.config;
      if (promptLen + 1 > cfg.nPositions || 32 + decodeTokens > cfg.nPositions) {
        throw new Error(`latency bench: --prompt-len ${promptLen} / --decode-tokens ${decodeTokens} exceed the context of ${cfg.nPositions}`);
      }
      if (!ceilings && nativeAvailable()) {
        ceilings = measureCeilings(backend.threads, nativeSimdPaths().find((p) => p !== 'avx512-bf16') ?? 'scalar');
      }
      const kvCacheDtype = !opts.kvCacheDtype || opts.kvCacheDtype === 'auto' ? model.dtype : opts.kvCacheDtype;
      const seq = new SingleSequence(model, { maxLen: Math.max(promptLen, 32 + decodeTokens), kvCacheDtype });
      const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7919 + 13) % (cfg.vocabSize - 1));

      // Prefill: one chunk into an empty sequence; the first run warms up.
      const prefillTimes: number[] = [];
      for (let r = 0; r <= reps; r++) {
        seq.reset();
        const t0 = performance.now();
        seq.prefill(prompt);
        if (r > 0) prefillTimes.push((performance.now() - t0) / 1000);
      }
      // Decode starts from a 32-token prompt.
      seq.reset();
      loaded.push({ model, backend, seq, kvCacheDtype, prefillS: median(prefillTimes), stepTimes: [], logits: seq.prefill(prompt.slice(0, 32)) });
    }

    // Decode: greedy steps, one token at a time, the rows taking turns round by round.
    for (let r = 0; r < rounds; r++) {
      const steps = Math.floor((decodeTokens * (r + 1)) / rounds) - Math.floor((decodeTokens * r) / rounds);
      for (const l of loaded) {
        l.stepTimes.push([]);
        for (let i = 0; i < steps; i++) {
          const token = l.backend.argmax(l.logits, l.model.config.vocabSize);
          const t0 = performance.now();
          l.logits = l.seq.step(token);
          l.stepTimes[r]!.push((performance.now() - t0) / 1000);
        }
      }
    }

    // Per round, each row's median step; ratios against the baseline row's in the same round.
    const roundSteps = loaded.map((l) => l.stepTimes.filter((t) => t.length > 0).map(median));
    const baseline = baselineIndex(loaded.map((l) => l.model));
    for (const [i, { model, backend, kvCacheDtype, prefillS, stepTimes }] of loaded.entries()) {
      const cfg = model.config;
      const stepS = median(stepTimes.flat());
      const ratios = baseline < 0 ? [] : roundSteps[i]!.map((t, k) => roundSteps[baseline]![k]! / t);
      // Quantized layers stream their prepared bytes (the few f32 vectors included); an unquantized
      // lm_head streams its half-precision values.
      const layerPerValue = model.quantization ? model.layerBytes / layerParams(cfg) : BYTES[model.dtype];
      const headPerValue = model.quantization && !model.lmHeadQuantized ? BYTES[model.dtype] : layerPerValue;
      const weightBytes = cfg.nLayer * layerParams(cfg) * layerPerValue + (matmulParams(cfg) - cfg.nLayer * layerParams(cfg)) * headPerValue;
      const ceiling = ceilings ? (ceilings.readGBs * 1e9) / weightBytes : NaN;
      const gflops = prefillFlops(cfg, promptLen) / prefillS / 1e9;
      rows.push({
        dtype: model.dtype, quantization: model.quantization, lmHeadQuantized: model.lmHeadQuantized, backend: `${backend.name} ${backend.simd} x${backend.threads}`, weightBytesPerToken: weightBytes, kvCacheDtype,
        prefillTokens: promptLen, prefillTokPerS: promptLen / prefillS, prefillGflops: gflops,
        prefillFracFma: ceilings ? gflops / ceilings.fmaGflopsAll : NaN,
        decodeTokPerS: 1 / stepS, decodeMsPerToken: stepS * 1000, decodeCeilingTokPerS: ceiling, decodeFracCeiling: 1 / stepS / ceiling,
        decodeVsBaseline: ratios.length ? median(ratios) : null, decodeVsBaselineRounds: ratios,
      });
    }
  } finally {
    for (const b of backends) b.dispose();
  }
  const result: LatencyBenchResult = { machine: machineInfo(), model: modelName, ceilings, rows };
  if (print) printLatencyBench(result);
  const file = opts.resultFile === undefined ? 'bench-results/latency.json' : opts.resultFile;
  if (file) console.log(`\nwrote ${writeJson(file, result)}`);
  return result;
}

/** The row quantized rows are compared with: the first unquantized bf16 one, else the first unquantized; -1 if none. */
function baselineIndex(rows: readonly { quantization: Quantization | null; dtype: DType }[]): number {
  const bf16 = rows.findIndex((r) => r.quantization === null && r.dtype === 'bf16');
  return bf16 >= 0 ? bf16 : rows.findIndex((r) => r.quantization === null);
}

function baselineName(rows: readonly LatencyRow[]): string {
  return rows[baselineIndex(rows)]?.dtype ?? 'baseline';
}

export function printLatencyBench(r: LatencyBenchResult): void {
  const c = r.ceilings;
  const limits = c ? `ceilings: ${fixed(c.readGBs)} GB/s read, ${fixed(c.fmaGflopsAll)} GFLOP/s FMA on ${c.threads} threads` : 'no ceilings (native addon not built)';
  console.log(`${r.machine.cpu}; ${limits} (best of repetitions); timings are medians`);
  printTable(`Single-stream latency: ${r.model}`, [
    { header: 'weights', value: (row: LatencyRow) => (row.quantization ? `${row.quantization}${row.lmHeadQuantized ? ' (+lm_head)' : ` (${row.dtype} lm_head)`}` : row.dtype) },
    { header: 'backend', value: (row) => row.backend },
    { header: 'KV', value: (row) => row.kvCacheDtype },
    { header: 'MB/token', value: (row) => fixed(row.weightBytesPerToken / 1e6, 0) },
    { header: 'prefill tok/s', value: (row) => `${fixed(row.prefillTokPerS, 0)} (${row.prefillTokens} tok)` },
    { header: 'prefill GFLOP/s', value: (row) => fixed(row.prefillGflops) },
    { header: '% FMA peak', value: (row) => percent(row.prefillFracFma) },
    { header: 'decode tok/s', value: (row) => fixed(row.decodeTokPerS) },
    { header: 'ms/token', value: (row) => fixed(row.decodeMsPerToken, 2) },
    ...(r.rows.some((row) => row.decodeVsBaseline !== null && row.quantization !== null)
      ? [{ header: `decode vs ${baselineName(r.rows)} (rounds)`, value: (row: LatencyRow) => (row.decodeVsBaseline === null ? '' : `${fixed(row.decodeVsBaseline, 2)}x (${row.decodeVsBaselineRounds.map((x) => fixed(x, 2)).join(' / ')})`) }]
      : []),
    { header: 'bandwidth ceiling tok/s', value: (row) => fixed(row.decodeCeilingTokPerS) },
    { header: '% of ceiling', value: (row) => percent(row.decodeFracCeiling), color: (row) => targetColor(row.decodeFracCeiling, 0.6) },
  ], r.rows);
}
