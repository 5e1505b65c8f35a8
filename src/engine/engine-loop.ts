/**
 * Drives an `EngineCore` on the event loop: one step per macrotask (`setImmediate`), so consumers,
 * timers and I/O (or a worker's incoming messages) run between steps and streams interleave. It idles
 * when no request is left and restarts on `kick()`.
 */
import type { EngineCore } from './engine-core.js';
import type { RequestOutput } from './outputs.js';

export class EngineLoop {
  private scheduled = false;

  constructor(
    readonly core: EngineCore,
    private readonly onOutputs: (outputs: RequestOutput[]) => void,
    /** A step threw: the engine state may be inconsistent, so every request has been aborted. */
    private readonly onError: (err: Error) => void,
  ) {}

  /** Makes sure a step is coming if there is work. */
  kick(): void {
    if (this.scheduled || !this.core.hasUnfinished()) return;
    this.scheduled = true;
    setImmediate(() => this.tick());
  }

  private tick(): void {
    this.scheduled = false;
    let outputs: RequestOutput[];
    try {
      outputs = this.core.step();
    } catch (e) {
      this.core.abortAll();
      this.onError(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (outputs.length > 0) this.onOutputs(outputs);
    this.kick();
  }
}
