/**
 * The engine core: one `step()` schedules, runs the model over the flattened batch, hands the result
 * to the scheduler (which appends tokens, checks stops and finishes sequences) and turns what changed
 * into per-request deltas. It is synchronous and single-threaded; the in-process transport drives it
 * on an event loop, the caller's or a worker thread's. Request state lives in the scheduler's map.
 */
import type { CausalLM } from '../model/model.js';
import type { GPT2Tokenizer } from '../tokenizer/index.js';
import type { EngineConfig } from './config.js';
import { ModelRunner } from './model-runner.js';
import type { CompletionOutput, EngineStats, FinishReason, RequestOutput, TokenLogprob } from './outputs.js';
import { Request, type Sequence } from './request.js';
import type { SamplingParams } from './sampling-params.js';
import { Scheduler, type SchedulerOutput } from './scheduler.js';
import { DraftModelProposer, checkDraftModel } from './spec/draft-model.js';
import { StepLog, takeSnapshot, type EngineSnapshot } from './snapshot.js';

/** What a sample produced in this step. */
interface Pending {
  text: string;
  tokenIds: number[];
  logprobs: TokenLogprob[] | null;
  finishReason: FinishReason | null;
  stopReason: string | number | null;
}

/** A step's pending pieces per request (in the order first touched) and per sample. */
class StepDeltas {
  readonly byRequest = new Map<Request, Pending[]>();

  of(seq: Sequence): Pending {
    let row = this.byRequest.get(seq.request);
    if (!row) this.byRequest.set(seq.request, (row = []));
    return (row[seq.index] ??= { text: '', tokenIds: [], logprobs: null, finishReason: null, stopReason: null });
  }
}

export class EngineCore {
  readonly scheduler: Scheduler;
  readonly runner: ModelRunner;
  /** The draft model's proposer, for speculative decoding with method draft_model. */
  readonly drafter: DraftModelProposer | null = null;
  private promptTokens = 0;
  private generationTokens = 0;
  private readonly stepLog = new StepLog();

  constructor(
    readonly model: CausalLM,
    readonly tokenizer: GPT2Tokenizer,
    readonly config: EngineConfig,
    /** The draft model (speculative config method draft_model); it may share the target's backend. */
    draft: CausalLM | null = null,
  ) {
    if (config.speculative?.method === 'draft_model') {
      if (!draft) throw new Error('speculative config method draft_model: no draft model was loaded');
      checkDraftModel(model.config, draft.config, config.maxModelLen);
      this.drafter = new DraftModelProposer(draft, config);
    }
    this.scheduler = new Scheduler(config, tokenizer);
    const decodeToken = (id: number): string => tokenizer.decode([id]);
    this.runner = new ModelRunner(model, { ...config, eosTokenId: tokenizer.eosTokenId }, decodeToken);
  }

  /** Queues a request. `params` must be validated already (see `SamplingParams.create`). */
  addRequest(id: string, promptTokenIds: readonly number[], params: SamplingParams, prompt: string | null = null): void {
    this.scheduler.addRequest(new Request(id, promptTokenIds, params, prompt));
    this.promptTokens += promptTokenIds.length;
  }

  /** Aborts a request, freeing its blocks now; returns its final output, or null if unknown. */
  abort(id: string): RequestOutput | null {
    const req = this.scheduler.requests.get(id);
    if (!req) return null;
    const deltas = new StepDeltas();
    for (const seq of req.seqs) if (!seq.isFinished) deltas.of(seq).finishReason = 'abort';
    this.scheduler.abort(id);
    return this.collect(req, deltas.byRequest.get(req) ?? []);
  }

  /** Aborts every request (shutdown, or after a failed step); returns their final outputs. */
  abortAll(): RequestOutput[] {
    return [...this.scheduler.requests.keys()].map((id) => this.abort(id)!);
  }

  hasUnfinished(): boolean {
    return this.scheduler.hasUnfinished();
  }

