/**
 * The scheduler, after vLLM v1: no separate prefill and decode phases, just a token budget per step.
 *
 * Each step, running sequences go first (1 token for a decode, up to the rest of the budget for an
 * unfinished prefill: chunked prefill), then waiting sequences are admitted first-come-first-served
 * while the budget, the `maxNumSeqs` cap and free blocks last; prefix-cache hits shrink their work.
 * When a running sequence cannot get a block, the newest running sequence is preempted: its blocks
 * are freed and it goes back to the front of the waiting queue to be recomputed (prompt and the tokens
 * it already generated), which needs no swap space.
 *
 * With speculative decoding (spec/), a decoding sequence may instead get 1 + k rows: its last token
 * and k draft tokens, verified in the same forward pass; see `speculate`.
 *
 * After the model ran, `updateFromOutput` is the one place where a step's results land: computed
 * tokens advance, sampled tokens are appended through each sequence's output processor (stop tokens,
 * stop strings, the length limit), and what stopped is finished and freed.
 */
import type { GPT2Tokenizer } from '../tokenizer/index.js';
import type { EngineConfig } from './config.js';
import { KVCacheManager } from './kv-cache-manager.js';
import type { ModelRunnerOutput } from './model-runner.js';
import type { FinishReason, TokenLogprob } from './outputs.js';
import type { Request, Sequence } from './request.js';
import { SequenceOutput, type AppendResult } from './sequence-output.js';
import { proposeNgram } from './spec/ngram.js';
import { SpecDecodeCounters } from './spec/stats.js';

/** The scheduler runs on the engine's sized configuration as is. */
export type SchedulerConfig = EngineConfig;

export interface ScheduledSequence {
  readonly seq: Sequence;
  /** Position of the first token computed this step (= computed tokens before the step). */
  readonly start: number;
  /** Rows this step: known tokens, then `numSpec` draft tokens (`seq.specTokens`). */
  readonly numTokens: number;
  /** Whether this step computes the sequence's last known token, so its logits pick the next one. */
  readonly sample: boolean;
  /** Draft tokens verified this step (0 without speculation); all 1 + numSpec rows produce logits. */
  readonly numSpec: number;
}

export interface SchedulerOutput {
  readonly scheduled: readonly ScheduledSequence[];
  /** Sequences the scheduler finished itself since the last step (can never fit, too long). */
  readonly finished: readonly Sequence[];
}

/** A sampled token as appended by `updateFromOutput`, with what the output processor made of it. */
export interface TokenUpdate extends AppendResult {
  readonly seq: Sequence;
  readonly tokenId: number;
  readonly logprob: TokenLogprob | null;
}

export class Scheduler {
  readonly kv: KVCacheManager;
  readonly waiting: Sequence[] = [];
  readonly running: Sequence[] = [];
  readonly requests = new Map<string, Request>();
  numPreemptions = 0;
  /** Speculative decoding counters, when speculating. */
  readonly spec: SpecDecodeCounters | null;
  private finishedSinceStep: Sequence[] = [];

  constructor(
    readonly config: SchedulerConfig,
    /** For each sequence's output processor (detokenisation, stop checks). */
    private readonly tokenizer: GPT2Tokenizer,
  ) {
    this.kv = new KVCacheManager(config.numBlocks, config.blockSize, config.enablePrefixCaching);
    this.spec = config.speculative ? new SpecDecodeCounters(config.speculative.numSpeculativeTokens) : null;
  }

  get blockSize(): number {
    return this.config.blockSize;
  }

  /** Most tokens a sequence may hold: the context length, and what the whole KV pool can store. */
  get maxSequenceTokens(): number {
    return Math.min(this.config.maxModelLen, this.kv.pool.numUsableBlocks * this.blockSize);
  }

  addRequest(req: Request): void {
    if (this.requests.has(req.id)) throw new Error(`request id '${req.id}' is already in use`);
    this.requests.set(req.id, req);
    // The length limit, resolved once: max_tokens, and the room the context and the KV pool leave.
    const room = this.maxSequenceTokens - req.promptTokenIds.length;
    const maxTokens = Math.max(1, Math.min(req.params.maxTokens ?? Infinity, room));
    for (const s of req.seqs) s.output = new SequenceOutput(req.params, this.tokenizer, { maxTokens, eosTokenId: this.tokenizer.eosTokenId });
    // A prompt with no room for one more token could never run: finish it rather than wait forever.
    if (req.promptTokenIds.length >= this.maxSequenceTokens) {
      for (const s of req.seqs) this.finish(s, 'length');
      this.finishedSinceStep.push(...req.seqs);
      return;
    }
    // With no full block to share, the samples have nothing to wait for.
    if (this.sharedPromptBlocks(req) === 0) req.pendingForks = [];
    this.waiting.push(...req.seqs.filter((s) => !req.pendingForks.includes(s)));
  }

  /** Finishes every sample of a request with 'abort' and frees its blocks at once. */
  abort(requestId: string): Request | undefined {
    const req = this.requests.get(requestId);
    if (!req) return undefined;
    for (const s of req.seqs) {
      if (s.isFinished) continue;
      s.output.abort();
      this.finish(s, 'abort');
    }
    return req;
  }

