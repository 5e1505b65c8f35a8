/**
 * Offline throughput benchmark in the manner of `vllm bench throughput`: `numPrompts` random-token
 * prompts of `inputLen` tokens, each generating exactly `outputLen` tokens (ignore_eos), submitted at
 * once to the batching engine. The same workload is then run one request at a time (on fewer
 * prompts) to show what continuous batching buys. By default the model is a synthetic checkpoint
 * shaped like GPT-2 124M (real vocabulary, seeded random weights), so no download is needed.
 *
 *   npm run bench:throughput -- --num-prompts 32 --input-len 128 --output-len 128
 */
import pc from 'picocolors';
import type { EngineOptions } from '../engine/engine-client.js';
import { LLM } from '../engine/llm.js';
import type { Quantization } from '../kernels/backend.js';
import { loadModel } from '../model/load.js';
import { attentionWidths, benchModel, layerParams, syntheticModelDir } from './model-shape.js';
import { fixed, machineInfo, percent, printTable, randomPrompts, targetColor, writeJson, type MachineInfo } from './report.js';
import { measureCeilings, type Ceilings } from './kernels.js';
import { throughputCeiling, type ThroughputCeiling } from './throughput-ceiling.js';
import { kvBytesPerValue } from '../model/kv-cache.js';
import { Rng } from '../engine/rng.js';

export interface ThroughputBenchOptions {
  /** Checkpoint directory or hub name; default: a synthetic GPT-2 124M-shaped checkpoint. */
  model?: string;
  backend?: EngineOptions['backend'];
  /** Native SIMD path (default 'auto'); 'avx512-bf16' is the fast, less exact bf16 dot-product path. */
  simd?: EngineOptions['simd'];
  threads?: number;
  dtype?: EngineOptions['dtype'];
  /** Quantize the weights at load ('none' or null: not). */
  quantization?: Quantization | 'none' | null;
  quantizeLmHead?: boolean;
  numPrompts?: number;
  inputLen?: number;
  outputLen?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  kvCacheMemory?: number | string;
  /** KV cache precision (default 'auto': the compute dtype); the result records the resolved one. */
  kvCacheDtype?: EngineOptions['kvCacheDtype'];
  /** Requests in the one-at-a-time run (default min(numPrompts, 4)); 0 skips it. */
  sequentialPrompts?: number;
  seed?: number;
  /** Where the JSON goes (default bench-results/throughput.json); null to skip. */
  resultFile?: string | null;
  /** Table on stdout, progress on stderr (default true). */
  print?: boolean;
  /** Probe the FMA peak and read bandwidth around the runs for the roofline (default true on native). */
  probe?: boolean;
}

export interface RunFigures {
  requests: number;
  durationS: number;
  inputTokens: number;
  outputTokens: number;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  /** Highest KV cache usage seen (0..1) and preemptions during the run. */
  peakKvUsage: number;
  preemptions: number;
}

export interface ThroughputBenchResult {
  config: Required<Omit<ThroughputBenchOptions, 'resultFile' | 'print' | 'probe' | 'threads' | 'simd' | 'maxNumBatchedTokens' | 'kvCacheMemory' | 'quantization' | 'quantizeLmHead'>> & {
    quantization: Quantization | null;
    lmHeadQuantized: boolean;
    threads: number;
    maxNumBatchedTokens: number;
    kvCacheBlocks: number;
    blockSize: number;
    computeDtype: string;
    backendPath: string;
  };
  machine: MachineInfo;
  batched: RunFigures;
  sequential: RunFigures | null;
  /** Batched output tok/s over one-at-a-time output tok/s. */
  speedup: number | null;
  /**
   * The roofline of this workload from the FMA peak and read bandwidth measured around the runs
   * (native backend only; the best of a probe before and one after): the best each run could do
   * here, and so the best possible speedup.
   */
  ceiling: (ThroughputCeiling & { gflops: number; readGBs: number; readGBsProbes: number[] }) | null;
}

/** Targets, measured and reported, never asserted: they depend on the machine. */
export const THROUGHPUT_TARGETS = { outputTokPerS: 1200, speedup: 8 } as const;

/** Writes the synthetic 124M-shaped checkpoint once into the temp dir and reuses it afterwards. */
export function syntheticGpt2Dir(dtype: 'f32' | 'bf16' = 'f32'): string {
  return syntheticModelDir('gpt2-124m', dtype);
}