  /** Runs one engine step and returns the deltas of requests that made progress or finished. */
  step(): RequestOutput[] {
    const t0 = performance.now();
    const preemptionsBefore = this.scheduler.numPreemptions;
    const out = this.scheduler.schedule();
    const ttftMs: number[] = [];
    const deltas = new StepDeltas();
    for (const seq of out.finished) deltas.of(seq).finishReason = seq.finishReason;

    if (out.scheduled.length > 0) {
      this.drafter?.propose(out);
      const result = this.runner.execute(out);
      const now = performance.now();
      for (const u of this.scheduler.updateFromOutput(out, result)) {
        const req = u.seq.request;
        if (req.firstTokenTime === null) ttftMs.push(now - req.arrivalTime);
        req.firstTokenTime ??= now;
        req.lastTokenTime = now;
        this.generationTokens++;
        const p = deltas.of(u.seq);
        p.text += u.text;
        p.tokenIds.push(u.tokenId);
        if (u.logprob) (p.logprobs ??= []).push(u.logprob);
        if (u.finishReason) {
          p.finishReason = u.finishReason;
          p.stopReason = u.stopReason;
        }
      }
    }
    this.logStep(out, t0, this.scheduler.numPreemptions - preemptionsBefore, ttftMs);
    return [...deltas.byRequest].map(([req, pending]) => this.collect(req, pending));
  }

  /** One record per step for the engine view: a decode is a 1-token chunk past the prompt. */
  private logStep(out: SchedulerOutput, t0: number, preempted: number, ttftMs: number[]): void {
    if (out.scheduled.length === 0 && preempted === 0) return;
    let prefill = 0;
    let decode = 0;
    for (const e of out.scheduled) {
      if (e.numSpec > 0 || (e.numTokens === 1 && e.start >= e.seq.numPromptTokens)) decode++;
      else prefill += e.numTokens;
    }
    const t = performance.now();
    this.stepLog.push({ t, prefillTokens: prefill, decodeTokens: decode, ms: t - t0, preempted, ttftMs });
  }

  /** The engine view's picture of blocks, sequences and the steps numbered `since` and later. */
  snapshot(since = 0): EngineSnapshot {
    const s = this.scheduler;
    return takeSnapshot(s.kv.pool, s.kv.blockSize, s.running, s.waiting, this.stepLog, since, this.stats());
  }

  stats(): EngineStats {
    const s = this.scheduler;
    return {
      numRunning: s.running.length,
      numWaiting: s.waiting.length + [...s.requests.values()].reduce((a, r) => a + r.pendingForks.length, 0),
      kvCacheUsage: s.kv.usage,
      numBlocks: s.kv.pool.numUsableBlocks,
      blockSize: s.kv.blockSize,
      numFreeBlocks: s.kv.numFreeBlocks,
      prefixCacheQueries: s.prefixCacheQueries,
      prefixCacheHits: s.prefixCacheHits,
      numPreemptions: s.numPreemptions,
      promptTokens: this.promptTokens,
      generationTokens: this.generationTokens,
      ...(s.spec ? { specDecode: s.spec.snapshot() } : {}),
    };
  }

  /** Builds a request's delta from this step's pending pieces (indexed by sample). */
  private collect(req: Request, pending: readonly Pending[]): RequestOutput {
    const outputs: CompletionOutput[] = [];
    pending.forEach((p, i) => {
      const so = req.seqs[i]!.output;
      outputs.push({
        index: i,
        text: p.text,
        tokenIds: p.tokenIds,
        logprobs: so.logprobs === null ? null : (p.logprobs ?? []),
        cumulativeLogprob: so.cumulativeLogprob,
        finishReason: p.finishReason,
        stopReason: p.stopReason,
      });
    });
    // Prompt logprobs go out once, complete, with the first delta after the prompt was computed.
    let promptLogprobs: (TokenLogprob | null)[] | null = null;
    if (req.promptLogprobs && !req.promptLogprobsSent && req.promptLogprobs.length === req.promptTokenIds.length) {
      promptLogprobs = req.promptLogprobs;
      req.promptLogprobsSent = true;
    }
    return {
      requestId: req.id,
      prompt: req.prompt,
      promptTokenIds: req.promptTokenIds,
      promptLogprobs,
      outputs,
      finished: req.isFinished,
      metrics: {
        arrivalTime: req.arrivalTime,
        firstScheduledTime: req.firstScheduledTime,
        firstTokenTime: req.firstTokenTime,
        lastTokenTime: req.lastTokenTime,
        finishedTime: req.finishedTime,
        numCachedTokens: req.numCachedTokens,
      },
    };
  }
}
