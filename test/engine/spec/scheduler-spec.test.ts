/**
 * The scheduler's side of verification, step by step with a stand-in model: 1 + k rows and their
 * slots up front, computed tokens advancing over the accepted drafts only, only blocks of committed
 * tokens entering the prefix cache, and nothing proposed past max_tokens.
 */
import { describe, expect, it } from 'vitest';
import { hashBlock } from '../../../src/engine/block-pool.js';
import type { ModelRunnerOutput } from '../../../src/engine/model-runner.js';
import type { Scheduler, SchedulerOutput } from '../../../src/engine/scheduler.js';
import { parseSpeculativeConfig } from '../../../src/engine/spec/config.js';
import { makeRequest, makeScheduler } from '../../helpers/engine.js';

const speculative = parseSpeculativeConfig({ method: 'ngram', num_speculative_tokens: 4, prompt_lookup_min: 1, prompt_lookup_max: 2 });

/** One step whose "model" emits `run` (accepted drafts, then its own token) for the one sequence. */
function step(s: Scheduler, run: number[]): SchedulerOutput {
  const out = s.schedule();
  const toks = run.map((tokenId) => ({ tokenId, logprob: null }));
  const e = out.scheduled[0]!;
  const result: ModelRunnerOutput = e.numSpec > 0
    ? { samples: [toks[0]!], specRuns: [toks], promptLogprobs: [] }
    : { samples: [e.sample ? toks[0]! : null], promptLogprobs: [] };
  s.updateFromOutput(out, result);
  return out;
}

function hashes(tokens: number[], blockSize: number): string[] {
  const out: string[] = [];
  for (let i = 0; (i + 1) * blockSize <= tokens.length; i++) out.push(hashBlock(out[i - 1] ?? null, tokens.slice(i * blockSize, (i + 1) * blockSize)));
  return out;
}

describe('scheduling a verification', () => {
  it('schedules 1 + k rows, advances over accepted tokens only and caches only committed blocks', () => {
    const s = makeScheduler({ speculative }); // 4-token blocks
    s.addRequest(makeRequest('a', [1, 2, 3, 1, 2, 3, 1]));
    const seq = s.waiting[0]!;
    step(s, [2]); // prefill; the model says 2
    expect(seq.numComputedTokens).toBe(7);

    // Suffix [1, 2] occurred at 3..4, followed by 3, 1, 2, then the overlap copy: 3.
    const out = step(s, [3, 1, 3]); // drafts 3 and 1 accepted, then the model's 3 (not the draft's 2)
    expect(out.scheduled[0]).toMatchObject({ start: 7, numTokens: 5, numSpec: 4, sample: true });
    expect(seq.outputTokenIds).toEqual([2, 3, 1, 3]);
    expect(seq.specTokens).toEqual([]);
    // Last token (position 7) and the two accepted drafts have K/V; the model's 3 does not yet.
    expect(seq.numComputedTokens).toBe(10);
    const tokens = [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 3];
    expect(seq.blockHashes).toEqual(hashes(tokens.slice(0, 8), 4));
    expect(s.kv.pool.lookup(seq.blockHashes[1]!)?.id).toBe(seq.blockTable[1]);
    expect(s.spec!.snapshot()).toEqual({ numDrafts: 1, numDraftTokens: 4, numAcceptedTokens: 2, acceptedPerPos: [1, 1, 0, 0] });

    // A rejected draft that would have filled block 2 leaves it uncached.
    const out2 = step(s, [5]);
    expect(out2.scheduled[0]!.numSpec).toBeGreaterThan(0);
    expect(seq.numComputedTokens).toBe(11);
    expect(seq.blockHashes).toHaveLength(2);
    // Blocks held cover the known tokens and the next step's lookahead, no more.
    expect(seq.blockTable.length).toBeLessThanOrEqual(Math.ceil((seq.numTokens + 4) / 4));
  });

  it('never drafts past max_tokens or the context', () => {
    const s = makeScheduler({ speculative, maxModelLen: 12 });
    s.addRequest(makeRequest('a', [1, 2, 1, 2, 1, 2, 1], { maxTokens: 3, ignoreEos: true }));
    step(s, [2]);
    const out = step(s, [1, 2]); // 2 tokens left: 1 draft at most
    expect(out.scheduled[0]!.numSpec).toBe(1);
    expect(s.requests.size).toBe(0);

    const t = makeScheduler({ speculative, maxModelLen: 10 });
    t.addRequest(makeRequest('b', [1, 2, 1, 2, 1, 2, 1], { ignoreEos: true }));
    step(t, [2]); // 8 tokens of a 10-token context: one more token and one draft at most
    expect(step(t, [1, 2]).scheduled[0]!.numSpec).toBe(1);
  });
});
