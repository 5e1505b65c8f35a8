import { Command, Option } from 'commander';
import { BACKENDS, DTYPES, QUANTIZATIONS, SIMD_PATHS, type BackendName, type DType, type KVCacheDType, type Quantization, type SimdPath } from '../../kernels/backend.js';
import { engineOptions, int, kvCacheDtypeOption, num, speculativeConfigOption, type CommonOpts, type RawEngineFlags } from '../options.js';
import { fail, printJson } from '../ui.js';

interface OutputOpts {
  json: boolean;
  resultFile?: string;
}

interface ModelOpts extends OutputOpts {
  model?: string;
  backend: 'auto' | BackendName;
  threads?: number;
  simd?: 'auto' | SimdPath;
}

interface LatencyOpts extends ModelOpts {
  dtype?: string[];
  quantization?: Quantization[];
  quantizeLmHead?: boolean;
  promptLen?: number;
  decodeTokens?: number;
  rounds?: number;
  kvCacheDtype?: 'auto' | KVCacheDType;
  speculativeConfig?: string;
  workload?: 'input-grounded' | 'open-ended';
}

interface ThroughputOpts extends ModelOpts, RawEngineFlags {
  dtype?: 'auto' | DType;
  quantization?: Quantization | 'none';
  quantizeLmHead?: boolean;
  numPrompts?: number;
  inputLen?: number;
  outputLen?: number;
  sequentialPrompts?: number;
  seed?: number;
  compare?: Quantization[];
  rounds?: number;
}

interface ServeOpts extends ThroughputOpts {
  baseUrl?: string;
  servedModelName?: string;
  apiKey?: string;
  requestRate?: number;
  maxConcurrency?: number;
}

interface AccuracyOpts extends ModelOpts {
  quantization?: Quantization[];
  smoothquantAlpha?: number;
  unsmoothed: boolean;
  quantizeLmHead?: boolean;
  maxPositions?: number;
  continuationTokens?: number;
}

interface KernelOpts extends OutputOpts {
  threads?: number;
  simd?: string;
  quick?: boolean;
  bf16Dot: boolean;
  quant: boolean;
}

/** --json and --result-file, which every benchmark takes. */
function outputFlags(cmd: Command): Command {
  return cmd.option('--json', 'print the result as JSON on stdout instead of tables', false).option('--result-file <file>', 'where the JSON goes (default: bench-results/NAME.json)');
}

/** Flags every model benchmark shares; the default model is a synthetic GPT-2 124M-shaped checkpoint. */
function modelFlags(cmd: Command): Command {
  return outputFlags(cmd)
    .option('-m, --model <name|dir>', 'checkpoint directory, hub name, or synthetic:gpt2-124m / synthetic:smollm2-135m (default: synthetic GPT-2 124M shape)')
    .addOption(new Option('--backend <backend>', 'kernel backend').choices(['auto', ...BACKENDS]).default('native'))
    .option('--threads <n>', 'kernel threads', int(1))
    .addOption(new Option('--simd <path>', 'native SIMD path (avx512-bf16: bf16 dot products, faster, less exact)').choices(['auto', ...SIMD_PATHS]));
}

/**
 * Runs a benchmark and reports it: tables and a result file normally; with --json the result goes to
 * stdout (and to --result-file only when one is given).
 */
async function report<T>(o: OutputOpts, run: (out: { print: boolean; resultFile: string | null | undefined }) => T | Promise<T>): Promise<void> {
  try {
    const result = await run({ print: !o.json, resultFile: o.json ? null : o.resultFile });
    if (!o.json) return;
    if (o.resultFile) (await import('../../bench/report.js')).writeJson(o.resultFile, result);
    printJson(result);
  } catch (err) {
    fail(err, o.json);
  }
}

