/** Option groups shared by several commands, and their parsing into typed settings. */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { EngineOptions } from '../engine/engine-client.js';
import { BACKENDS, DTYPES, KV_CACHE_DTYPES, QUANTIZATIONS, SIMD_PATHS, type Quantization } from '../kernels/backend.js';
import type { SamplingParamsInit } from '../engine/sampling-params.js';

export interface CommonOpts {
  model: string;
  json: boolean;
  backend: NonNullable<EngineOptions['backend']>;
  threads?: number;
  simd: NonNullable<EngineOptions['simd']>;
  dtype: NonNullable<EngineOptions['dtype']>;
  allowNonFiniteWeights?: boolean;
  quantization?: Quantization | 'none';
  quantizeLmHead?: boolean;
  /** false with --no-activation-aware. */
  activationAware?: boolean;
}

/** Commander value parsers; commander names the flag and value, the message says what was expected. */
export function int(min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`Expected an integer >= ${min}.`);
    return n;
  };
}

/** `inf` is accepted only where it means something (e.g. a request rate). */
export function num(allowInf = false): (v: string) => number {
  return (v) => {
    if (allowInf && /^\s*\+?inf(inity)?\s*$/i.test(v)) return Infinity;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`Expected a number${allowInf ? ' or inf' : ''}.`);
    return n;
  };
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** --model, --json, --backend, --threads, --simd, --dtype. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <name|dir>', 'checkpoint directory or hub name', 'gpt2')
    .option('--json', 'machine-readable JSON on stdout', false)
    .addOption(new Option('--backend <backend>', 'kernel backend').choices(['auto', ...BACKENDS]).default('auto'))
    .option('--threads <n>', 'kernel threads (default: all cores)', int(1))
    .addOption(
      new Option('--simd <path>', 'native SIMD path; avx512-bf16 multiplies bf16 weights with bf16-rounded activations (faster, less exact)')
        .choices(['auto', ...SIMD_PATHS])
        .default('auto'),
    )
    .addOption(new Option('--dtype <dtype>', 'weight precision to compute from').choices(['auto', ...DTYPES]).default('auto'))
    .option('--allow-non-finite-weights', 'load weights holding NaN/Inf with a warning instead of failing');
}

/** --quantization and --quantize-lm-head (generate, predict, serve, info, bench latency/throughput/accuracy). */
export function addQuantizationOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--quantization <scheme>', 'quantize the weights at load: int8 (W8A8 with SmoothQuant), int8-wo (weight-only int8), q4 (4-bit groups)').choices([
        ...QUANTIZATIONS,
        'none',
      ]),
    )
    .option('--quantize-lm-head', 'quantize the lm_head too (default: it stays bf16)')
    .option('--no-activation-aware', 'int8-wo and q4: quantize the weights as stored, without the calibration pass and its per-channel scales (a faster load)');
}

/** The quantization flags as load/engine options ('none' is no quantization). */
export function quantizationOptions(o: Pick<CommonOpts, 'quantization' | 'quantizeLmHead' | 'activationAware'>): { quantization?: Quantization; quantizeLmHead?: boolean; activationAware?: boolean } {
  const q: { quantization?: Quantization; quantizeLmHead?: boolean; activationAware?: boolean } = {};
  if (o.quantization !== undefined && o.quantization !== 'none') q.quantization = o.quantization;
  if (o.quantizeLmHead) q.quantizeLmHead = true;
  if (o.activationAware === false) q.activationAware = false;
  return q;
}

/** --kv-cache-dtype: KV cache storage precision; 'auto' follows the weights' compute dtype. */
export function kvCacheDtypeOption(): Option {
  return new Option('--kv-cache-dtype <dtype>', 'KV cache precision; bf16/f16 halve KV memory and attention traffic (auto: the weights\' dtype)')
    .choices(['auto', ...KV_CACHE_DTYPES]);
}

/** Engine sizing flags (generate with a prompts file, serve, bench). */
export function addEngineOptions(cmd: Command): Command {
  return cmd
    .option('--kv-cache-memory <size>', 'KV cache budget, e.g. 512MiB or 2GiB')
    .addOption(kvCacheDtypeOption())
    .option('--block-size <n>', 'tokens per KV block', int(1))
    .option('--max-num-seqs <n>', 'most sequences running at once', int(1))
    .option('--max-num-batched-tokens <n>', 'token budget per engine step', int(1))
    .option('--max-model-len <n>', 'context length (at most the model n_positions)', int(1))
    .option('--no-enable-prefix-caching', 'disable automatic prefix caching')
    .addOption(speculativeConfigOption());
}

