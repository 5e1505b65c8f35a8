/**
 * `EngineClient` with the engine core in a worker thread (vLLM v1 runs it in another process for the
 * same reason): the caller's event loop, e.g. the HTTP server's, never runs model math.
 *
 * The caller's side keeps a tokenizer, so prompts are tokenised and parameters validated here and a
 * bad request fails at once with a `ParamError`. Each engine step posts its deltas back; they are
 * routed to per-request queues. A failure in the worker rejects the affected iterations; it never
 * takes the host process down.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { GPT2Config } from '../model/config.js';
import { resolveModel } from '../hub/hub.js';
import { Tokenizer, type EncodeOptions } from '../tokenizer/index.js';
import { AsyncQueue } from './async-queue.js';
import { resolveEngineOptions, type EngineConfig } from './config.js';
import type { EngineClient, EngineOptions, PromptInput } from './engine-client.js';
import { loadGenerationConfig, withEosTokenIds, type GenerationConfig } from './generation-config.js';
import { prepareRequest } from './input-processor.js';
import type { EngineStats, RequestOutput } from './outputs.js';
import type { SamplingParamsInit } from './sampling-params.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

/**
 * Starts the worker script next to this module: compiled `engine-worker.js`, or, when this module
 * runs from source (tests, tsx), `engine-worker.ts` through tsx. On Node 20 `execArgv: ['--import',
 * 'tsx']` does not reach a worker's entry module, so a tiny bootstrap registers tsx's loader first.
 */
function startWorker(data: Omit<EngineOptions, 'onProgress'>): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./engine-worker.js', self), { workerData: data });
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const entry = new URL('./engine-worker.ts', self).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

export class AsyncLLM implements EngineClient {
  private readonly queues = new Map<string, AsyncQueue<RequestOutput>>();
  private readonly statsWaiters = new Map<number, { resolve: (s: EngineStats) => void; reject: (e: Error) => void }>();
  private statsSeq = 0;
  /** Set once the worker is gone; every later call fails with it. */
  private dead: Error | null = null;
  private exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    readonly tokenizer: Tokenizer,
    readonly generationConfig: GenerationConfig,
    readonly modelConfig: GPT2Config,
    readonly engineConfig: EngineConfig,
    /** e.g. 'native/avx2' */
    readonly backendName: string,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: WorkerReply) => this.onMessage(m));
    worker.on('error', (e) => this.die(new Error(`engine worker failed: ${e.message}`)));
    worker.on('exit', (code) => this.die(new Error(`engine worker exited (code ${code})`)));
    this.updateRef();
  }

  static async create(opts: EngineOptions): Promise<AsyncLLM> {
    const { onProgress, ...plain } = opts;
    resolveEngineOptions(opts); // fail fast on bad options, before any download or thread
    onProgress?.({ phase: 'resolve', message: `resolving ${opts.model}` });
    const dir = await resolveModel(opts.model, {
      onProgress: (e) => onProgress?.({ phase: 'download', message: e.file, done: e.downloaded, total: e.total ?? undefined }),
    });
    const tokenizer = Tokenizer.fromDir(dir);
    const generationConfig = loadGenerationConfig(dir);
    const worker = startWorker({ ...plain, model: dir });
    const ready = await new Promise<Extract<WorkerReply, { type: 'ready' }>>((resolve, reject) => {
      const onMessage = (m: WorkerReply): void => {
        if (m.type === 'progress') onProgress?.(m.event);
        else if (m.type === 'ready') done(() => resolve(m));
        else if (m.type === 'init-error') done(() => reject(new Error(m.message)));
      };
      const onError = (e: Error): void => done(() => reject(new Error(`engine worker failed to start: ${e.message}`)));
      const onExit = (code: number): void => done(() => reject(new Error(`engine worker exited during start-up (code ${code})`)));
      const done = (settle: () => void): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        settle();
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    }).catch(async (e: unknown) => {
      await worker.terminate();
      throw e;
    });
    return new AsyncLLM(worker, tokenizer, generationConfig, ready.modelConfig, ready.engineConfig, ready.backend);
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
    if (this.dead) throw this.dead;
    const p = prepareRequest(this.tokenizer, this.modelConfig.vocabSize, this.maxModelLen, prompt, withEosTokenIds(params, this.generationConfig));
    if (this.queues.has(requestId)) throw new Error(`request id '${requestId}' is already in use`);
    const queue = new AsyncQueue<RequestOutput>();
    this.queues.set(requestId, queue);
    this.send({ type: 'add', id: requestId, promptTokenIds: p.promptTokenIds, params: p.params.toInit(), prompt: p.prompt });
    this.updateRef();
    let finished = false;
    try {
      for await (const out of queue) {
        finished = out.finished;
        yield out;
      }
    } finally {
      this.queues.delete(requestId);
      if (!finished && !this.dead) this.send({ type: 'abort', id: requestId });
      this.updateRef();
    }
  }

  abort(requestId: string): void {
    if (!this.dead && this.queues.has(requestId)) this.send({ type: 'abort', id: requestId });
  }

  stats(): Promise<EngineStats> {
    if (this.dead) return Promise.reject(this.dead);
    const seq = this.statsSeq++;
    const p = new Promise<EngineStats>((resolve, reject) => this.statsWaiters.set(seq, { resolve, reject }));
    this.send({ type: 'stats', seq });
    this.updateRef();
    return p;
  }

  /** Aborts everything in flight (their iterations reject) and stops the worker. */
  async shutdown(): Promise<void> {
    if (!this.dead) {
      this.die(new Error('the engine was shut down'));
      this.worker.ref();
      this.send({ type: 'shutdown' });
    }
    await this.exited;
  }

  private send(msg: WorkerRequest): void {
    this.worker.postMessage(msg);
  }

  private onMessage(m: WorkerReply): void {
    switch (m.type) {
      case 'outputs':
        for (const o of m.outputs) {
          const q = this.queues.get(o.requestId);
          if (!q) continue;
          q.push(o);
          if (o.finished) q.close();
        }
        break;
      case 'request-error':
        this.queues.get(m.id)?.fail(new Error(m.message));
        break;
      case 'stats': {
        const w = this.statsWaiters.get(m.seq);
        this.statsWaiters.delete(m.seq);
        w?.resolve(m.stats);
        this.updateRef();
        break;
      }
      case 'step-error': {
        const err = new Error(`engine step failed: ${m.message}`);
        for (const q of this.queues.values()) q.fail(err);
        break;
      }
      default:
        break;
    }
  }

  /** Fails everything pending; later calls fail with `err` too. */
  private die(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    for (const q of this.queues.values()) q.fail(err);
    for (const w of this.statsWaiters.values()) w.reject(err);
    this.statsWaiters.clear();
  }

  /** The worker keeps the process alive only while something is in flight. */
  private updateRef(): void {
    if (this.queues.size > 0 || this.statsWaiters.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}
