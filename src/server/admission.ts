/**
 * A bounded waiting room in front of the engine (`maxWaiting`), counted in sequences: a request
 * costs prompts × n. Requests run while their sequences fit in `maxRunning` (the engine's
 * `maxNumSeqs`; a request larger than that runs alone, the engine queueing the rest); later ones
 * queue FIFO, and once `maxWaiting` sequences are queued new requests get 503 at once instead of
 * piling up latency. Without `maxWaiting` every request goes straight to the engine, whose own
 * scheduler queues it.
 */
import { ApiError, clientClosed } from './errors.js';

interface Waiter {
  readonly cost: number;
  readonly resolve: () => void;
}

export class Admission {
  private running = 0;
  private queued = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly maxRunning: number,
    private readonly maxWaiting: number | undefined,
  ) {}

  /** Requests queued in the server (not yet handed to the engine). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Sequences of the requests queued in the server. */
  get waitingSequences(): number {
    return this.queued;
  }

  /** Waits for room for `sequences` sequences; resolves to the function that gives it back. */
  async acquire(sequences: number, signal: AbortSignal): Promise<() => void> {
    if (this.maxWaiting === undefined) return () => {};
    const cost = Math.max(1, sequences);
    if (cost > this.maxRunning + this.maxWaiting) {
      // It could never be admitted: a client error, not a reason to retry.
      throw new ApiError(
        400,
        `This request needs ${cost} sequences (prompts × n), more than the server holds (max running ${this.maxRunning} + max waiting ${this.maxWaiting}). Split it into smaller requests.`,
        'invalid_request_error',
        'prompt',
        'too_many_sequences',
      );
    }
    if (this.queue.length === 0 && (this.running === 0 || this.running + cost <= this.maxRunning)) {
      this.running += cost;
      return this.releaser(cost);
    }
    if (this.queued + cost > this.maxWaiting) {
      throw new ApiError(
        503,
        `The server is overloaded: ${this.queued} sequences are already waiting and this request adds ${cost} (max waiting ${this.maxWaiting}). Please retry later.`,
        'server_error',
        null,
        'server_overloaded',
      );
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) {
          this.queue.splice(i, 1);
          this.queued -= cost;
        }
        reject(clientClosed());
        // A large request leaving the head may let the ones behind it in.
        this.admit();
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.queued += cost;
    });
    return this.releaser(cost);
  }

  private releaser(cost: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= cost;
      this.admit();
    };
  }

  private admit(): void {
    while (this.queue.length > 0 && (this.running === 0 || this.running + this.queue[0]!.cost <= this.maxRunning)) {
      const next = this.queue.shift()!;
      this.running += next.cost;
      this.queued -= next.cost;
      next.resolve();
    }
  }
}
