/**
 * The offline API (vLLM's `LLM`): load a model, then `generate` a batch of prompts (with a progress
 * bar) or `stream` one. It is the engine client over the in-process transport: the core steps on this
 * thread's event loop, so several streams interleave, and it serves the HTTP server like `AsyncLLM`.
 */
import cliProgress from 'cli-progress';
import type { CausalLM } from '../model/model.js';
import { loadModel } from '../model/load.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { AsyncLLM } from './async-llm.js';
import { resolveEngineOptions, sizeEngine, type EngineConfig } from './config.js';
import { EMPTY_GENERATION_CONFIG, loadGenerationConfig, type GenerationConfig } from './generation-config.js';
import type { EngineOptions, PromptInput } from './engine-client.js';
import type { EngineCore } from './engine-core.js';
import type { CompletionOutput, RequestOutput } from './outputs.js';
import type { SamplingParamsInit } from './sampling-params.js';
import { loadDraftModel } from './spec/draft-model.js';
import { InProcessTransport } from './transport.js';

export interface GenerateOptions {
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /** vLLM's name for `progress`. */
  useTqdm?: boolean;
}

export class LLM extends AsyncLLM {
  readonly core: EngineCore;
  private nextId = 0;

  private constructor(
    readonly model: CausalLM,
    tokenizer: Tokenizer,
    readonly config: EngineConfig,
    ownsBackend: boolean,
    /** generation_config.json of the model directory (`create`); its EOS ids end every request. */
    generationConfig: GenerationConfig = EMPTY_GENERATION_CONFIG,
    draft: CausalLM | null = null,
  ) {
    const transport = new InProcessTransport(model, tokenizer, config, ownsBackend, draft);
    super(transport, tokenizer, generationConfig);
    this.core = transport.core;
  }

  static override async create(opts: EngineOptions): Promise<LLM> {
    const o = resolveEngineOptions(opts);
    const { dir, model, tokenizer, backend } = await loadModel(o.model, { backend: o.backend, threads: o.threads, simd: o.simd, dtype: o.dtype, allowNonFiniteWeights: o.allowNonFiniteWeights, quantization: o.quantization, quantizeLmHead: o.quantizeLmHead, activationAware: o.activationAware, onProgress: opts.onProgress });
    try {
      // A draft model (speculative decoding) shares the target's backend and KV block ids.
      const draft = o.speculative?.model ? await loadDraftModel(o.speculative.model, backend, o.dtype) : null;
      return new LLM(model, tokenizer, sizeEngine(o, model.config, model.dtype, draft?.config ?? null), true, loadGenerationConfig(dir), draft);
    } catch (e) {
      backend.dispose();
      throw e;
    }
  }

  /**
   * An engine over an already loaded model (tests, benchmarks); the caller keeps ownership of the
   * backend (and the draft model's, given for speculative method draft_model). Several engines may share a model: each has its own KV cache, and a step never yields
   * between the model's forward pass and sampling, so shared activation buffers are never interleaved.
   */
  static fromModel(model: CausalLM, tokenizer: Tokenizer, opts: Omit<EngineOptions, 'model'> = {}, draft: CausalLM | null = null): LLM {
    const o = resolveEngineOptions({ ...opts, model: '(in memory)' });
    return new LLM(model, tokenizer, sizeEngine(o, model.config, model.dtype, draft?.config ?? null), false, EMPTY_GENERATION_CONFIG, draft);
  }

  /** `EngineClient.generate`: streams one request's deltas under `requestId` (what the server calls). */
  override generate(prompt: PromptInput, params: SamplingParamsInit, requestId: string): AsyncGenerator<RequestOutput>;
  /**
   * Generates for every prompt and resolves with the final outputs in input order. `params` is one
   * set for all prompts or one per prompt. All inputs are validated before any is queued.
   */
  override generate(
    prompts: PromptInput | readonly PromptInput[],
    params?: SamplingParamsInit | readonly SamplingParamsInit[],
    opts?: GenerateOptions,
  ): Promise<RequestOutput[]>;
  override generate(
    prompts: PromptInput | readonly PromptInput[],
    params: SamplingParamsInit | readonly SamplingParamsInit[] = {},
    opts: GenerateOptions | string = {},
  ): AsyncGenerator<RequestOutput> | Promise<RequestOutput[]> {
    if (typeof opts === 'string') return super.generate(prompts as PromptInput, params as SamplingParamsInit, opts);
    return this.generateAll(prompts, params, opts);
  }