/** --speculative-config: vLLM's JSON, e.g. '{"method": "ngram", "num_speculative_tokens": 4}'. */
export function speculativeConfigOption(): Option {
  return new Option('--speculative-config <json>', 'speculative decoding, as vLLM: {"method": "ngram"|"draft_model", "num_speculative_tokens": k, ...}');
}

/** `--max-tokens` when not given; unlike a given value it shrinks to what the context leaves. */
export const DEFAULT_MAX_TOKENS = 64;

/** The OpenAI/vLLM sampling flag set. */
export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option('--max-tokens <n>', `tokens to generate; past the context is an error (default: ${DEFAULT_MAX_TOKENS}, or what the context leaves)`, int(1))
    .option('-t, --temperature <x>', 'sampling temperature; 0 is greedy', num(), 0)
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', int(-1))
    .option('--top-p <p>', 'nucleus sampling mass', num())
    .option('--min-p <p>', 'drop tokens below p × the top probability', num())
    .option('--repetition-penalty <x>', 'penalise tokens already seen (1 = off)', num())
    .option('--presence-penalty <x>', 'OpenAI presence penalty', num())
    .option('--frequency-penalty <x>', 'OpenAI frequency penalty', num())
    .option('--seed <n>', 'seed for reproducible sampling', int(0))
    .option('--stop <text>', 'stop string (repeatable)', collect)
    .option('--min-tokens <n>', 'generate at least n tokens', int(0))
    .option('--ignore-eos', 'keep generating past <|endoftext|>')
    .option('-n, --n <n>', 'samples per prompt', int(1))
    .option('--logprobs <k>', 'return top-k logprobs per token', int(0));
}

export interface RawEngineFlags {
  kvCacheMemory?: string;
  kvCacheDtype?: EngineOptions['kvCacheDtype'];
  blockSize?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  maxModelLen?: number;
  enablePrefixCaching?: boolean;
  speculativeConfig?: string;
}

export function engineOptions(o: CommonOpts & RawEngineFlags): EngineOptions {
  const e: EngineOptions = { model: o.model, backend: o.backend, simd: o.simd, dtype: o.dtype };
  if (o.threads !== undefined) e.threads = o.threads;
  if (o.allowNonFiniteWeights) e.allowNonFiniteWeights = true;
  Object.assign(e, quantizationOptions(o));
  if (o.kvCacheMemory !== undefined) e.kvCacheMemory = o.kvCacheMemory;
  if (o.kvCacheDtype !== undefined) e.kvCacheDtype = o.kvCacheDtype;
  if (o.blockSize !== undefined) e.blockSize = o.blockSize;
  if (o.maxNumSeqs !== undefined) e.maxNumSeqs = o.maxNumSeqs;
  if (o.maxNumBatchedTokens !== undefined) e.maxNumBatchedTokens = o.maxNumBatchedTokens;
  if (o.maxModelLen !== undefined) e.maxModelLen = o.maxModelLen;
  if (o.enablePrefixCaching === false) e.enablePrefixCaching = false;
  if (o.speculativeConfig !== undefined) e.speculativeConfig = o.speculativeConfig;
  return e;
}

/** The sampling flags commander parses: the same names as `SamplingParamsInit`. */
const SAMPLING_FLAGS = ['topK', 'topP', 'minP', 'repetitionPenalty', 'presencePenalty', 'frequencyPenalty', 'seed', 'stop', 'minTokens', 'ignoreEos', 'n', 'logprobs'] as const;

export type RawSamplingFlags = Pick<SamplingParamsInit, (typeof SAMPLING_FLAGS)[number]> & { maxTokens?: number; temperature: number };

/**
 * The sampling parameters for a prompt of `promptLen` tokens in a `maxModelLen` context. A given
 * --max-tokens is passed on as is (the engine rejects it past the context, as the server does);
 * the default is clamped to the room the prompt leaves (an over-long prompt still gets its error).
 */
export function samplingInit(o: RawSamplingFlags, promptLen: number, maxModelLen: number): SamplingParamsInit {
  const maxTokens = o.maxTokens ?? Math.max(1, Math.min(DEFAULT_MAX_TOKENS, maxModelLen - promptLen));
  const s: SamplingParamsInit = { maxTokens, temperature: o.temperature };
  for (const k of SAMPLING_FLAGS) {
    if (o[k] !== undefined) (s as Record<string, unknown>)[k] = o[k];
  }
  return s;
}
