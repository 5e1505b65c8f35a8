/**
 * The engine client (vLLM's AsyncLLM): the one implementation of `EngineClient`, over a transport
 * that reaches the engine core in this thread or in a worker thread (transport.ts).
 *
 * Everything request-facing lives here: prompts are tokenised and parameters validated on the
 * caller's side, so a bad request fails at once with a `ParamError`; each request gets an output
 * queue that step outputs are dispatched to; breaking out of a stream aborts the request; a failed
 * step fails every open stream, and a lost core fails them and every later call.
 */
import type { ModelConfig } from '../model/config.js';
import { resolveModel } from '../hub/hub.js';
import { Tokenizer, type EncodeOptions } from '../tokenizer/index.js';
import { resolveEngineOptions, type EngineConfig } from './config.js';
import type { EngineClient, EngineOptions, PromptInput } from './engine-client.js';
import { EMPTY_GENERATION_CONFIG, loadGenerationConfig, withEosTokenIds, type GenerationConfig } from './generation-config.js';
import { prepareRequest, type PreparedRequest } from './input-processor.js';
import type { EngineSnapshot } from './snapshot.js';
import type { EngineStats, RequestOutput } from './outputs.js';
import type { SamplingParamsInit } from './sampling-params.js';
import type { CoreTransport } from './transport.js';
import { WorkerTransport } from './worker-transport.js';

/**
 * A single-consumer async queue: the engine pushes a request's deltas as steps complete and the
 * caller pulls them with `for await`. An error ends the iteration by rejecting the pending `next()`.
 */
class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private error: unknown = null;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** Ends the iteration after the queued items. */
  close(): void {
    this.closed = true;
    if (this.waiter && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: undefined, done: true });
    }
  }

  /** Fails the iteration: queued items are still delivered, then `next()` rejects with `err`. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.error = err;
    this.closed = true;
    if (this.waiter && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.closed) return this.error !== null ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.next() };
  }
}

export class AsyncLLM implements EngineClient {
  /** One output queue per request in flight, keyed by request id. */
  protected readonly queues = new Map<string, AsyncQueue<RequestOutput>>();
  /** Set once the core is gone or shut down; every later call fails with it. */
  private dead: Error | null = null;

  constructor(
    protected readonly transport: CoreTransport,
    readonly tokenizer: Tokenizer,
    /** generation_config.json: its EOS ids end every request; its sampling values are the server's defaults. */
    readonly generationConfig: GenerationConfig = EMPTY_GENERATION_CONFIG,
  ) {
    transport.attach({
      outputs: (outs) => this.dispatch(outs),
      requestError: (id, err) => this.queues.get(id)?.fail(err),
      stepError: (err) => {
        const e = new Error(`engine step failed: ${err.message}`);
        for (const q of this.queues.values()) q.fail(e);
      },
      lost: (err) => this.die(err),
    });
  }

  /** An engine with its core in a worker thread, so this thread's event loop never runs model math. */
  static async create(opts: EngineOptions): Promise<AsyncLLM> {
    const { onProgress } = opts;
    resolveEngineOptions(opts); // fail fast on bad options, before any download or thread
    onProgress?.({ phase: 'resolve', message: `resolving ${opts.model}` });
    const dir = await resolveModel(opts.model, {
      onProgress: (e) => onProgress?.({ phase: 'download', message: e.file, done: e.downloaded, total: e.total ?? undefined }),
    });
    const tokenizer = Tokenizer.fromDir(dir);
    const generationConfig = loadGenerationConfig(dir);
    return new AsyncLLM(await WorkerTransport.start({ ...opts, model: dir }), tokenizer, generationConfig);
  }

  get modelConfig(): ModelConfig {
    return this.transport.modelConfig;
  }

  get engineConfig(): EngineConfig {
    return this.transport.engineConfig;
  }

  /** e.g. 'native/avx2' */
  get backendName(): string {
    return this.transport.backendName;
  }

  get maxModelLen(): number {
    return this.engineConfig.maxModelLen;
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    return this.tokenizer.encode(text, opts);
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode(ids);
  }

  async *generate(prompt: PromptInput, params: SamplingParamsInit, requestId: string): AsyncGenerator<RequestOutput> {
    yield* this.submit(this.prepare(prompt, params), requestId);
  }

  abort(requestId: string): void {
    if (!this.dead && this.queues.has(requestId)) this.transport.abort(requestId);
  }

  stats(): Promise<EngineStats> {
    return this.dead ? Promise.reject(this.dead) : this.transport.stats();
  }

  snapshot(since = 0): Promise<EngineSnapshot> {
    return this.dead ? Promise.reject(this.dead) : this.transport.snapshot(since);
  }

  /**
   * Aborts everything in flight and releases the core. In-process, open streams end with finish
   * reason 'abort'; over a worker they reject. Later calls fail.
   */
  async shutdown(): Promise<void> {
    const done = this.transport.shutdown();
    this.die(new Error('the engine was shut down'));
    await done;
  }

  /** Tokenises and validates; throws a `ParamError` naming the culprit. */
  protected prepare(prompt: PromptInput, params: SamplingParamsInit): PreparedRequest {
    if (this.dead) throw this.dead;
    return prepareRequest(this.tokenizer, this.modelConfig.vocabSize, this.maxModelLen, prompt, withEosTokenIds(params, this.generationConfig));
  }

  /** Queues a prepared request and yields its deltas; leaving early aborts it. */
  protected async *submit(p: PreparedRequest, id: string): AsyncGenerator<RequestOutput> {
    if (this.dead) throw this.dead;
    if (this.queues.has(id)) throw new Error(`request id '${id}' is already in use`);
    this.transport.add({ id, promptTokenIds: p.promptTokenIds, params: p.params, prompt: p.prompt });
    const queue = new AsyncQueue<RequestOutput>();
    this.queues.set(id, queue);
    this.transport.setBusy(true);
    let finished = false;
    try {
      for await (const out of queue) {
        finished = out.finished;
        yield out;
      }
    } finally {
      this.queues.delete(id);
      if (!finished && !this.dead) this.transport.abort(id);
      this.transport.setBusy(this.queues.size > 0);
    }
  }

  /** Fails every open stream; later calls fail with `err` too. */
  protected die(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    for (const q of this.queues.values()) q.fail(err);
  }

  private dispatch(outs: readonly RequestOutput[]): void {
    for (const o of outs) {
      const q = this.queues.get(o.requestId);
      if (!q) continue;
      q.push(o);
      if (o.finished) q.close();
    }
  }
}
