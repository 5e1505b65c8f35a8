/**
 * The engine core: one `step()` schedules, runs the model over the flattened batch, samples, updates
 * every sequence (detokenise, stop checks, free finished ones) and returns the deltas of the requests
 * that changed. It is synchronous and single-threaded; the `LLM` drives it on the event loop and
 * `AsyncLLM` in a worker thread.
 */
import type { GPT2Model } from '../model/gpt2.js';
import type { GPT2Tokenizer } from '../tokenizer/index.js';
import type { EngineConfig } from './config.js';
import { ModelRunner } from './model-runner.js';
import type { CompletionOutput, EngineStats, FinishReason, RequestOutput, TokenLogprob } from './outputs.js';
import { Request, type Sequence } from './request.js';
import type { SamplingParams } from './sampling-params.js';
import { Scheduler } from './scheduler.js';
import { SequenceOutput } from './sequence-output.js';

/** What a sample produced since its last delta. */
interface Pending {
  text: string;
  tokenIds: number[];
  logprobs: TokenLogprob[] | null;
  finishReason: FinishReason | null;
  stopReason: string | number | null;
}

interface RequestState {
  readonly req: Request;
  readonly prompt: string | null;
  readonly outputs: SequenceOutput[];
  readonly pending: (Pending | null)[];
  /** Entry 0 is null (the first prompt token has no context); grows as prompt chunks are computed. */
  readonly promptLogprobs: (TokenLogprob | null)[] | null;
  promptLogprobsSent: boolean;
}

export class EngineCore {
  readonly scheduler: Scheduler;
  readonly runner: ModelRunner;
  private readonly states = new Map<string, RequestState>();
  private promptTokens = 0;
  private generationTokens = 0;

  constructor(
    readonly model: GPT2Model,
    readonly tokenizer: GPT2Tokenizer,
    readonly config: EngineConfig,
  ) {
    this.scheduler = new Scheduler(config);
    const decodeToken = (id: number): string => tokenizer.decode([id]);
    this.runner = new ModelRunner(model, { ...config, eosTokenId: tokenizer.eosTokenId }, decodeToken);
  }

  /** Queues a request. `params` must be validated already (see `SamplingParams.create`). */
  addRequest(id: string, promptTokenIds: readonly number[], params: SamplingParams, prompt: string | null = null): void {
    if (this.states.has(id)) throw new Error(`request id '${id}' is already in use`);
    const req = new Request(id, promptTokenIds, params);
    // SequenceOutput enforces every length limit with a proper flush of held-back text.
    const room = this.scheduler.maxSequenceTokens - promptTokenIds.length;
    const maxTokens = Math.max(1, Math.min(params.maxTokens ?? Infinity, room));
    const outputs = req.seqs.map(() => new SequenceOutput(params, this.tokenizer, { maxTokens, eosTokenId: this.tokenizer.eosTokenId }));
    this.states.set(id, {
      req,
      prompt,
      outputs,
      pending: outputs.map(() => null),
      promptLogprobs: params.promptLogprobs === null ? null : [null],
      promptLogprobsSent: false,
    });
    this.promptTokens += promptTokenIds.length;
    this.scheduler.addRequest(req);
  }

  /** Aborts a request, freeing its blocks now; returns its final output, or null if unknown. */
  abort(id: string): RequestOutput | null {
    const st = this.states.get(id);
    if (!st) return null;
    this.scheduler.abort(id);
    st.req.seqs.forEach((_seq, i) => {
      if (st.outputs[i]!.finished) return;
      st.outputs[i]!.abort();
      this.pendingOf(st, i).finishReason = 'abort';
    });
    const out = this.collect(st);
    this.states.delete(id);
    return out;
  }

  /** Aborts every request (shutdown, or after a failed step); returns their final outputs. */
  abortAll(): RequestOutput[] {
    return [...this.states.keys()].map((id) => this.abort(id)!);
  }

  hasUnfinished(): boolean {
    return this.states.size > 0;
  }

  get numRequests(): number {
    return this.states.size;
  }

