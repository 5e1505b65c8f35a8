/**
 * The fan-in of one HTTP request's engine requests: the steps of every prompt's iterator, in arrival
 * order. Each iterator pushes here when its `next()` settles, so merging N prompts costs O(1) per
 * delta (a `Promise.race` over all pending prompts costs O(N) per delta, O(N²) per request, all of it
 * on the event loop).
 */
import type { RequestOutput } from '../engine/outputs.js';

/** What one `next()` of prompt `i`'s engine iterator gave. */
export type Step = { readonly i: number; readonly res: IteratorResult<RequestOutput> } | { readonly i: number; readonly err: unknown };

/** A FIFO of steps with one consumer; `close()` drops what is queued and ends `take()`. */
export class Inbox {
  private items: Step[] = [];
  private head = 0;
  private wake: (() => void) | null = null;
  private closed = false;

  push(step: Step): void {
    if (this.closed) return;
    this.items.push(step);
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.items = [];
    this.head = 0;
    this.notify();
  }

  /** The next step, or null once closed. */
  async take(): Promise<Step | null> {
    while (this.head === this.items.length) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const step = this.items[this.head++]!;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return step;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
