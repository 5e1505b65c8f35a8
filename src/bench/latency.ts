/**
 * Single-stream latency of a GPT-2 124M-shaped model (synthetic weights) on the native backend:
 * prefill tokens/s and greedy decode tokens/s, in F32 and BF16. Beside each, the ceiling the
 * machine allows: decode streams every weight once per token, so it is bounded by
 * bandwidth / weight bytes per token; prefill is bounded by the FMA peak.
 *
 *   node dist/bench/latency.js [--dtypes f32,bf16 --prompt-len 512 --decode-len 128 --threads 2]
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { DType } from '../kernels/backend.js';
import { createNativeBackend, nativeSimdPaths, type SimdPath } from '../kernels/native.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { GPT2Model } from '../model/gpt2.js';
import { SingleSequence } from '../model/single-sequence.js';
import { writeSyntheticCheckpoint } from '../model/synthetic.js';
import { measureCeilings, type Ceilings } from './kernels.js';
import { fixed, machineInfo, median, percent, printTable, targetColor, writeJson, type MachineInfo } from './report.js';

export interface ModelShape {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
}

/** GPT-2 124M ("gpt2"). */
export const GPT2_124M: ModelShape = { nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024 };
const VOCAB = 50257;

export interface LatencyBenchOptions {
  dtypes?: DType[];
  threads?: number;
  simd?: SimdPath;
  model?: ModelShape;
  /** Tokens in the measured prefill (one chunk). Default 512. */
  promptLen?: number;
  /** Greedy decode steps measured after a short prompt. Default 128. */
  decodeLen?: number;
  /** Prefill repetitions (median). Default 5. */
  reps?: number;
  /** Where synthetic checkpoints are written (and reused). Default: the OS temp dir. */
  cacheDir?: string;
  /** Reuse measured ceilings (e.g. from the kernel benchmark) instead of measuring them. */
  ceilings?: Ceilings;
  resultFile?: string | null;
  print?: boolean;
}

export interface LatencyRow {
  dtype: DType;
  /** Bytes of matmul weights streamed per decoded token (all layers + lm_head). */
  weightBytesPerToken: number;
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
}

export interface LatencyBenchResult {
  machine: MachineInfo;
  ceilings: Ceilings;
  model: ModelShape;
  simd: string;
  threads: number;
  rows: LatencyRow[];
}

const BYTES: Record<DType, number> = { f32: 4, bf16: 2, f16: 2 };

/** Matmul weight elements streamed per token: c_attn, attn.c_proj, c_fc, mlp.c_proj per layer, then lm_head. */
function matmulParams(m: ModelShape): number {
  return m.nLayer * 12 * m.nEmbd * m.nEmbd + VOCAB * m.nEmbd;
}

/** Flops of a `t`-token prefill that samples one row: 2 per weight per row, attention, one lm_head row. */
function prefillFlops(m: ModelShape, t: number): number {
  const layers = m.nLayer * (2 * t * 12 * m.nEmbd * m.nEmbd + 2 * t * (t + 1) * m.nEmbd);
  return layers + 2 * VOCAB * m.nEmbd;
}

function checkpointDir(cacheDir: string, m: ModelShape, dtype: DType): string {
  const dir = join(cacheDir, `gpt2-synthetic-${m.nLayer}l-${m.nEmbd}d-${dtype}`);
  if (!existsSync(join(dir, 'config.json')) || !existsSync(join(dir, 'model.safetensors'))) {
    writeSyntheticCheckpoint(dir, { ...m, dtype });
  }
  return dir;
}