  /** Runs one engine step and returns the deltas of requests that made progress or finished. */
  step(): RequestOutput[] {
    const out = this.scheduler.schedule();
    const touched = new Set<RequestState>();
    for (const seq of out.finished) this.finishSeq(seq, touched);

    if (out.scheduled.length > 0) {
      const result = this.runner.execute(out);
      this.scheduler.update(out);
      for (const chunk of result.promptLogprobs) {
        const st = this.states.get(chunk.seq.request.id)!;
        st.promptLogprobs!.push(...chunk.entries);
        chunk.seq.request.promptLogprobsDone = chunk.first + chunk.entries.length - 1;
      }
      const now = performance.now();
      out.scheduled.forEach((e, i) => {
        const sample = result.samples[i];
        if (sample) this.appendToken(e.seq, sample.tokenId, sample.logprob, now, touched);
      });
    }

    const deltas: RequestOutput[] = [];
    for (const st of touched) {
      deltas.push(this.collect(st));
      if (st.req.isFinished) this.states.delete(st.req.id);
    }
    return deltas;
  }

  stats(): EngineStats {
    const s = this.scheduler;
    return {
      numRunning: s.running.length,
      numWaiting: s.waiting.length + [...s.requests.values()].reduce((a, r) => a + r.pendingForks.length, 0),
      kvCacheUsage: s.kv.usage,
      numBlocks: s.kv.pool.numUsableBlocks,
      numFreeBlocks: s.kv.numFreeBlocks,
      prefixCacheQueries: s.prefixCacheQueries,
      prefixCacheHits: s.prefixCacheHits,
      numPreemptions: s.numPreemptions,
      promptTokens: this.promptTokens,
      generationTokens: this.generationTokens,
    };
  }

  private appendToken(seq: Sequence, tokenId: number, logprob: TokenLogprob | null, now: number, touched: Set<RequestState>): void {
    const st = this.states.get(seq.request.id)!;
    const req = st.req;
    req.firstTokenTime ??= now;
    req.lastTokenTime = now;
    this.generationTokens++;
    const res = st.outputs[seq.index]!.append(tokenId, logprob);
    const p = this.pendingOf(st, seq.index);
    p.text += res.text;
    p.tokenIds.push(tokenId);
    if (logprob) (p.logprobs ??= []).push(logprob);
    const limit = this.scheduler.appendToken(seq, tokenId);
    const reason = res.finishReason ?? limit;
    if (reason) {
      p.finishReason = reason;
      p.stopReason = res.stopReason;
      this.scheduler.finish(seq, reason);
    }
    touched.add(st);
  }

  /** A sequence the scheduler finished on its own (it can never fit). */
  private finishSeq(seq: Sequence, touched: Set<RequestState>): void {
    const st = this.states.get(seq.request.id);
    if (!st) return;
    this.pendingOf(st, seq.index).finishReason = seq.finishReason;
    touched.add(st);
  }

  private pendingOf(st: RequestState, i: number): Pending {
    return (st.pending[i] ??= { text: '', tokenIds: [], logprobs: null, finishReason: null, stopReason: null });
  }

  /** Builds a request's delta from its pending pieces and clears them. */
  private collect(st: RequestState): RequestOutput {
    const { req } = st;
    const outputs: CompletionOutput[] = [];
    st.pending.forEach((p, i) => {
      if (!p) return;
      const so = st.outputs[i]!;
      outputs.push({
        index: i,
        text: p.text,
        tokenIds: p.tokenIds,
        logprobs: so.logprobs === null ? null : (p.logprobs ?? []),
        cumulativeLogprob: so.cumulativeLogprob,
        finishReason: p.finishReason,
        stopReason: p.stopReason,
      });
      st.pending[i] = null;
    });
    // Prompt logprobs go out once, complete, with the first delta after the prompt was computed.
    let promptLogprobs: (TokenLogprob | null)[] | null = null;
    if (st.promptLogprobs && !st.promptLogprobsSent && st.promptLogprobs.length === req.promptTokenIds.length) {
      promptLogprobs = st.promptLogprobs;
      st.promptLogprobsSent = true;
    }
    return {
      requestId: req.id,
      prompt: st.prompt,
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