  /** Marks a sequence finished and frees its blocks; drops the request once all its samples are done. */
  finish(seq: Sequence, reason: FinishReason): void {
    if (seq.isFinished) return;
    removeFrom(this.running, seq);
    removeFrom(this.waiting, seq);
    removeFrom(seq.request.pendingForks, seq);
    if (seq.blockTable.length > 0) this.kv.free(seq);
    seq.status = 'finished';
    seq.finishReason = reason;
    const req = seq.request;
    if (req.isFinished) {
      req.finishedTime = performance.now();
      this.requests.delete(req.id);
    }
  }

  /** Prompt tokens looked up in the prefix cache on admission, and tokens found there. */
  get prefixCacheQueries(): number {
    return this.kv.pool.queries;
  }

  get prefixCacheHits(): number {
    return this.kv.pool.hits;
  }

  /** Whether a step has anything to do, including reporting sequences finished on admission. */
  hasUnfinished(): boolean {
    return this.requests.size > 0 || this.finishedSinceStep.length > 0;
  }

  schedule(): SchedulerOutput {
    let budget = this.config.maxNumBatchedTokens;
    const scheduled: ScheduledSequence[] = [];
    const preempted: Sequence[] = [];
    const speculating = this.speculationOn();

    for (let i = 0; i < this.running.length && budget > 0; ) {
      const seq = this.running[i]!;
      let numTokens = Math.min(seq.numTokens - seq.numComputedTokens, budget);
      let numSpec = speculating ? this.speculate(seq, budget) : 0;
      // Drafts are optional: without room for their slots, decode plainly rather than preempt.
      if (numSpec > 0 && !this.kv.allocateSlots(seq, 1 + numSpec)) numSpec = 0;
      if (numSpec > 0) numTokens = 1 + numSpec;
      else seq.specTokens = [];
      let ok = true;
      while (numSpec === 0 && !this.kv.allocateSlots(seq, numTokens)) {
        const victim = this.running.pop()!;
        this.preempt(victim);
        preempted.push(victim);
        if (victim === seq) {
          ok = false;
          break;
        }
      }
      if (!ok) break;
      scheduled.push(this.entry(seq, numTokens, numSpec));
      budget -= numTokens;
      i++;
    }

    // Admitting new work right after a preemption would only thrash.
    while (preempted.length === 0 && this.waiting.length > 0 && budget > 0 && this.running.length < this.config.maxNumSeqs) {
      const seq = this.waiting[0]!;
      const { blocks, fromCache } = this.computedBlocks(seq);
      const numComputed = blocks.length * this.blockSize;
      const numTokens = Math.min(seq.numTokens - numComputed, budget);
      if (!this.kv.allocateSlots(seq, numTokens, blocks)) break;
      this.waiting.shift();
      if (fromCache) {
        this.kv.pool.recordLookup(seq.numTokens, numComputed);
        seq.numCachedTokens = numComputed;
      }
      seq.numComputedTokens = numComputed;
      // Cached blocks hold the draft model's K/V too: it mirrors every step the target computes.
      seq.numDraftComputed = numComputed;
      seq.status = 'running';
      seq.request.firstScheduledTime ??= performance.now();
      this.running.push(seq);
      scheduled.push(this.entry(seq, numTokens));
      budget -= numTokens;
    }

    const finished = this.finishedSinceStep;
    this.finishedSinceStep = [];
    return { scheduled, finished };
  }

  /**
   * Applies what the model computed for a step (vLLM's `update_from_output`): advances computed-token
   * counts, publishes newly filled blocks to the prefix cache, lets sibling samples start once sample 0
   * has computed the shared prompt blocks, records prompt logprobs, and appends each sampled token
   * through its sequence's output processor, finishing (and freeing) the sequences that stop.
   */
  updateFromOutput(out: SchedulerOutput, result: ModelRunnerOutput): TokenUpdate[] {
    this.advance(out);
    for (const chunk of result.promptLogprobs) {
      const req = chunk.seq.request;
      req.promptLogprobs!.push(...chunk.entries);
      req.promptLogprobsDone = chunk.first + chunk.entries.length - 1;
    }
    const updates: TokenUpdate[] = [];
    out.scheduled.forEach(({ seq, numSpec }, i) => {
      const sample = result.samples[i];
      if (!sample) return;
      const run = numSpec > 0 ? result.specRuns![i]! : [sample];
      if (numSpec > 0) this.backOff(seq, numSpec, run.length - 1);
      seq.specTokens = [];
      const prev = seq.numComputedTokens;
      // Token by token, so a stop (token, string, length) inside an accepted run drops the rest.
      for (const tok of run) {
        seq.outputTokenIds.push(tok.tokenId);
        const res = seq.output.append(tok.tokenId, tok.logprob);
        updates.push({ seq, tokenId: tok.tokenId, logprob: tok.logprob, ...res });
        if (res.finishReason) {
          this.finish(seq, res.finishReason);
          return;
        }
      }
      if (numSpec === 0) return;
      // Verified: the last known token and the accepted drafts. The rejected slots are rewritten later.
      seq.numComputedTokens = prev + run.length;
      // The draft model fed drafts 0..k-2 back in: its K/V holds the accepted ones among them.
      if (this.config.speculative?.method === 'draft_model') seq.numDraftComputed = prev + 1 + Math.min(run.length - 1, numSpec - 1);
      this.kv.cacheFullBlocks(seq, prev);
      // Keep the next step's lookahead (freeing it only to take it again would churn the pool).
      this.kv.trim(seq, seq.numTokens + numSpec);
    });
    return updates;
  }