async function timeRun(llm: LLM, prompts: number[][], outputLen: number, oneAtATime: boolean): Promise<RunFigures> {
  const params = { temperature: 1, topP: 1, ignoreEos: true, maxTokens: outputLen };
  const before = llm.core.stats();
  let peak = 0;
  const probe = setInterval(() => (peak = Math.max(peak, llm.core.stats().kvCacheUsage)), 20);
  const started = performance.now();
  let outputTokens = 0;
  try {
    const inputs = prompts.map((p) => ({ promptTokenIds: p }));
    const outs = [];
    if (oneAtATime) for (const p of inputs) outs.push(...(await llm.generate([p], params, { progress: false })));
    else outs.push(...(await llm.generate(inputs, params, { progress: false })));
    for (const o of outs) outputTokens += o.outputs[0]!.tokenIds.length;
  } finally {
    clearInterval(probe);
  }
  const durationS = (performance.now() - started) / 1000;
  const inputTokens = prompts.reduce((s, p) => s + p.length, 0);
  return {
    requests: prompts.length,
    durationS,
    inputTokens,
    outputTokens,
    requestThroughput: prompts.length / durationS,
    outputThroughput: outputTokens / durationS,
    totalTokenThroughput: (inputTokens + outputTokens) / durationS,
    peakKvUsage: peak,
    preemptions: llm.core.stats().numPreemptions - before.numPreemptions,
  };
}

export async function runThroughputBench(opts: ThroughputBenchOptions = {}): Promise<ThroughputBenchResult> {
  const print = opts.print ?? true;
  const log = (s: string): void => void (print && process.stderr.write(`${pc.dim(s)}\n`));
  const numPrompts = opts.numPrompts ?? 32;
  const inputLen = opts.inputLen ?? 128;
  const outputLen = opts.outputLen ?? 128;
  const maxNumSeqs = opts.maxNumSeqs ?? 64;
  const seed = opts.seed ?? 0;
  const sequentialPrompts = opts.sequentialPrompts ?? Math.min(numPrompts, 4);
  for (const [k, v] of Object.entries({ numPrompts, inputLen, outputLen, maxNumSeqs })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`throughput bench: ${k} must be a positive integer, got ${v}`);
  }

  log('preparing the model');
  const model = benchModel(opts.model, opts.dtype === 'bf16' ? 'bf16' : 'f32');
  const quantization = opts.quantization === 'none' ? null : (opts.quantization ?? null);
  const loaded = await loadModel(model, {
    backend: opts.backend ?? 'auto', threads: opts.threads, simd: opts.simd, dtype: opts.dtype ?? 'auto', quantization, quantizeLmHead: quantization !== null && opts.quantizeLmHead === true,
  });
  try {
    const maxModelLen = Math.min(loaded.model.config.nPositions, inputLen + outputLen);
    const llm = LLM.fromModel(loaded.model, loaded.tokenizer, {
      maxNumSeqs,
      maxNumBatchedTokens: opts.maxNumBatchedTokens,
      kvCacheMemory: opts.kvCacheMemory ?? '4GiB',
      kvCacheDtype: opts.kvCacheDtype ?? 'auto',
      maxModelLen,
    });
    // The machine's ceilings, probed before and after the runs: this VM's memory bandwidth moves
    // by up to ~1.7x within minutes, so the roofline takes the best of the two probes.
    const native = loaded.backend.name === 'native' && opts.probe !== false;
    const probe = (): Ceilings | null => {
      if (!native) return null;
      log('measuring the FMA peak and read bandwidth');
      return measureCeilings(loaded.backend.threads, loaded.backend.simd === 'avx512-bf16' ? 'avx512' : (loaded.backend.simd as 'avx512' | 'avx2' | 'scalar'), true);
    };
    const before = probe();
    const prompts = randomPrompts(numPrompts, inputLen, new Rng(seed), loaded.model.config.vocabSize);
    log(`warm-up`);
    await llm.generate([{ promptTokenIds: prompts[0]! }], { maxTokens: 4, ignoreEos: true }, { progress: false });

    log(`batched: ${numPrompts} requests x (${inputLen} in + ${outputLen} out), up to ${maxNumSeqs} at once`);
    const batched = await timeRun(llm, prompts, outputLen, false);
    let sequential: RunFigures | null = null;
    if (sequentialPrompts > 0) {
      log(`one at a time: ${sequentialPrompts} requests`);
      sequential = await timeRun(llm, prompts.slice(0, sequentialPrompts), outputLen, true);
    }
    const after = probe();
    let ceiling: ThroughputBenchResult['ceiling'] = null;
    if (before && after) {
      // The bf16 dot-product path retires two products per f32 lane and FMA slot.
      const gflops = Math.max(before.fmaGflopsAll, after.fmaGflopsAll) * (loaded.backend.simd === 'avx512-bf16' ? 2 : 1);
      const readGBs = Math.max(before.readGBs, after.readGBs);
      const cfg = loaded.model.config;
      const model = {
        nLayer: cfg.nLayer, nEmbd: cfg.nEmbd, nInner: cfg.nInner, vocabSize: cfg.vocabSize, layerParams: layerParams(cfg), ...attentionWidths(cfg),
        // A quantized model's bytes per layer weight (the lm_head is counted at the same rate).
        weightBytes: loaded.model.quantization ? loaded.model.layerBytes / layerParams(cfg) : loaded.model.dtype === 'f32' ? 4 : 2, kvBytes: kvBytesPerValue(llm.config.kvCacheDtype),
      };
      const roof = throughputCeiling(model, { numPrompts, inputLen, outputLen }, { flops: gflops * 1e9, readBytes: readGBs * 1e9 });
      ceiling = { ...roof, gflops, readGBs, readGBsProbes: [before.readGBs, after.readGBs] };
    }
    const result: ThroughputBenchResult = {
      config: {
        model: opts.model ?? 'synthetic GPT-2 124M shape',
        backend: opts.backend ?? 'auto',
        dtype: opts.dtype ?? 'auto',
        quantization: loaded.model.quantization,
        lmHeadQuantized: loaded.model.lmHeadQuantized,
        numPrompts,
        inputLen,
        outputLen,
        maxNumSeqs,
        sequentialPrompts,
        seed,
        threads: loaded.backend.threads,
        maxNumBatchedTokens: llm.config.maxNumBatchedTokens,
        kvCacheBlocks: llm.config.numBlocks - 1,
        kvCacheDtype: llm.config.kvCacheDtype,
        blockSize: llm.config.blockSize,
        computeDtype: loaded.model.dtype,
        backendPath: `${loaded.backend.name}/${loaded.backend.simd}`,
      },
      machine: machineInfo(),
      batched,
      sequential,
      speedup: sequential ? batched.outputThroughput / sequential.outputThroughput : null,
      ceiling,
    };
    const file = opts.resultFile === undefined ? 'bench-results/throughput.json' : opts.resultFile;
    const path = file ? writeJson(file, result) : null;
    if (print) printResult(result, path);
    return result;
  } finally {
    loaded.backend.dispose();
  }
}

