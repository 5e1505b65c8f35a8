/**
 * Scheduler-side state of a request and of each of its samples.
 *
 * The unit the scheduler batches is a `Sequence`: one sample's tokens (prompt + its outputs), its
 * block table and how many of its tokens already have KV in the cache. A request with `n` samples owns
 * `n` sequences.
 *
 * Sharing for `n > 1` (the simplest correct scheme): only sample 0 starts out waiting. Once it has
 * computed the prompt's full blocks that precede the last prompt token, the other samples join the
 * waiting queue; when admitted they take references to those blocks (copy-on-write by ref count: a
 * full block is never written again) and recompute only the rest of the prompt: the partial last
 * block, or at least the last prompt token, whose logits each sample needs for its own first token.
 * If sample 0 no longer holds the blocks (finished or preempted), a sibling is admitted like any
 * other request (prefix cache, else recompute). Waiting samples hold no blocks, so sharing can never
 * pin memory that a waiting request needs.
 */
import type { FinishReason, TokenLogprob } from './outputs.js';
import { Rng } from './rng.js';
import type { SamplingParams } from './sampling-params.js';
import type { SequenceOutput } from './sequence-output.js';

export type SequenceStatus = 'waiting' | 'running' | 'preempted' | 'finished';

export class Sequence {
  status: SequenceStatus = 'waiting';
  /** Tokens (prompt, then outputs) whose K/V are in the cache. */
  numComputedTokens = 0;
  readonly outputTokenIds: number[] = [];
  /** Block ids, in position order. */
  blockTable: number[] = [];
  /** Chained hashes of this sequence's full, computed blocks (index i = block i). */
  blockHashes: string[] = [];
  finishReason: FinishReason | null = null;
  /** Tokens served by the prefix cache when last admitted. */
  numCachedTokens = 0;
  /** Speculative decoding: the draft tokens this step verifies (they follow the known tokens). */
  specTokens: number[] = [];
  /** Tokens whose K/V the draft model has in its own cache layers (draft_model only). */
  numDraftComputed = 0;
  /** Drafts rejected in a row, and decode steps left before this sequence drafts again (back-off). */
  specMisses = 0;
  specSkip = 0;
  /** Detokenisation, stop checks and the length limit; set by `Scheduler.addRequest`. */
  output!: SequenceOutput;

  constructor(
    readonly request: Request,
    readonly index: number,
    /** This sample's own random stream, so its draws do not depend on the rest of the batch. */
    readonly rng: Rng,
  ) {}

  get id(): string {
    return this.request.n === 1 ? this.request.id : `${this.request.id}#${this.index}`;
  }

  get numPromptTokens(): number {
    return this.request.promptTokenIds.length;
  }

  get numTokens(): number {
    return this.request.promptTokenIds.length + this.outputTokenIds.length;
  }

  /** Token at absolute position `i` (prompt first, then outputs, then this step's draft tokens). */
  tokenAt(i: number): number {
    const p = this.request.promptTokenIds;
    if (i < p.length) return p[i]!;
    const j = i - p.length;
    return j < this.outputTokenIds.length ? this.outputTokenIds[j]! : this.specTokens[j - this.outputTokenIds.length]!;
  }

  get isFinished(): boolean {
    return this.status === 'finished';
  }
}

export class Request {
  readonly seqs: Sequence[];
  /** Samples waiting for sample 0 to compute the shared prompt blocks. */
  pendingForks: Sequence[];
  /** Prompt positions up to which logprobs were produced (so recomputation does not repeat them). */
  promptLogprobsDone = 0;
  /** Prompt logprobs so far when asked for: entry 0 is null (the first token has no context). */
  readonly promptLogprobs: (TokenLogprob | null)[] | null;
  /** Whether the complete prompt logprobs went out (once, with the first delta after the prompt). */
  promptLogprobsSent = false;
  readonly arrivalTime = performance.now();
  firstScheduledTime: number | null = null;
  firstTokenTime: number | null = null;
  lastTokenTime: number | null = null;
  finishedTime: number | null = null;

  constructor(
    readonly id: string,
    readonly promptTokenIds: readonly number[],
    readonly params: SamplingParams,
    /** The prompt's text, when it was given as text. */
    readonly prompt: string | null = null,
  ) {
    if (promptTokenIds.length === 0) throw new Error(`request ${id}: the prompt is empty`);
    this.promptLogprobs = params.promptLogprobs === null ? null : [null];
    const rng = params.seed === null ? Rng.fromEntropy() : new Rng(params.seed);
    this.seqs = Array.from({ length: params.n }, (_, i) => new Sequence(this, i, rng.fork(i)));
    this.pendingForks = this.seqs.slice(1);
  }

  get n(): number {
    return this.params.n;
  }

  get isFinished(): boolean {
    return this.seqs.every((s) => s.isFinished);
  }

  /** Prompt tokens served from the prefix cache (sample 0's, as in vLLM's `num_cached_tokens`). */
  get numCachedTokens(): number {
    return this.seqs[0]!.numCachedTokens;
  }
}
