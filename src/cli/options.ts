/** Option groups shared by several commands, and their parsing into typed settings. */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { EngineOptions } from '../engine/engine-client.js';
import type { SamplingParamsInit } from '../engine/sampling-params.js';

export interface CommonOpts {
  model: string;
  json: boolean;
  backend: 'auto' | 'native' | 'reference';
  threads?: number;
  dtype: 'auto' | 'f32' | 'bf16' | 'f16';
}

export function int(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

export function num(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** --model, --json, --backend, --threads, --dtype. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-m, --model <name|dir>', 'checkpoint directory or hub name', 'gpt2')
    .option('--json', 'machine-readable JSON on stdout', false)
    .addOption(new Option('--backend <backend>', 'kernel backend').choices(['auto', 'native', 'reference']).default('auto'))
    .option('--threads <n>', 'kernel threads (default: all cores)', int('--threads', 1))
    .addOption(new Option('--dtype <dtype>', 'weight precision to compute from').choices(['auto', 'f32', 'bf16', 'f16']).default('auto'));
}

/** Engine sizing flags (generate with a prompts file, serve, bench). */
export function addEngineOptions(cmd: Command): Command {
  return cmd
    .option('--kv-cache-memory <size>', 'KV cache budget, e.g. 512MiB or 2GiB')
    .option('--block-size <n>', 'tokens per KV block', int('--block-size', 1))
    .option('--max-num-seqs <n>', 'most sequences running at once', int('--max-num-seqs', 1))
    .option('--max-num-batched-tokens <n>', 'token budget per engine step', int('--max-num-batched-tokens', 1))
    .option('--max-model-len <n>', 'context length (at most the model n_positions)', int('--max-model-len', 1))
    .option('--no-enable-prefix-caching', 'disable automatic prefix caching');
}

/** The OpenAI/vLLM sampling flag set. */
export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option('--max-tokens <n>', 'tokens to generate', int('--max-tokens', 1), 64)
    .option('-t, --temperature <x>', 'sampling temperature; 0 is greedy', num('--temperature'), 0)
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', int('--top-k', -1))
    .option('--top-p <p>', 'nucleus sampling mass', num('--top-p'))
    .option('--min-p <p>', 'drop tokens below p × the top probability', num('--min-p'))
    .option('--repetition-penalty <x>', 'penalise tokens already seen (1 = off)', num('--repetition-penalty'))
    .option('--presence-penalty <x>', 'OpenAI presence penalty', num('--presence-penalty'))
    .option('--frequency-penalty <x>', 'OpenAI frequency penalty', num('--frequency-penalty'))
    .option('--seed <n>', 'seed for reproducible sampling', int('--seed', 0))
    .option('--stop <text>', 'stop string (repeatable)', collect)
    .option('--min-tokens <n>', 'generate at least n tokens', int('--min-tokens', 0))
    .option('--ignore-eos', 'keep generating past <|endoftext|>')
    .option('-n, --n <n>', 'samples per prompt', int('--n', 1))
    .option('--logprobs <k>', 'return top-k logprobs per token', int('--logprobs', 0));
}

export interface RawEngineFlags {
  kvCacheMemory?: string;
  blockSize?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  maxModelLen?: number;
  enablePrefixCaching?: boolean;
}

export function engineOptions(o: CommonOpts & RawEngineFlags): EngineOptions {
  const e: EngineOptions = { model: o.model, backend: o.backend, dtype: o.dtype };
  if (o.threads !== undefined) e.threads = o.threads;
  if (o.kvCacheMemory !== undefined) e.kvCacheMemory = o.kvCacheMemory;
  if (o.blockSize !== undefined) e.blockSize = o.blockSize;
  if (o.maxNumSeqs !== undefined) e.maxNumSeqs = o.maxNumSeqs;
  if (o.maxNumBatchedTokens !== undefined) e.maxNumBatchedTokens = o.maxNumBatchedTokens;
  if (o.maxModelLen !== undefined) e.maxModelLen = o.maxModelLen;
  if (o.enablePrefixCaching === false) e.enablePrefixCaching = false;
  return e;
}

export interface RawSamplingFlags {
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  stop?: string[];
  minTokens?: number;
  ignoreEos?: boolean;
  n?: number;
  logprobs?: number;
}

export function samplingInit(o: RawSamplingFlags): SamplingParamsInit {
  const s: SamplingParamsInit = { maxTokens: o.maxTokens, temperature: o.temperature };
  const copy = ['topK', 'topP', 'minP', 'repetitionPenalty', 'presencePenalty', 'frequencyPenalty', 'seed', 'stop', 'minTokens', 'ignoreEos', 'n', 'logprobs'] as const;
  for (const k of copy) {
    if (o[k] !== undefined) (s as Record<string, unknown>)[k] = o[k];
  }
  return s;
}