  /**
   * Records a verification, and backs off after a fully rejected draft: the sequence skips drafting
   * for 1, 2, 4 ... (at most 16) decode steps while drafts keep failing, so text the proposer cannot
   * predict pays for few wasted verify rows; any accepted token resets it.
   */
  private backOff(seq: Sequence, numSpec: number, accepted: number): void {
    this.spec?.record(numSpec, accepted);
    if (accepted > 0) {
      seq.specMisses = 0;
      return;
    }
    seq.specSkip = Math.min(2 ** seq.specMisses, 16);
    seq.specMisses++;
  }

  /** Whether this step speculates: not when the verify rows would make it compute-bound. */
  private speculationOn(): boolean {
    const c = this.config.speculative;
    if (!c) return false;
    let decoding = 0;
    for (const s of this.running) if (s.numTokens - s.numComputedTokens === 1) decoding++;
    return decoding > 0 && decoding * (1 + c.numSpeculativeTokens) <= c.maxVerifyTokens;
  }

  /**
   * How many draft tokens a decoding sequence verifies this step: up to k, and no more than the
   * budget, the context and its remaining max_tokens leave (tokens past those could never be kept).
   * ngram drafts now; draft_model drafts are filled in by the draft model before the forward pass.
   */
  private speculate(seq: Sequence, budget: number): number {
    const c = this.config.speculative!;
    if (seq.numTokens - seq.numComputedTokens !== 1) return 0;
    if (seq.specSkip > 0) {
      seq.specSkip--;
      return 0;
    }
    const left = Math.min(seq.output.maxTokens - seq.outputTokenIds.length, this.maxSequenceTokens - seq.numTokens) - 1;
    const k = Math.min(c.numSpeculativeTokens, budget - 1, left);
    if (k <= 0) return 0;
    if (c.method === 'draft_model') {
      seq.specTokens = [];
      return k;
    }
    seq.specTokens = proposeNgram((i) => seq.tokenAt(i), seq.numTokens, c.promptLookupMin, c.promptLookupMax, k);
    return seq.specTokens.length;
  }

  private advance(out: SchedulerOutput): void {
    for (const { seq, numTokens, numSpec } of out.scheduled) {
      // A verification advances by what was accepted (updateFromOutput).
      if (seq.isFinished || numSpec > 0) continue;
      const prev = seq.numComputedTokens;
      seq.numComputedTokens += numTokens;
      this.kv.cacheFullBlocks(seq, prev);
      const req = seq.request;
      if (seq.index === 0 && req.pendingForks.length > 0 && seq.numComputedTokens >= this.sharedPromptBlocks(req) * this.blockSize) {
        this.releaseForks(req);
      }
    }
  }

  /** Full prompt blocks before the last prompt token: what samples of one request can share. */
  sharedPromptBlocks(req: Request): number {
    return Math.floor((req.promptTokenIds.length - 1) / this.blockSize);
  }

  private computedBlocks(seq: Sequence): { blocks: number[]; fromCache: boolean } {
    if (seq.blockTable.length > 0) throw new Error(`sequence ${seq.id} is waiting but holds blocks`);
    if (seq.index > 0 && seq.outputTokenIds.length === 0) {
      const leader = seq.request.seqs[0]!;
      const shared = this.sharedPromptBlocks(seq.request);
      if (shared > 0 && leader.blockTable.length >= shared && leader.numComputedTokens >= shared * this.blockSize) {
        return { blocks: leader.blockTable.slice(0, shared), fromCache: false };
      }
    }
    return { blocks: this.kv.getComputedBlocks(seq), fromCache: true };
  }

  /** Sibling samples go to the front: their request is already running and holds the shared blocks. */
  private releaseForks(req: Request): void {
    this.waiting.unshift(...req.pendingForks);
    req.pendingForks = [];
  }

  private preempt(seq: Sequence): void {
    this.kv.free(seq);
    seq.numComputedTokens = 0;
    seq.numDraftComputed = 0;
    seq.specTokens = [];
    seq.status = 'preempted';
    this.waiting.unshift(seq);
    this.numPreemptions++;
  }

  private entry(seq: Sequence, numTokens: number, numSpec = 0): ScheduledSequence {
    return { seq, start: seq.numComputedTokens, numTokens, sample: seq.numComputedTokens + numTokens - numSpec === seq.numTokens, numSpec };
  }
}

function removeFrom<T>(arr: T[], x: T): void {
  const i = arr.indexOf(x);
  if (i >= 0) arr.splice(i, 1);
}
