/**
 * How the engine client reaches an engine core (vLLM's in-process vs multi-process core client).
 * Validated requests and aborts go in; each step's deltas, and failures, come back as events. The
 * client above owns everything request-facing (queues, streaming, abort on break), so a transport
 * only moves messages.
 *
 * `InProcessTransport` steps an `EngineCore` on this thread's event loop, one step per macrotask
 * (`setImmediate`), so consumers, timers and I/O run between steps and streams interleave. The worker
 * transport (worker-transport.ts) runs one of these in a worker thread and relays its events.
 */
import type { CausalLM } from '../model/model.js';
import type { ModelConfig } from '../model/config.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { EngineConfig } from './config.js';
import { EngineCore } from './engine-core.js';
import type { EngineStats, RequestOutput } from './outputs.js';
import type { SamplingParams } from './sampling-params.js';
import type { EngineSnapshot } from './snapshot.js';

export interface TransportEvents {
  /** A step's deltas, or the final output of an aborted request. */
  outputs(outputs: RequestOutput[]): void;
  /** A request could not be queued; nothing of it is left in the core. */
  requestError(requestId: string, err: Error): void;
  /** A step failed: the core aborted every request and keeps serving new ones. */
  stepError(err: Error): void;
  /** The core is gone for good (e.g. its worker died). */
  lost(err: Error): void;
}

/** A request after the client tokenised and validated it. */
export interface CoreRequest {
  readonly id: string;
  readonly promptTokenIds: readonly number[];
  readonly params: SamplingParams;
  readonly prompt: string | null;
}

export interface CoreTransport {
  readonly modelConfig: ModelConfig;
  readonly engineConfig: EngineConfig;
  /** e.g. 'native/avx2' */
  readonly backendName: string;
  /** Connects the client's handlers; called once, before any request. */
  attach(events: TransportEvents): void;
  /** Queues a request; an in-process core may throw at once, a worker reports `requestError`. */
  add(req: CoreRequest): void;
  /** Aborts a request; its final output (finish reason 'abort') comes back as `outputs`. */
  abort(requestId: string): void;
  stats(): Promise<EngineStats>;
  /** The engine view's snapshot, with the steps numbered `since` and later. */
  snapshot(since: number): Promise<EngineSnapshot>;
  /** Whether streams are open: a worker keeps the process alive only while something is in flight. */
  setBusy(busy: boolean): void;
  /** Aborts everything and releases the core; idempotent. */
  shutdown(): Promise<void>;
}

export class InProcessTransport implements CoreTransport {
  readonly core: EngineCore;
  readonly backendName: string;
  private events: TransportEvents | null = null;
  private scheduled = false;
  private closed = false;

  constructor(
    readonly model: CausalLM,
    tokenizer: Tokenizer,
    readonly engineConfig: EngineConfig,
    /** Whether `shutdown` disposes the backend (not when the model is lent, e.g. by tests). */
    private readonly ownsBackend: boolean,
    /** The draft model for speculative decoding with method draft_model (on the same backend). */
    draft: CausalLM | null = null,
  ) {
    this.core = new EngineCore(model, tokenizer, engineConfig, draft);
    this.backendName = `${model.backend.name}/${model.backend.simd}`;
  }

  get modelConfig(): ModelConfig {
    return this.model.config;
  }

  attach(events: TransportEvents): void {
    this.events = events;
  }

  add(req: CoreRequest): void {
    if (this.closed) throw new Error('the engine core is shut down');
    this.core.addRequest(req.id, req.promptTokenIds, req.params, req.prompt);
    this.kick();
  }

  abort(requestId: string): void {
    const out = this.core.abort(requestId);
    if (out) this.events?.outputs([out]);
  }

  stats(): Promise<EngineStats> {
    return Promise.resolve(this.core.stats());
  }

  snapshot(since: number): Promise<EngineSnapshot> {
    return Promise.resolve(this.core.snapshot(since));
  }

  setBusy(): void {
    // The pending step (setImmediate) keeps the process alive while there is work.
  }

  shutdown(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const outs = this.core.abortAll();
    if (outs.length > 0) this.events?.outputs(outs);
    if (this.ownsBackend) this.model.backend.dispose();
    return Promise.resolve();
  }

  /** Makes sure a step is coming if there is work. */
  private kick(): void {
    if (this.scheduled || this.closed || !this.core.hasUnfinished()) return;
    this.scheduled = true;
    setImmediate(() => this.tick());
  }

  private tick(): void {
    this.scheduled = false;
    if (this.closed) return;
    let outputs: RequestOutput[];
    try {
      outputs = this.core.step();
    } catch (e) {
      // The engine state may be inconsistent: abort everything and carry on with an empty core.
      this.core.abortAll();
      this.events?.stepError(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (outputs.length > 0) this.events?.outputs(outputs);
    this.kick();
  }
}
