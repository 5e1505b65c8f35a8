/**
 * Stops inside an accepted run: max_tokens, a stop token and a stop string landing in the middle of
 * the tokens one verification accepted must cut the run there (the rest is never emitted), giving
 * exactly the plain engine's output, finish reason, stop reason and logprobs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LLM } from '../../../src/engine/llm.js';
import type { RequestOutput } from '../../../src/engine/outputs.js';
import type { SamplingParamsInit } from '../../../src/engine/sampling-params.js';
import { randomPrompts, tinyLLM, tinyModel } from '../../helpers/engine.js';

// The model drafting for itself: every draft is accepted, so each step emits a run of k + 1 tokens.
const SELF = { method: 'draft_model', model: '(self)', num_speculative_tokens: 4 } as const;
const PROMPT = randomPrompts([12], 31)[0]!;

async function specLLM(): Promise<LLM> {
  const { model, tokenizer } = await tinyModel();
  return LLM.fromModel(model, tokenizer, { speculativeConfig: SELF }, model);
}

/** Tokens the engine produced per step for the request (before any stop cut them). */
function recordRuns(llm: LLM): number[][] {
  const runs: number[][] = [];
  const runner = llm.core.runner;
  const execute = runner.execute.bind(runner);
  runner.execute = (out) => {
    const res = execute(out);
    res.samples.forEach((s, i) => {
      if (s) runs.push((res.specRuns?.[i] ?? [s]).map((t) => t.tokenId));
    });
    return res;
  };
  return runs;
}

async function one(llm: LLM, params: SamplingParamsInit): Promise<RequestOutput> {
  return (await llm.generate([{ promptTokenIds: PROMPT }], params))[0]!;
}

let full: number[][];
let plainTokens: number[];
let at: number; // output index of the second token of the first run of >= 3 tokens
let cut: number; // an output index inside a run (not its last token) whose token occurs there first
let cutText: string; // text of tokens cut - 1 and cut, first found where they stand

beforeAll(async () => {
  const llm = await specLLM();
  full = recordRuns(llm);
  plainTokens = [...(await one(llm, { temperature: 0, ignoreEos: true, maxTokens: 40 })).outputs[0]!.tokenIds];
  let pos = 0;
  at = -1;
  cut = -1;
  cutText = '';
  const decode = (ids: number[]): string => llm.tokenizer.decode(ids);
  const text = decode(plainTokens);
  for (const r of full) {
    if (r.length >= 3 && at < 0) at = pos + 1;
    for (let j = Math.max(pos, 1); j < pos + r.length - 1 && j < plainTokens.length; j++) {
      const piece = decode(plainTokens.slice(j - 1, j + 1));
      const first = plainTokens.indexOf(plainTokens[j]!) === j;
      if (cut < 0 && first && text.indexOf(piece) === decode(plainTokens.slice(0, j - 1)).length) {
        cut = j;
        cutText = piece;
      }
    }
    pos += r.length;
  }
});

async function compare(params: SamplingParamsInit, expectCut = true): Promise<void> {
  const plain = await one(await tinyLLM(), params);
  const llm = await specLLM();
  const runs = recordRuns(llm);
  const spec = await one(llm, params);
  const o = spec.outputs[0]!;
  const p = plain.outputs[0]!;
  expect({ ids: o.tokenIds, text: o.text, finish: o.finishReason, stop: o.stopReason, logprobs: o.logprobs }).toEqual({
    ids: p.tokenIds, text: p.text, finish: p.finishReason, stop: p.stopReason, logprobs: p.logprobs,
  });
  // The stop cut a run: the engine computed more tokens than it emitted.
  if (expectCut) expect(runs.flat().length).toBeGreaterThan(o.tokenIds.length);
  else expect(runs.flat().length).toBe(o.tokenIds.length);
}

describe('a stop inside an accepted run', () => {
  it('finds runs of accepted tokens to cut', () => {
    expect(at).toBeGreaterThan(0);
    expect(cut).toBeGreaterThan(0);
  });

  it('max_tokens (drafts are never proposed past it, so the last run ends exactly there)', async () => {
    await compare({ temperature: 0, ignoreEos: true, maxTokens: at + 1, logprobs: 1 }, false);
  });

  it('a stop token id', async () => {
    await compare({ temperature: 0, ignoreEos: true, maxTokens: 40, stopTokenIds: [plainTokens[cut]!], logprobs: 1 });
  });

  it('a stop string, kept or not', async () => {
    await compare({ temperature: 0, ignoreEos: true, maxTokens: 40, stop: [cutText] });
    await compare({ temperature: 0, ignoreEos: true, maxTokens: 40, stop: [cutText], includeStopStrInOutput: true });
  });

  it('min_tokens holding a stop token back across runs', async () => {
    await compare({ temperature: 0, maxTokens: 40, minTokens: cut + 2, stopTokenIds: [plainTokens[cut]!], logprobs: 1 }, false);
  });
});
