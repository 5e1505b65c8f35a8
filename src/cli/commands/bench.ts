import { Command, Option } from 'commander';
import { runKernelBench } from '../../bench/kernels.js';
import { runLatencyBench } from '../../bench/latency.js';
import { runServeBench } from '../../bench/serve.js';
import { runThroughputBench, syntheticGpt2Dir } from '../../bench/throughput.js';
import type { SimdPath } from '../../kernels/native.js';
import { engineOptions, int, num, type CommonOpts, type RawEngineFlags } from '../options.js';
import { fail } from '../ui.js';

/** Flags every model benchmark shares; the default model is a synthetic GPT-2 124M-shaped checkpoint. */
function modelFlags(cmd: Command): Command {
  return cmd
    .option('-m, --model <name|dir>', 'checkpoint directory or hub name (default: synthetic GPT-2 124M shape)')
    .addOption(new Option('--backend <backend>', 'kernel backend').choices(['auto', 'native', 'reference']).default('native'))
    .option('--threads <n>', 'kernel threads', int('--threads', 1))
    .option('--result-file <file>', 'where the JSON goes');
}

interface LatencyOpts {
  model?: string;
  backend: 'auto' | 'native' | 'reference';
  threads?: number;
  dtype?: string[];
  promptLen?: number;
  decodeTokens?: number;
  resultFile?: string;
}

interface ThroughputOpts extends LatencyOpts, RawEngineFlags {
  numPrompts?: number;
  inputLen?: number;
  outputLen?: number;
  sequentialPrompts?: number;
  seed?: number;
}

interface ServeOpts extends ThroughputOpts {
  baseUrl?: string;
  servedModelName?: string;
  apiKey?: string;
  requestRate?: number;
  maxConcurrency?: number;
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks: each prints a table and writes JSON under bench-results/');

  modelFlags(bench.command('latency').description('single-stream decode and prefill tokens/s against the memory-bandwidth ceiling'))
    .option('--dtype <dtype...>', 'weight precisions to measure', ['f32', 'bf16'])
    .option('--prompt-len <n>', 'prompt tokens for the prefill measurement', int('--prompt-len', 1))
    .option('--decode-tokens <n>', 'tokens to decode per run', int('--decode-tokens', 1))
    .action(async (o: LatencyOpts) => {
      try {
        await runLatencyBench({
          model: o.model,
          backend: o.backend,
          threads: o.threads,
          dtypes: o.dtype as ('f32' | 'bf16')[] | undefined,
          promptLen: o.promptLen,
          decodeTokens: o.decodeTokens,
          resultFile: o.resultFile,
        });
      } catch (err) {
        fail(err, false);
      }
    });

  modelFlags(bench.command('throughput').description('offline throughput of the batched engine vs one request at a time'))
    .addOption(new Option('--dtype <dtype>', 'weight precision').choices(['auto', 'f32', 'bf16', 'f16']))
    .option('--num-prompts <n>', 'requests', int('--num-prompts', 1))
    .option('--input-len <n>', 'prompt tokens per request', int('--input-len', 1))
    .option('--output-len <n>', 'generated tokens per request', int('--output-len', 1))
    .option('--max-num-seqs <n>', 'most sequences running at once', int('--max-num-seqs', 1))
    .option('--max-num-batched-tokens <n>', 'token budget per step', int('--max-num-batched-tokens', 1))
    .option('--kv-cache-memory <size>', 'KV cache budget, e.g. 1GiB')
    .option('--sequential-prompts <n>', 'requests in the one-at-a-time baseline (0 skips it)', int('--sequential-prompts', 0))
    .option('--seed <n>', 'seed for the random prompts', int('--seed', 0))
    .action(async (o: ThroughputOpts & { dtype?: 'auto' | 'f32' | 'bf16' | 'f16' }) => {
      try {
        await runThroughputBench({ ...o, kvCacheMemory: o.kvCacheMemory });
      } catch (err) {
        fail(err, false);
      }
    });

  modelFlags(bench.command('serve').description('drives the HTTP server with streaming requests: TTFT, TPOT, ITL, end-to-end latency'))
    .option('--base-url <url>', 'benchmark a server that is already running instead of starting one')
    .option('--served-model-name <name>', 'the model name to send')
    .option('--api-key <key>', 'bearer token for the server')
    .option('--num-prompts <n>', 'requests', int('--num-prompts', 1))
    .option('--input-len <n>', 'prompt tokens per request', int('--input-len', 1))
    .option('--output-len <n>', 'generated tokens per request', int('--output-len', 1))
    .option('--request-rate <r>', 'requests per second (Poisson arrivals); inf sends all at once', num('--request-rate'))
    .option('--max-concurrency <n>', 'most requests in flight', int('--max-concurrency', 1))
    .option('--max-num-seqs <n>', 'server: most sequences running at once', int('--max-num-seqs', 1))
    .option('--kv-cache-memory <size>', 'server: KV cache budget')
    .option('--seed <n>', 'seed for the random prompts', int('--seed', 0))
    .action(async (o: ServeOpts) => {
      try {
        const model = o.model ?? syntheticGpt2Dir('f32');
        const engine = o.baseUrl ? undefined : engineOptions({ ...(o as ServeOpts & CommonOpts), model, dtype: 'auto', json: false });
        await runServeBench({
          baseUrl: o.baseUrl,
          engine,
          servedModelName: o.servedModelName,
          apiKey: o.apiKey,
          numPrompts: o.numPrompts,
          inputLen: o.inputLen,
          outputLen: o.outputLen,
          requestRate: o.requestRate,
          maxConcurrency: o.maxConcurrency,
          seed: o.seed,
          resultFile: o.resultFile,
        });
      } catch (err) {
        fail(err, false);
      }
    });

  bench
    .command('kernels')
    .description("each kernel's GFLOP/s and GB/s as a fraction of the machine's measured FMA peak and memory bandwidth")
    .option('--threads <n>', 'kernel threads', int('--threads', 1))
    .option('--simd <path>', 'force a SIMD path: avx512-bf16, avx512, avx2, scalar')
    .option('--quick', 'fewer shapes and repetitions')
    .option('--no-bf16-dot', 'skip the opt-in bf16 dot-product path')
    .option('--result-file <file>', 'where the JSON goes')
    .action((o: { threads?: number; simd?: string; quick?: boolean; bf16Dot: boolean; resultFile?: string }) => {
      try {
        runKernelBench({ threads: o.threads, simd: o.simd as SimdPath | undefined, quick: o.quick, bf16Dot: o.bf16Dot, resultFile: o.resultFile });
      } catch (err) {
        fail(err, false);
      }
    });
}