function printResult(r: ThroughputBenchResult, path: string | null): void {
  const c = r.config;
  const roof = r.ceiling;
  const runs = [
    { name: 'batched', f: r.batched, best: roof?.batchedTokPerS ?? NaN },
    ...(r.sequential ? [{ name: 'one at a time', f: r.sequential, best: roof?.sequentialTokPerS ?? NaN }] : []),
  ];
  printTable(
    `Throughput: ${c.numPrompts} x (${c.inputLen} in + ${c.outputLen} out), ${c.backendPath}, ${c.threads} threads, ${c.quantization ? `${c.quantization} (${c.lmHeadQuantized ? '+lm_head' : `${c.computeDtype} lm_head`})` : c.computeDtype}, ${c.kvCacheDtype} KV cache`,
    [
      { header: 'run', value: (x) => x.name },
      { header: 'requests', value: (x) => x.f.requests },
      { header: 'seconds', value: (x) => fixed(x.f.durationS, 2) },
      { header: 'req/s', value: (x) => fixed(x.f.requestThroughput, 2) },
      { header: 'output tok/s', value: (x) => fixed(x.f.outputThroughput) },
      { header: 'total tok/s', value: (x) => fixed(x.f.totalTokenThroughput) },
      { header: 'ceiling tok/s', value: (x) => fixed(x.best) },
      { header: '% of ceiling', value: (x) => percent(x.f.outputThroughput / x.best) },
      { header: 'peak KV', value: (x) => `${fixed(100 * x.f.peakKvUsage)}%` },
      { header: 'preemptions', value: (x) => x.f.preemptions },
    ],
    runs,
  );
  console.log(pc.dim(`${c.model} · max ${c.maxNumSeqs} seqs · ${c.maxNumBatchedTokens} tokens/step · ${c.kvCacheBlocks} KV blocks of ${c.blockSize}`));
  const out = r.batched.outputThroughput;
  console.log(`batched output: ${targetColor(out, THROUGHPUT_TARGETS.outputTokPerS)(`${fixed(out)} tok/s`)} (target ${THROUGHPUT_TARGETS.outputTokPerS} for 32 x (128 + 128))`);
  if (r.speedup !== null) {
    console.log(`batched / one at a time: ${targetColor(r.speedup, THROUGHPUT_TARGETS.speedup)(`${fixed(r.speedup, 2)}x`)} (target ${THROUGHPUT_TARGETS.speedup}x at 64 sequences)`);
  }
  if (roof) {
    console.log(
      pc.dim(
        `ceilings from ${fixed(roof.gflops)} GFLOP/s and ${fixed(roof.readGBs)} GB/s (read bandwidth probed at ${roof.readGBsProbes.map((g) => fixed(g)).join(' and ')} GB/s): ` +
          `batched is ${roof.batchedBound}-bound, ` +
          `so the best speedup this machine allows is ${fixed(roof.ratio, 2)}x`,
      ),
    );
  }
  if (path) console.log(pc.dim(`results written to ${path}`));
}
