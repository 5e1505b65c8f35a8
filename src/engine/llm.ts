/**
 * The offline API (vLLM's `LLM`): load a model, then `generate` a batch of prompts or `stream` one.
 * The engine core runs in-process, one step per event-loop turn, so several streams interleave.
 */
import cliProgress from 'cli-progress';
import type { GPT2Config } from '../model/config.js';
import type { GPT2Model } from '../model/gpt2.js';
import { loadModel } from '../model/load.js';
import type { GPT2Tokenizer } from '../tokenizer/index.js';
import { EMPTY_GENERATION_CONFIG, loadGenerationConfig, withEosTokenIds, type GenerationConfig } from './generation-config.js';
import { resolveEngineOptions, sizeEngine, type EngineConfig } from './config.js';
import { AsyncQueue } from './async-queue.js';
import type { EngineOptions, PromptInput } from './engine-client.js';
import { EngineCore } from './engine-core.js';
import { EngineLoop } from './engine-loop.js';
import { prepareRequest, type PreparedRequest } from './input-processor.js';
import { mergeOutput } from './output-merge.js';
import type { EngineStats, RequestOutput } from './outputs.js';
import type { SamplingParamsInit } from './sampling-params.js';

export interface GenerateOptions {
  /** Show a progress bar (default: when stderr is a terminal). */
  progress?: boolean;
  /** vLLM's name for `progress`. */
  useTqdm?: boolean;
}

export class LLM {
  readonly core: EngineCore;
  private readonly loop: EngineLoop;
  private readonly listeners = new Map<string, AsyncQueue<RequestOutput>>();
  private nextId = 0;
  private closed = false;

  private constructor(
    readonly model: GPT2Model,
    readonly tokenizer: GPT2Tokenizer,
    readonly config: EngineConfig,
    /** Whether `close()` disposes the backend (not when the model was lent by `fromModel`). */
    private readonly ownsBackend: boolean,
    /** generation_config.json of the model directory (`create`); its EOS ids end every request. */
    readonly generationConfig: GenerationConfig = EMPTY_GENERATION_CONFIG,
  ) {
    this.core = new EngineCore(model, tokenizer, config);
    this.loop = new EngineLoop(this.core, (outs) => this.dispatch(outs), (err) => this.failAll(err));
  }

  static async create(opts: EngineOptions): Promise<LLM> {
    const o = resolveEngineOptions(opts);
    const { dir, model, tokenizer, backend } = await loadModel(o.model, { backend: o.backend, threads: o.threads, simd: o.simd, dtype: o.dtype, allowNonFiniteWeights: o.allowNonFiniteWeights, onProgress: opts.onProgress });
    try {
      return new LLM(model, tokenizer, sizeEngine(o, model.config, model.dtype), true, loadGenerationConfig(dir));
    } catch (e) {
      backend.dispose();
      throw e;
    }
  }

  /**
   * An engine over an already loaded model (tests, benchmarks); the caller keeps ownership of the
   * backend. Several engines may share a model: each has its own KV cache, and a step never yields
   * between the model's forward pass and sampling, so shared activation buffers are never interleaved.
   */
  static fromModel(model: GPT2Model, tokenizer: GPT2Tokenizer, opts: Omit<EngineOptions, 'model'> = {}): LLM {
    return new LLM(model, tokenizer, sizeEngine(resolveEngineOptions({ ...opts, model: '(in memory)' }), model.config, model.dtype), false);
  }

  get modelConfig(): GPT2Config {
    return this.model.config;
  }

  get maxModelLen(): number {
    return this.config.maxModelLen;
  }

  /**
   * Generates for every prompt and resolves with the final outputs in input order. `params` is one
   * set for all prompts or one per prompt. All inputs are validated before any is queued.
   */
  async generate(
    prompts: PromptInput | readonly PromptInput[],
    params: SamplingParamsInit | readonly SamplingParamsInit[] = {},
    opts: GenerateOptions = {},
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

  /** Streams one request's deltas. Invalid input rejects the first `next()`; breaking out aborts it. */
  async *stream(prompt: PromptInput, params: SamplingParamsInit = {}, requestId?: string): AsyncGenerator<RequestOutput> {
    yield* this.submit(this.prepare(prompt, params), requestId ?? this.newId());
  }

  /** Aborts a request; its KV blocks are freed now and its stream ends with finish reason 'abort'. */
  abort(requestId: string): void {
    const out = this.core.abort(requestId);
    if (out) this.dispatch([out]);
  }

  stats(): EngineStats {
    return this.core.stats();
  }

  /** Aborts everything in flight and releases the backend. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dispatch(this.core.abortAll());
    if (this.ownsBackend) this.model.backend.dispose();
  }

  private prepare(prompt: PromptInput, params: SamplingParamsInit): PreparedRequest {
    if (this.closed) throw new Error('LLM is closed');
    return prepareRequest(this.tokenizer, this.model.config.vocabSize, this.config.maxModelLen, prompt, withEosTokenIds(params, this.generationConfig));
  }

  private newId(): string {
    while (this.listeners.has(String(this.nextId))) this.nextId++;
    return String(this.nextId++);
  }

  private async *submit(p: PreparedRequest, id: string): AsyncGenerator<RequestOutput> {
    if (this.listeners.has(id)) throw new Error(`request id '${id}' is already in use`);
    const queue = new AsyncQueue<RequestOutput>();
    this.core.addRequest(id, p.promptTokenIds, p.params, p.prompt);
    this.listeners.set(id, queue);
    this.loop.kick();
    let finished = false;
    try {
      for await (const out of queue) {
        finished = out.finished;
        yield out;
      }
    } finally {
      this.listeners.delete(id);
      if (!finished) this.core.abort(id);
    }
  }

  private dispatch(outs: RequestOutput[]): void {
    for (const o of outs) {
      const q = this.listeners.get(o.requestId);
      if (!q) continue;
      q.push(o);
      if (o.finished) q.close();
    }
  }

  private failAll(err: Error): void {
    for (const q of this.listeners.values()) q.fail(err);
  }
}