export function runLatencyBench(opts: LatencyBenchOptions = {}): LatencyBenchResult {
  const m = opts.model ?? GPT2_124M;
  const dtypes = opts.dtypes ?? ['f32', 'bf16'];
  const promptLen = opts.promptLen ?? 512;
  const decodeLen = opts.decodeLen ?? 128;
  const reps = opts.reps ?? 5;
  if (promptLen + 1 > m.nPositions || 32 + decodeLen > m.nPositions) throw new Error(`latency bench: prompt/decode lengths exceed the context of ${m.nPositions}`);
  const simd = opts.simd ?? nativeSimdPaths().find((p) => p !== 'avx512-bf16') ?? 'scalar';
  const backend = createNativeBackend({ threads: opts.threads, simd });
  const ceilings = opts.ceilings ?? measureCeilings(backend.threads, simd);
  const rows: LatencyRow[] = [];
  try {
    for (const dtype of dtypes) {
      const ckpt = loadCheckpoint(checkpointDir(opts.cacheDir ?? join(tmpdir(), 'tinyvllm-bench'), m, dtype));
      const model = GPT2Model.fromCheckpoint(ckpt, backend, { dtype });
      const rand = (i: number) => (i * 7919 + 13) % (VOCAB - 1);

      // Prefill: one chunk of promptLen tokens into an empty sequence.
      const seq = new SingleSequence(model, { maxLen: Math.max(promptLen, 32 + decodeLen) + 1 });
      const prompt = Array.from({ length: promptLen }, (_, i) => rand(i));
      const prefillTimes: number[] = [];
      for (let r = 0; r <= reps; r++) {
        seq.reset();
        const t0 = performance.now();
        seq.prefill(prompt);
        if (r > 0) prefillTimes.push((performance.now() - t0) / 1000); // the first run warms up
      }
      const prefillS = median(prefillTimes);

      // Decode: greedy steps after a 32-token prompt, one token at a time.
      seq.reset();
      let logits = seq.prefill(prompt.slice(0, 32));
      const stepTimes: number[] = [];
      for (let i = 0; i < decodeLen; i++) {
        const token = backend.argmax(logits, VOCAB);
        const t0 = performance.now();
        logits = seq.step(token);
        stepTimes.push((performance.now() - t0) / 1000);
      }
      const stepS = median(stepTimes);

      const weightBytes = matmulParams(m) * BYTES[dtype];
      const ceiling = (ceilings.readGBs * 1e9) / weightBytes;
      const gflops = prefillFlops(m, promptLen) / prefillS / 1e9;
      rows.push({
        dtype, weightBytesPerToken: weightBytes, prefillTokens: promptLen, prefillTokPerS: promptLen / prefillS, prefillGflops: gflops,
        prefillFracFma: gflops / ceilings.fmaGflopsAll, decodeTokPerS: 1 / stepS, decodeMsPerToken: stepS * 1000,
        decodeCeilingTokPerS: ceiling, decodeFracCeiling: 1 / stepS / ceiling,
      });
    }
  } finally {
    backend.dispose();
  }
  const result: LatencyBenchResult = { machine: machineInfo(), ceilings, model: m, simd: backend.simd, threads: backend.threads, rows };
  if (opts.print ?? true) printLatencyBench(result);
  const file = opts.resultFile === undefined ? 'bench-results/latency.json' : opts.resultFile;
  if (file) console.log(`\nwrote ${writeJson(file, result)}`);
  return result;
}

export function printLatencyBench(r: LatencyBenchResult): void {
  const c = r.ceilings;
  console.log(
    `${r.machine.cpu}, ${r.threads} thread(s), SIMD ${r.simd}; ceilings: ${fixed(c.readGBs)} GB/s read, ${fixed(c.fmaGflopsAll)} GFLOP/s FMA — medians`,
  );
  printTable(`Single-stream latency, GPT-2 ${r.model.nLayer}L/${r.model.nEmbd}d (synthetic weights)`, [
    { header: 'weights', value: (row: LatencyRow) => row.dtype },
    { header: 'MB/token', value: (row) => fixed(row.weightBytesPerToken / 1e6, 0) },
    { header: 'prefill tok/s', value: (row) => `${fixed(row.prefillTokPerS, 0)} (${row.prefillTokens} tok)` },
    { header: 'prefill GFLOP/s', value: (row) => fixed(row.prefillGflops) },
    { header: '% FMA peak', value: (row) => percent(row.prefillFracFma) },
    { header: 'decode tok/s', value: (row) => fixed(row.decodeTokPerS) },
    { header: 'ms/token', value: (row) => fixed(row.decodeMsPerToken, 2) },
    { header: 'bandwidth ceiling tok/s', value: (row) => fixed(row.decodeCeilingTokPerS) },
    { header: '% of ceiling', value: (row) => percent(row.decodeFracCeiling), color: (row) => targetColor(row.decodeFracCeiling, 0.6) },
  ], r.rows);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      dtypes: { type: 'string', default: 'f32,bf16' },
      threads: { type: 'string' },
      simd: { type: 'string' },
      'prompt-len': { type: 'string', default: '512' },
      'decode-len': { type: 'string', default: '128' },
      layers: { type: 'string' },
      out: { type: 'string', default: 'bench-results/latency.json' },
    },
  });
  runLatencyBench({
    dtypes: values.dtypes.split(',') as DType[],
    threads: values.threads ? Number(values.threads) : undefined,
    simd: values.simd as SimdPath | undefined,
    promptLen: Number(values['prompt-len']),
    decodeLen: Number(values['decode-len']),
    model: values.layers ? { ...GPT2_124M, nLayer: Number(values.layers) } : GPT2_124M,
    resultFile: values.out,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
