/**
 * Accuracy of each quantization scheme against the same model computing in f32: over a few hundred
 * positions of held-out text (accuracy-text.ts), the mean and max KL divergence of the next-token
 * distribution, top-1 agreement, and over greedy continuations of each passage's opening, the share
 * of tokens generated before the first divergence. Rows without calibration ('int8' without
 * SmoothQuant, the weight-only schemes without activation-aware scales) show what it buys.
 *
 *   tinyvllm bench accuracy --model kjv-mini
 *   tinyvllm bench accuracy --model synthetic:gpt2-124m-outliers --quantization int8 int8-wo
 */
import { QUANTIZATIONS, type Quantization } from '../kernels/backend.js';
import type { EngineOptions } from '../engine/engine-client.js';
import { loadModel } from '../model/load.js';
import type { CausalLM } from '../model/model.js';
import { SingleSequence } from '../model/single-sequence.js';
import { DEFAULT_SMOOTHQUANT_ALPHA, parseQuantization } from '../model/quantization.js';
import { ACCURACY_TEXTS } from './accuracy-text.js';
import { argmaxRow, compareLogits, DECISIVE_MARGIN, greedyAgreement } from './accuracy-metrics.js';
import { benchModel } from './model-shape.js';
import { fixed, machineInfo, printTable, writeJson, type MachineInfo } from './report.js';

export interface AccuracyBenchOptions {
  /** Checkpoint directory, hub name or synthetic:SHAPE; default kjv-mini. */
  model?: string;
  backend?: EngineOptions['backend'];
  simd?: EngineOptions['simd'];
  threads?: number;
  /** Schemes to measure (default all). */
  schemes?: Quantization[];
  /** SmoothQuant alpha for 'int8' (default 0.5). */
  smoothQuantAlpha?: number;
  /** Add a row without calibration per scheme: 'int8' without SmoothQuant, weight-only without activation-aware scales (default true). */
  unsmoothed?: boolean;
  quantizeLmHead?: boolean;
  /** Most positions scored, shared equally by the passages (default 512: all of the text with GPT-2's tokenizer). */
  maxPositions?: number;
  /** Greedy tokens generated after each passage's opening (default 32). */
  continuationTokens?: number;
  /** Where the JSON goes (default bench-results/accuracy.json); null to skip. */
  resultFile?: string | null;
  print?: boolean;
}

export interface AccuracyRow {
  scheme: Quantization;
  /** SmoothQuant alpha ('int8' only; null: without smoothing). */
  smoothQuantAlpha: number | null;
  /** Activation-aware scales (weight-only schemes only). */
  activationAware: boolean;
  lmHeadQuantized: boolean;
  weightBytes: number;
  positions: number;
  meanKl: number;
  maxKl: number;
  top1Agreement: number;
  /** Positions whose f32 top-two logits differ by at least DECISIVE_MARGIN (not near ties). */
  decisivePositions: number;
  /** Top-1 agreement over those. */
  top1AgreementDecisive: number;
  /** Mean share of greedy tokens before the first divergence from f32. */
  greedyAgreement: number;
  loadSeconds: number;
}

export interface AccuracyBenchResult {
  machine: MachineInfo;
  model: string;
  backend: string;
  reference: { dtype: 'f32'; weightBytes: number };
  continuationTokens: number;
  continuations: number;
  rows: AccuracyRow[];
}

/** Prompt tokens each continuation starts from. */
const OPENING = 12;

/** Positions scored by default: all of the text with GPT-2's tokenizer (about 450). */
export const DEFAULT_MAX_POSITIONS = 512;

/**
 * Each passage's tokens, cut to the context and to an equal share of `maxPositions`, so every kind
 * of text is scored whatever the tokenizer (a byte-level stand-in makes one token per character).
 */
export function accuracyPassages(encode: (t: string) => number[], nPositions: number, maxPositions = DEFAULT_MAX_POSITIONS): number[][] {
  const share = Math.ceil(maxPositions / ACCURACY_TEXTS.length);
  return ACCURACY_TEXTS.map((text) => encode(text).slice(0, Math.min(nPositions, share))).filter((ids) => ids.length > 0);
}

/** Logits after every token of each passage (each its own sequence), stacked `[positions, vocab]`. */
export function passageLogits(model: CausalLM, passages: readonly number[][]): Float32Array {
  const V = model.config.vocabSize;
  const total = passages.reduce((n, p) => n + p.length, 0);
  const out = new Float32Array(total * V);
  const maxLen = Math.max(...passages.map((p) => p.length));
  const cache = model.createKVCache(Math.ceil(maxLen / 16), 16);
  let row = 0;
  for (const p of passages) {
    const n = p.length;
    const positions = Int32Array.from({ length: n }, (_, i) => i);
    const blocks = Math.ceil(n / 16);
    const attn = {
      numSeqs: 1, queryStart: Int32Array.of(0, n), seqLens: Int32Array.of(n), blockTables: Int32Array.from({ length: blocks }, (_, i) => i),
      maxBlocksPerSeq: blocks, slotMapping: positions, blockSize: 16,
    };
    const logits = model.forward({ tokens: Int32Array.from(p), positions, attn, logitRows: positions }, cache);
    out.set(logits, row * V);
    row += n;
  }
  return out;
}

/** Greedy continuations of `tokens` new ids after each passage's opening. */
export function greedyContinuations(model: CausalLM, passages: readonly number[][], tokens: number): number[][] {
  const V = model.config.vocabSize;
  return passages.map((p) => {
    const opening = p.slice(0, OPENING);
    const seq = new SingleSequence(model, { maxLen: Math.min(model.config.nPositions, opening.length + tokens) });
    let logits = seq.prefill(opening);
    const out: number[] = [];
    for (;;) {
      out.push(argmaxRow(logits, 0, V));
      if (out.length >= tokens || seq.length >= seq.maxLen) return out;
      logits = seq.step(out[out.length - 1]!);
    }
  });
}