/**
 * Each benchmark's module is imported only when it runs (the serve benchmark pulls in the server),
 * so `--help` stays fast.
 */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks: each prints a table and writes JSON under bench-results/');

  modelFlags(bench.command('latency').description('single-stream decode and prefill tokens/s against the memory-bandwidth ceiling'))
    .option('--dtype <dtype...>', 'weight precisions to measure', ['f32', 'bf16'])
    .option('--prompt-len <n>', 'prompt tokens for the prefill measurement', int(1))
    .option('--decode-tokens <n>', 'tokens to decode per run', int(1))
    .option('--rounds <n>', 'decode in this many interleaved rounds over the rows (load falls on every row alike)', int(1), 3)
    .addOption(kvCacheDtypeOption())
    .addOption(speculativeConfigOption())
    .addOption(new Option('--workload <name>', 'with --speculative-config: prompt whose output copies it, or free text').choices(['input-grounded', 'open-ended']).default('input-grounded'))
    .addOption(new Option('--quantization <scheme...>', 'quantization schemes to measure after the --dtype rows, in the same run').choices(QUANTIZATIONS))
    .option('--quantize-lm-head', 'quantize the lm_head too in the quantized rows')
    .action((o: LatencyOpts) =>
      report(o, async (out) =>
        o.speculativeConfig !== undefined
          ? (await import('../../bench/spec-decode.js')).runSpecLatencyBench({ ...out, model: o.model, backend: o.backend, threads: o.threads, simd: o.simd, dtype: (o.dtype?.[0] ?? 'f32') as DType, speculativeConfig: o.speculativeConfig, workload: o.workload, decodeTokens: o.decodeTokens })
          : (await import('../../bench/latency.js')).runLatencyBench({
            ...out, model: o.model, backend: o.backend, threads: o.threads, simd: o.simd, dtypes: o.dtype as ('f32' | 'bf16')[] | undefined, promptLen: o.promptLen, decodeTokens: o.decodeTokens,
            quantizations: o.quantization, quantizeLmHead: o.quantizeLmHead, rounds: o.rounds, kvCacheDtype: o.kvCacheDtype,
          }),
      ),
    );

  modelFlags(bench.command('throughput').description('offline throughput of the batched engine vs one request at a time'))
    .addOption(new Option('--dtype <dtype>', 'weight precision').choices(['auto', ...DTYPES]))
    .addOption(new Option('--quantization <scheme>', 'quantize the weights at load (int8, int8-wo, q4)').choices([...QUANTIZATIONS, 'none']))
    .option('--quantize-lm-head', 'quantize the lm_head too')
    .option('--num-prompts <n>', 'requests', int(1))
    .option('--input-len <n>', 'prompt tokens per request', int(1))
    .option('--output-len <n>', 'generated tokens per request', int(1))
    .option('--max-num-seqs <n>', 'most sequences running at once', int(1))
    .option('--max-num-batched-tokens <n>', 'token budget per step', int(1))
    .option('--kv-cache-memory <size>', 'KV cache budget, e.g. 1GiB')
    .addOption(kvCacheDtypeOption())
    .option('--sequential-prompts <n>', 'requests in the one-at-a-time baseline (0 skips it)', int(0))
    .option('--seed <n>', 'seed for the random prompts', int(0))
    .addOption(new Option('--compare <scheme...>', 'run the unquantized weights and each scheme in interleaved rounds; report medians and ratios').choices(QUANTIZATIONS))
    .option('--rounds <n>', 'with --compare: rounds over all configurations', int(1), 3)
    .action((o: ThroughputOpts) =>
      report(o, async (out) =>
        o.compare !== undefined
          ? (await import('../../bench/throughput-compare.js')).runThroughputCompare({ ...o, ...out, schemes: o.compare })
          : (await import('../../bench/throughput.js')).runThroughputBench({ ...o, ...out }),
      ),
    );

  modelFlags(bench.command('serve').description('drives the HTTP server with streaming requests: TTFT, TPOT, ITL, end-to-end latency'))
    .option('--base-url <url>', 'benchmark a server that is already running instead of starting one')
    .option('--served-model-name <name>', 'the model name to send')
    .option('--api-key <key>', 'bearer token for the server')
    .option('--num-prompts <n>', 'requests', int(1))
    .option('--input-len <n>', 'prompt tokens per request', int(1))
    .option('--output-len <n>', 'generated tokens per request', int(1))
    .option('--request-rate <r>', 'requests per second (Poisson arrivals); inf sends all at once', num(true))
    .option('--max-concurrency <n>', 'most requests in flight', int(1))
    .option('--max-num-seqs <n>', 'server: most sequences running at once', int(1))
    .option('--kv-cache-memory <size>', 'server: KV cache budget')
    .addOption(kvCacheDtypeOption())
    .addOption(speculativeConfigOption())
    .addOption(new Option('--quantization <scheme>', 'server: quantize the weights at load (int8, int8-wo, q4)').choices([...QUANTIZATIONS, 'none']))
    .option('--quantize-lm-head', 'server: quantize the lm_head too')
    .option('--seed <n>', 'seed for the random prompts', int(0))
    .action((o: ServeOpts) =>
      report(o, async (out) => {
        const model = o.model ?? (await import('../../bench/throughput.js')).syntheticGpt2Dir('f32');
        const engine = o.baseUrl ? undefined : engineOptions({ ...(o as ServeOpts & CommonOpts), model, dtype: 'auto' });
        const { servedModelName, apiKey, numPrompts, inputLen, outputLen, requestRate, maxConcurrency, seed } = o;
        return (await import('../../bench/serve.js')).runServeBench({ ...out, baseUrl: o.baseUrl, engine, servedModelName, apiKey, numPrompts, inputLen, outputLen, requestRate, maxConcurrency, seed });
      }),
    );

  modelFlags(bench.command('accuracy').description('each quantization scheme against the same model in f32: mean KL, top-1 and greedy agreement (default model: kjv-mini)'))
    .addOption(new Option('--quantization <scheme...>', 'schemes to measure (default: all)').choices(QUANTIZATIONS))
    .option('--smoothquant-alpha <a>', 'SmoothQuant migration strength for int8 (default 0.5)', num())
    .option('--no-unsmoothed', 'skip the rows without calibration (int8 without SmoothQuant, weight-only without activation-aware scales)')
    .option('--quantize-lm-head', 'quantize the lm_head too')
    .option('--max-positions <n>', 'most text positions scored', int(1))
    .option('--continuation-tokens <n>', 'greedy tokens per continuation', int(1))
    .action((o: AccuracyOpts) =>
      report(o, async (out) =>
        (await import('../../bench/accuracy.js')).runAccuracyBench({
          ...out, model: o.model, backend: o.backend, threads: o.threads, simd: o.simd, schemes: o.quantization, smoothQuantAlpha: o.smoothquantAlpha,
          unsmoothed: o.unsmoothed, quantizeLmHead: o.quantizeLmHead, maxPositions: o.maxPositions, continuationTokens: o.continuationTokens,
        }),
      ),
    );

  outputFlags(bench.command('kernels').description("each kernel's GFLOP/s and GB/s as a fraction of the machine's measured FMA peak and memory bandwidth"))
    .option('--threads <n>', 'kernel threads', int(1))
    .option('--simd <path>', 'force a SIMD path: avx512-bf16, avx512, avx2, scalar')
    .option('--quick', 'fewer shapes and repetitions')
    .option('--no-bf16-dot', 'skip the opt-in bf16 dot-product path')
    .option('--no-quant', 'skip the quantized schemes (int8, int8-wo, q4)')
    .action((o: KernelOpts) =>
      report(o, async (out) => (await import('../../bench/kernels.js')).runKernelBench({ ...out, threads: o.threads, simd: o.simd as SimdPath | undefined, quick: o.quick, bf16Dot: o.bf16Dot, quant: o.quant })),
    );
}
