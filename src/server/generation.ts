/**
 * Running one HTTP request's prompts through the engine: admission, one engine request per prompt,
 * their deltas merged into one stream, latency metrics, and abort when the client goes away.
 * The first delta of every prompt is awaited before anything is returned, so invalid parameters
 * (the engine's `ParamError`) still become a 400 before a stream has started.
 */
import type { EngineClient, PromptInput } from '../engine/engine-client.js';
import { withGenerationDefaults } from '../engine/generation-config.js';
import type { FinishReason, RequestOutput } from '../engine/outputs.js';
import type { SamplingParamsInit } from '../engine/sampling-params.js';
import type { Admission } from './admission.js';
import { Inbox, type Step } from './inbox.js';
import { ApiError, clientClosed } from './errors.js';
import type { ServerLimits } from './limits.js';
import type { RequestTimer, ServerMetrics } from './metrics.js';

export interface GenerationContext {
  readonly engine: EngineClient;
  readonly metrics: ServerMetrics;
  readonly admission: Admission;
  readonly limits: ServerLimits;
}

/** A delta of the engine request for prompt number `promptIndex`. */
export interface TaggedOutput {
  readonly promptIndex: number;
  readonly output: RequestOutput;
}

/** Prompts submitted, or deltas merged, between turns of the event loop. */
const YIELD_EVERY = 64;
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One engine request and what we know of it. */
class Tracked {
  readonly reasons = new Map<number, FinishReason>();
  done = false;
  constructor(
    readonly id: string,
    readonly iterator: AsyncIterator<RequestOutput>,
    readonly timer: RequestTimer,
    readonly n: number,
  ) {}

  observe(out: RequestOutput): void {
    if (out.outputs.some((o) => o.tokenIds.length > 0)) this.timer.onTokens();
    for (const o of out.outputs) if (o.finishReason !== null) this.reasons.set(o.index, o.finishReason);
    if (out.finished) this.finish();
  }

  /** Marks it finished; choices without a reason were cut short. `record: false` for rejected requests. */
  finish(record = true): void {
    if (this.done) return;
    this.done = true;
    if (!record) return;
    const reasons: FinishReason[] = [];
    for (let k = 0; k < this.n; k++) reasons.push(this.reasons.get(k) ?? 'abort');
    this.timer.onFinish(reasons);
  }
}

/**
 * Submits the prompts and resolves once each has produced its first delta (or failed: then every
 * request is aborted and the error is thrown). The returned generator yields all deltas; ending it
 * early, or `signal` firing, aborts whatever is unfinished in the engine.
 */
export async function startGeneration(
  ctx: GenerationContext,
  prompts: readonly (readonly number[])[],
  params: SamplingParamsInit,
  baseId: string,
  signal: AbortSignal,
): Promise<AsyncGenerator<TaggedOutput>> {
  // generation_config.json's sampling values fill what the request left unset, as in vLLM.
  params = withGenerationDefaults(params, ctx.engine.generationConfig);
  const n = params.n ?? 1;
  // Latencies count from arrival, so time spent in the server's queue shows in TTFT.
  const arrival = performance.now();
  if (signal.aborted) throw clientClosed();
  const release = await ctx.admission.acquire(n * prompts.length, signal);
  const tracked: Tracked[] = [];
  const inbox = new Inbox();
  const abortAll = (record: boolean): void => {
    for (const t of tracked) {
      if (t.done) continue;
      ctx.engine.abort(t.id);
      t.finish(record);
      // Let the engine's iterator clean up; its outcome no longer matters.
      void t.iterator.return?.().catch(() => {});
    }
  };
  const onAbort = (): void => {
    abortAll(true);
    inbox.close();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const cleanup = (record: boolean): void => {
    signal.removeEventListener('abort', onAbort);
    abortAll(record);
    inbox.close();
    release();
  };
  /** Asks prompt `i` for its next delta; the answer (or failure) lands in the inbox. */
  const pull = (i: number): void => {
    tracked[i]!.iterator.next().then(
      (res) => inbox.push({ i, res }),
      (err: unknown) => inbox.push({ i, err }),
    );
  };

  // First deltas, held back until every prompt has one (so a ParamError is still a 400).
  const firsts: Step[] = [];
  try {
    for (let i = 0; i < prompts.length; i++) {
      const id = prompts.length === 1 ? baseId : `${baseId}-${i}`;
      const input: PromptInput = { promptTokenIds: prompts[i]! };
      const iterator = ctx.engine.generate(input, params, id)[Symbol.asyncIterator]();
      tracked.push(new Tracked(id, iterator, ctx.metrics.startRequest(arrival), n));
      pull(i);
      if (i % YIELD_EVERY === YIELD_EVERY - 1) {
        await nextTurn();
        if (signal.aborted) throw clientClosed();
      }
    }
    while (firsts.length < prompts.length) {
      const step = await inbox.take();
      if (step === null) throw clientClosed();
      if ('err' in step) throw step.err;
      firsts.push(step);
    }
  } catch (err) {
    cleanup(false);
    throw err;
  }

  return (async function* merge(): AsyncGenerator<TaggedOutput> {
    let active = prompts.length;
    let k = 0;
    let yielded = 0;
    try {
      while (active > 0) {
        const step = k < firsts.length ? firsts[k++]! : await inbox.take();
        if (step === null) return;
        if ('err' in step) throw step.err;
        const t = tracked[step.i]!;
        if (step.res.done) {
          active--;
          t.finish();
          continue;
        }
        const output = step.res.value;
        t.observe(output);
        if (t.done) {
          // Let the engine's iterator run to its end (and its cleanup) without waiting on it.
          active--;
          void t.iterator.next().catch(() => {});
        } else pull(step.i);
        yield { promptIndex: step.i, output };
        // A backlog of deltas resolves in microtasks alone; let I/O (other clients, /health) in now and then.
        if (++yielded % YIELD_EVERY === 0) await nextTurn();
      }
    } finally {
      cleanup(true);
    }
  })();
}

/**
 * Rejects a request that cannot fit the context window, with both numbers in the message as vLLM
 * does. `maxTokens` null means "whatever room is left", which must be at least one token.
 */
export function checkContextLength(
  promptLen: number,
  maxTokens: number | null,
  maxModelLen: number,
  what: 'prompt' | 'messages',
): void {
  const requested = promptLen + (maxTokens ?? 1);
  if (requested <= maxModelLen) return;
  const completion = maxTokens === null ? '' : `, ${maxTokens} in the completion`;
  throw new ApiError(
    400,
    `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${maxTokens === null ? promptLen : requested} tokens (${promptLen} in the ${what}${completion}). Please reduce the length of the ${what} or completion.`,
    'invalid_request_error',
    maxTokens === null ? what : 'max_tokens',
    'context_length_exceeded',
  );
}

/** JSON has no -Infinity (a token masked out, e.g. by min_tokens): clamp as vLLM does. */
export function jsonLogprob(logprob: number): number {
  return Math.max(logprob, -9999);
}
