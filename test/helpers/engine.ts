/**
 * Helpers for engine tests: requests and schedulers without a model, and a fake step that stands in
 * for the model runner so scheduling can be checked step by step.
 */
import { join } from 'node:path';
import type { EngineOptions } from '../../src/engine/engine-client.js';
import { LLM } from '../../src/engine/llm.js';
import type { RequestOutput } from '../../src/engine/outputs.js';
import { Request } from '../../src/engine/request.js';
import { SamplingParams, type SamplingParamsInit } from '../../src/engine/sampling-params.js';
import { Scheduler, type SchedulerConfig, type SchedulerOutput } from '../../src/engine/scheduler.js';
import type { CausalLM } from '../../src/model/model.js';
import { loadModel, type LoadedModel } from '../../src/model/load.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { FIXTURES_DIR, fixtureModelDir, type FixtureName } from './fixtures.js';

let gpt2: GPT2Tokenizer | null = null;

/** GPT-2's real vocabulary (the repository's copy), for the output processors of scheduler tests. */
export function gpt2Tokenizer(): GPT2Tokenizer {
  return (gpt2 ??= GPT2Tokenizer.fromDir(join(FIXTURES_DIR, 'gpt2-tokenizer')));
}

export function makeScheduler(overrides: Partial<SchedulerConfig> = {}): Scheduler {
  return new Scheduler({
    numBlocks: 64,
    blockSize: 4,
    maxNumSeqs: 8,
    maxNumBatchedTokens: 64,
    maxModelLen: 1024,
    enablePrefixCaching: true,
    kvCacheDtype: 'f32',
    ...overrides,
  }, gpt2Tokenizer());
}

/** A request whose prompt is `tokens`, or `tokens` consecutive ids starting at `first`. */
export function makeRequest(id: string, tokens: number | readonly number[], params: SamplingParamsInit = {}, first = 100): Request {
  const prompt = typeof tokens === 'number' ? Array.from({ length: tokens }, (_, i) => first + i) : tokens;
  return new Request(id, prompt, SamplingParams.create({ maxTokens: null, ...params }));
}

/**
 * Runs one scheduler step as the engine core would, with the "model" producing `tokenFor(seq)` for
 * every sequence that samples; the scheduler appends them and finishes what stops. Returns the output.
 */
export function fakeStep(s: Scheduler, tokenFor: (seqId: string) => number = () => 7): SchedulerOutput {
  const out = s.schedule();
  const samples = out.scheduled.map((e) => (e.sample ? { tokenId: tokenFor(e.seq.id), logprob: null } : null));
  s.updateFromOutput(out, { samples, promptLogprobs: [] });
  return out;
}

/** `[seqId, numTokens]` pairs of a step, for compact assertions. */
export function plan(out: SchedulerOutput): [string, number][] {
  return out.scheduled.map((e) => [e.seq.id, e.numTokens]);
}

// ---- Engines over the tiny fixture models ----

const loaded = new Map<string, Promise<LoadedModel>>();

/** The fixture model on the reference backend, loaded once per test file. */
export function tinyModel(name: FixtureName = 'tiny-gpt2-a'): Promise<LoadedModel> {
  let p = loaded.get(name);
  if (!p) {
    p = loadModel(fixtureModelDir(name, 'f32'), { backend: 'reference' });
    loaded.set(name, p);
  }
  return p;
}

/** An in-process engine over a tiny fixture model. */
export async function tinyLLM(opts: Omit<EngineOptions, 'model'> = {}, name: FixtureName = 'tiny-gpt2-a'): Promise<LLM> {
  const { model, tokenizer } = await tinyModel(name);
  return LLM.fromModel(model, tokenizer, opts);
}

/** Index of the largest logit, lowest index on ties (written here, independently of the engine). */
export function argmaxOf(logits: Float32Array, vocab: number): number {
  let best = 0;
  for (let i = 1; i < vocab; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * The single-request reference path: the prompt in one forward pass, then one token at a time on a
 * private contiguous cache, greedy, no stopping (as with ignore_eos).
 */
export function referenceGreedy(model: CausalLM, prompt: readonly number[], maxTokens: number): number[] {
  const seq = new SingleSequence(model);
  const vocab = model.config.vocabSize;
  const out: number[] = [];
  let logits = seq.prefill(prompt);
  for (;;) {
    const next = argmaxOf(logits, vocab);
    out.push(next);
    if (out.length === maxTokens) return out;
    logits = seq.step(next);
  }
}

/** Deterministic pseudo-random prompts of the given lengths (a fixed LCG, ids in the ordinary vocabulary). */
export function randomPrompts(lengths: readonly number[], seed = 1234): number[][] {
  let x = seed >>> 0;
  const next = (): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
  return lengths.map((n) => Array.from({ length: n }, () => next() % 50000));
}

/** Token ids of each request's sample `index`, in input order. */
export function tokensOf(outs: readonly RequestOutput[], index = 0): number[][] {
  return outs.map((o) => [...o.outputs.find((c) => c.index === index)!.tokenIds]);
}
