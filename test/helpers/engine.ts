/**
 * Helpers for engine tests: requests and schedulers without a model, and a fake step that stands in
 * for the model runner so scheduling can be checked step by step.
 */
import { Request } from '../../src/engine/request.js';
import { SamplingParams, type SamplingParamsInit } from '../../src/engine/sampling-params.js';
import { Scheduler, type SchedulerConfig, type SchedulerOutput } from '../../src/engine/scheduler.js';

export function makeScheduler(overrides: Partial<SchedulerConfig> = {}): Scheduler {
  return new Scheduler({
    numBlocks: 64,
    blockSize: 4,
    maxNumSeqs: 8,
    maxNumBatchedTokens: 64,
    maxModelLen: 1024,
    enablePrefixCaching: true,
    ...overrides,
  });
}

/** A request whose prompt is `tokens`, or `tokens` consecutive ids starting at `first`. */
export function makeRequest(id: string, tokens: number | readonly number[], params: SamplingParamsInit = {}, first = 100): Request {
  const prompt = typeof tokens === 'number' ? Array.from({ length: tokens }, (_, i) => first + i) : tokens;
  return new Request(id, prompt, SamplingParams.create({ maxTokens: null, ...params }));
}

/**
 * Runs one scheduler step as the engine core would, with the "model" producing `tokenFor(seq)` for
 * every sequence that samples; finishes sequences the scheduler says must stop. Returns the output.
 */
export function fakeStep(s: Scheduler, tokenFor: (seqId: string) => number = () => 7): SchedulerOutput {
  const out = s.schedule();
  s.update(out);
  for (const e of out.scheduled) {
    if (!e.sample || e.seq.isFinished) continue;
    const reason = s.appendToken(e.seq, tokenFor(e.seq.id));
    if (reason) s.finish(e.seq, reason);
  }
  return out;
}

/** `[seqId, numTokens]` pairs of a step, for compact assertions. */
export function plan(out: SchedulerOutput): [string, number][] {
  return out.scheduled.map((e) => [e.seq.id, e.numTokens]);
}