export async function runAccuracyBench(opts: AccuracyBenchOptions = {}): Promise<AccuracyBenchResult> {
  const schemes = (opts.schemes ?? [...QUANTIZATIONS]).map((s) => parseQuantization(s, 'accuracy bench: --quantization') as Quantization);
  const alpha = opts.smoothQuantAlpha ?? DEFAULT_SMOOTHQUANT_ALPHA;
  const contTokens = opts.continuationTokens ?? 32;
  const modelName = benchModel(opts.model ?? 'kjv-mini', 'f32');
  const print = opts.print ?? true;
  const log = (s: string): void => void (print && process.stderr.write(`${s}\n`));
  const load = (quantization: Quantization | null, smoothQuantAlpha: number | null, activationAware = false) =>
    loadModel(modelName, {
      backend: opts.backend ?? 'auto', threads: opts.threads, simd: opts.simd, dtype: quantization ? 'auto' : 'f32',
      quantization, quantizeLmHead: quantization ? opts.quantizeLmHead : false, smoothQuantAlpha, activationAware,
    });

  log('f32 reference');
  const ref = await load(null, null);
  let passages: number[][];
  let refLogits: Float32Array;
  let refGreedy: number[][];
  const backendName = `${ref.backend.name} ${ref.backend.simd} x${ref.backend.threads}`;
  const refBytes = ref.model.weightBytes;
  try {
    passages = accuracyPassages((t) => ref.tokenizer.encode(t), ref.model.config.nPositions, opts.maxPositions);
    refLogits = passageLogits(ref.model, passages);
    refGreedy = greedyContinuations(ref.model, passages, contTokens);
  } finally {
    ref.backend.dispose();
  }
  const V = ref.model.config.vocabSize;
  const positions = passages.reduce((n, p) => n + p.length, 0);

  const runs: { scheme: Quantization; alpha: number | null; aware: boolean }[] = [];
  for (const s of schemes) {
    if (opts.unsmoothed ?? true) runs.push({ scheme: s, alpha: null, aware: false });
    runs.push({ scheme: s, alpha: s === 'int8' ? alpha : null, aware: s !== 'int8' });
  }
  const rows: AccuracyRow[] = [];
  for (const run of runs) {
    await new Promise((r) => setImmediate(r)); // let timers and I/O (progress, a test runner) through between models
    log(schemeLabel(run.scheme, run.alpha, run.aware));
    const t0 = performance.now();
    const q = await load(run.scheme, run.alpha, run.aware);
    const loadSeconds = (performance.now() - t0) / 1000;
    try {
      const agree = compareLogits(refLogits, passageLogits(q.model, passages), positions, V);
      rows.push({
        scheme: run.scheme, smoothQuantAlpha: run.alpha, activationAware: run.aware, lmHeadQuantized: q.model.lmHeadQuantized, weightBytes: q.model.weightBytes, positions,
        meanKl: agree.meanKl, maxKl: agree.maxKl, top1Agreement: agree.top1,
        decisivePositions: agree.decisivePositions, top1AgreementDecisive: agree.top1Decisive,
        greedyAgreement: greedyAgreement(refGreedy, greedyContinuations(q.model, passages, contTokens)), loadSeconds,
      });
    } finally {
      q.backend.dispose();
    }
  }
  const result: AccuracyBenchResult = {
    machine: machineInfo(), model: opts.model ?? 'kjv-mini', backend: backendName, reference: { dtype: 'f32', weightBytes: refBytes },
    continuationTokens: contTokens, continuations: passages.length, rows,
  };
  if (print) printAccuracyBench(result);
  const file = opts.resultFile === undefined ? 'bench-results/accuracy.json' : opts.resultFile;
  if (file) console.log(`\nwrote ${writeJson(file, result)}`);
  return result;
}

function schemeLabel(scheme: Quantization, alpha: number | null, aware: boolean): string {
  if (scheme === 'int8') return alpha === null ? 'int8 (no SmoothQuant)' : `int8 (SmoothQuant ${alpha})`;
  return aware ? `${scheme} (activation-aware)` : `${scheme} (as stored)`;
}

export function printAccuracyBench(r: AccuracyBenchResult): void {
  const positions = r.rows[0]?.positions ?? 0;
  printTable(`Accuracy against f32: ${r.model} (${r.backend}), ${positions} positions, ${r.continuations} greedy continuations of ${r.continuationTokens} tokens`, [
    { header: 'scheme', value: (row: AccuracyRow) => schemeLabel(row.scheme, row.smoothQuantAlpha, row.activationAware) + (row.lmHeadQuantized ? ' +lm_head' : '') },
    { header: 'weights MB', value: (row) => fixed(row.weightBytes / 1e6) },
    { header: 'mean KL (nats)', value: (row) => row.meanKl.toExponential(2) },
    { header: 'max KL', value: (row) => row.maxKl.toExponential(2) },
    { header: 'top-1 agree', value: (row) => `${fixed(100 * row.top1Agreement)}%` },
    { header: `top-1, gap >= ${DECISIVE_MARGIN}`, value: (row) => `${fixed(100 * row.top1AgreementDecisive)}% of ${row.decisivePositions}` },
    { header: 'greedy agree', value: (row) => `${fixed(100 * row.greedyAgreement)}%` },
    { header: 'load s', value: (row) => fixed(row.loadSeconds, 2) },
  ], r.rows);
  console.log(`f32 reference weights: ${fixed(r.reference.weightBytes / 1e6)} MB`);
}