  /** Streams one request's deltas. Invalid input rejects the first `next()`; breaking out aborts it. */
  stream(prompt: PromptInput, params: SamplingParamsInit = {}, requestId?: string): AsyncGenerator<RequestOutput> {
    return super.generate(prompt, params, requestId ?? this.newId());
  }

  /** Aborts everything in flight (streams end with finish reason 'abort') and releases the backend. */
  close(): void {
    void this.transport.shutdown();
    this.die(new Error('LLM is closed'));
  }

  private async generateAll(
    prompts: PromptInput | readonly PromptInput[],
    params: SamplingParamsInit | readonly SamplingParamsInit[],
    opts: GenerateOptions,
  ): Promise<RequestOutput[]> {
    const list = Array.isArray(prompts) ? (prompts as readonly PromptInput[]) : [prompts as PromptInput];
    if (Array.isArray(params) && params.length !== list.length) {
      throw new Error(`generate: got ${params.length} sampling parameter sets for ${list.length} prompts`);
    }
    const prepared = list.map((p, i) => this.prepare(p, Array.isArray(params) ? params[i]! : (params as SamplingParamsInit)));
    const showBar = opts.progress ?? opts.useTqdm ?? Boolean(process.stderr.isTTY);
    const bar = showBar && list.length > 0 ? new cliProgress.SingleBar({ format: 'Processed prompts {bar} {value}/{total} | {speed} out tok/s', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
    const started = performance.now();
    let outTokens = 0;
    bar?.start(list.length, 0, { speed: '0.0' });
    try {
      return await Promise.all(
        prepared.map(async (p) => {
          let acc: RequestOutput | null = null;
          for await (const d of this.submit(p, this.newId())) {
            acc = mergeOutput(acc, d);
            for (const o of d.outputs) outTokens += o.tokenIds.length;
          }
          bar?.increment(1, { speed: (outTokens / ((performance.now() - started) / 1000)).toFixed(1) });
          return acc!;
        }),
      );
    } finally {
      bar?.stop();
    }
  }

  private newId(): string {
    while (this.queues.has(String(this.nextId))) this.nextId++;
    return String(this.nextId++);
  }
}

function mergeCompletion(prev: CompletionOutput | undefined, d: CompletionOutput): CompletionOutput {
  if (!prev) return d;
  return {
    index: d.index,
    text: prev.text + d.text,
    tokenIds: [...prev.tokenIds, ...d.tokenIds],
    logprobs: prev.logprobs === null || d.logprobs === null ? (prev.logprobs ?? d.logprobs) : [...prev.logprobs, ...d.logprobs],
    cumulativeLogprob: d.cumulativeLogprob,
    finishReason: d.finishReason ?? prev.finishReason,
    stopReason: d.stopReason ?? prev.stopReason,
  };
}

/** Folds streamed deltas into a cumulative `RequestOutput` (what non-streaming callers return). */
export function mergeOutput(prev: RequestOutput | null, d: RequestOutput): RequestOutput {
  if (!prev) return { ...d, outputs: [...d.outputs].sort((a, b) => a.index - b.index) };
  const byIndex = new Map(prev.outputs.map((o) => [o.index, o]));
  for (const o of d.outputs) byIndex.set(o.index, mergeCompletion(byIndex.get(o.index), o));
  return {
    ...d,
    promptLogprobs: prev.promptLogprobs ?? d.promptLogprobs,
    outputs: [...byIndex.values()].sort((a, b) => a.index - b.index),
  };
}
