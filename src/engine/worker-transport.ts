/**
 * The engine core in a worker thread (vLLM v1 runs it in another process for the same reason): the
 * caller's event loop, e.g. the HTTP server's, never runs model math. engine-worker.ts is the other
 * end; the messages below are all structured-clone safe. A failure in the worker is reported as an
 * event; it never takes the host process down.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DType } from '../kernels/backend.js';
import type { ModelConfig } from '../model/config.js';
import type { LoadProgress } from '../model/load.js';
import type { EngineConfig } from './config.js';
import type { EngineOptions } from './engine-client.js';
import type { EngineStats, RequestOutput } from './outputs.js';
import type { SamplingParamsInit } from './sampling-params.js';
import type { EngineSnapshot } from './snapshot.js';
import type { CoreRequest, CoreTransport, TransportEvents } from './transport.js';

export type WorkerRequest =
  | { type: 'add'; id: string; promptTokenIds: number[]; params: SamplingParamsInit; prompt: string | null }
  | { type: 'abort'; id: string }
  /** Engine stats; with `snapshotSince`, the engine view's snapshot too (steps from that number on). */
  | { type: 'stats'; seq: number; snapshotSince?: number }
  | { type: 'shutdown' };

type StatsReply = { stats: EngineStats; snapshot?: EngineSnapshot };

export type WorkerReply =
  | { type: 'ready'; modelConfig: ModelConfig; engineConfig: EngineConfig; dtype: DType; backend: string }
  | { type: 'init-error'; message: string }
  | { type: 'progress'; event: LoadProgress }
  | { type: 'outputs'; outputs: RequestOutput[] }
  | { type: 'request-error'; id: string; message: string }
  | { type: 'stats'; seq: number; stats: EngineStats; snapshot?: EngineSnapshot }
  /** A step failed: every request was aborted; the engine keeps serving new ones. */
  | { type: 'step-error'; message: string };

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

export class WorkerTransport implements CoreTransport {
  private events: TransportEvents | null = null;
  private readonly statsWaiters = new Map<number, { resolve: (r: StatsReply) => void; reject: (e: Error) => void }>();
  private statsSeq = 0;
  private busy = false;
  /** Set once the worker is gone (or shut down); later calls fail with it. */
  private gone: Error | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    readonly modelConfig: ModelConfig,
    readonly engineConfig: EngineConfig,
    readonly backendName: string,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: WorkerReply) => this.onMessage(m));
    worker.on('error', (e) => this.lose(new Error(`engine worker failed: ${e.message}`)));
    worker.on('exit', (code) => this.lose(new Error(`engine worker exited (code ${code})`)));
    this.updateRef();
  }

  /** Starts a worker on a resolved checkpoint directory and waits until its model is loaded. */
  static async start(opts: EngineOptions): Promise<WorkerTransport> {
    const { onProgress, ...plain } = opts;
    const worker = startWorker(plain);
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
    return new WorkerTransport(worker, ready.modelConfig, ready.engineConfig, ready.backend);
  }

  attach(events: TransportEvents): void {
    this.events = events;
  }

  add(req: CoreRequest): void {
    if (this.gone) throw this.gone;
    this.send({ type: 'add', id: req.id, promptTokenIds: [...req.promptTokenIds], params: req.params.toInit(), prompt: req.prompt });
  }

  abort(requestId: string): void {
    if (!this.gone) this.send({ type: 'abort', id: requestId });
  }

  async stats(): Promise<EngineStats> {
    return (await this.query(undefined)).stats;
  }

  async snapshot(since: number): Promise<EngineSnapshot> {
    return (await this.query(since)).snapshot!;
  }

  private query(snapshotSince: number | undefined): Promise<StatsReply> {
    if (this.gone) return Promise.reject(this.gone);
    const seq = this.statsSeq++;
    const p = new Promise<StatsReply>((resolve, reject) => this.statsWaiters.set(seq, { resolve, reject }));
    this.send({ type: 'stats', seq, snapshotSince });
    this.updateRef();
    return p;
  }

  setBusy(busy: boolean): void {
    this.busy = busy;
    this.updateRef();
  }

  shutdown(): Promise<void> {
    if (!this.gone) {
      this.lose(new Error('the engine was shut down'));
      this.worker.ref();
      this.send({ type: 'shutdown' });
    }
    return this.exited;
  }

  private send(msg: WorkerRequest): void {
    this.worker.postMessage(msg);
  }

  private onMessage(m: WorkerReply): void {
    switch (m.type) {
      case 'outputs':
        this.events?.outputs(m.outputs);
        break;
      case 'request-error':
        this.events?.requestError(m.id, new Error(m.message));
        break;
      case 'stats': {
        const w = this.statsWaiters.get(m.seq);
        this.statsWaiters.delete(m.seq);
        w?.resolve(m);
        this.updateRef();
        break;
      }
      case 'step-error':
        this.events?.stepError(new Error(m.message));
        break;
      default:
        break;
    }
  }

  /** Fails pending stats and tells the client, once. */
  private lose(err: Error): void {
    if (this.gone) return;
    this.gone = err;
    for (const w of this.statsWaiters.values()) w.reject(err);
    this.statsWaiters.clear();
    this.events?.lost(err);
  }

  /** The worker keeps the process alive only while something is in flight. */
  private updateRef(): void {
    if (this.busy || this.statsWaiters.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}
