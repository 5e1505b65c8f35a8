/** The engine view's snapshot: the run-length-encoded block map and the step log. */
import { describe, expect, test } from 'vitest';
import { BLOCK_STATES, encodeBlocks, StepLog, takeSnapshot, type StepRecord } from '../../src/engine/snapshot.js';
import { fakeStep, makeRequest, makeScheduler, tinyLLM } from '../helpers/engine.js';

/** Expands the runs into one entry per block. */
function expand(runs: number[]): { state: string; owner: number; ref: number }[] {
  const out: { state: string; owner: number; ref: number }[] = [];
  for (let i = 0; i < runs.length; i += 4) for (let k = 0; k < runs[i + 3]!; k++) out.push({ state: BLOCK_STATES[runs[i]!]!, owner: runs[i + 1]!, ref: runs[i + 2]! });
  return out;
}

describe('encodeBlocks', () => {
  test('states, owners and ref counts of a shared prefix, then all free or cached after', () => {
    const s = makeScheduler({ numBlocks: 32, blockSize: 4 });
    const prefix = Array.from({ length: 8 }, (_, i) => 500 + i);
    s.addRequest(makeRequest('a', [...prefix, 1, 2, 3], { maxTokens: 20 }));
    fakeStep(s);
    s.addRequest(makeRequest('b', [...prefix, 4, 5, 6], { maxTokens: 20 }));
    fakeStep(s);
    const blocks = expand(encodeBlocks(s.kv.pool, s.running));
    expect(blocks).toHaveLength(32);
    expect(blocks[0]).toEqual({ state: 'null', owner: -1, ref: 0 });
    const a = s.running[0]!;
    const b = s.running[1]!;
    // The two full prefix blocks are held by both sequences; the map names the first holder.
    for (const id of a.blockTable.slice(0, 2)) expect(blocks[id]).toEqual({ state: 'used', owner: 0, ref: 2 });
    expect(b.blockTable.slice(0, 2)).toEqual(a.blockTable.slice(0, 2));
    for (const id of b.blockTable.slice(2)) expect(blocks[id]).toEqual({ state: 'used', owner: 1, ref: 1 });
    const used = new Set([...a.blockTable, ...b.blockTable]);
    expect(blocks.filter((x) => x.state === 'used')).toHaveLength(used.size);
    expect(blocks.filter((x) => x.state === 'free' || x.state === 'cached')).toHaveLength(s.kv.numFreeBlocks);

    while (s.running.length > 0) fakeStep(s);
    const after = expand(encodeBlocks(s.kv.pool, s.running));
    expect(after.filter((x) => x.state === 'used')).toHaveLength(0);
    // Their full blocks stay in the prefix cache.
    expect(after.filter((x) => x.state === 'cached').length).toBeGreaterThanOrEqual(2);
  });

  test('long runs of free blocks collapse into one run', () => {
    const s = makeScheduler({ numBlocks: 1000, blockSize: 4 });
    expect(encodeBlocks(s.kv.pool, [])).toEqual([0, -1, 0, 1, 1, -1, 0, 999]);
  });
});

describe('StepLog', () => {
  const rec = (i: number): StepRecord => ({ t: i, prefillTokens: i, decodeTokens: 0, ms: 1, preempted: 0, ttftMs: [] });

  test('keeps the newest steps and hands each viewer only what it has not seen', () => {
    const log = new StepLog(8);
    for (let i = 0; i < 5; i++) log.push(rec(i));
    expect(log.since(0)).toEqual({ steps: [0, 1, 2, 3, 4].map(rec), next: 5 });
    expect(log.since(3).steps.map((r) => r.t)).toEqual([3, 4]);
    for (let i = 5; i < 20; i++) log.push(rec(i));
    // Older steps fell out of the ring: a slow viewer gets the newest 8.
    expect(log.since(2).steps.map((r) => r.t)).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    expect(log.since(20)).toEqual({ steps: [], next: 20 });
  });

  test('a snapshot carries sequences by state and the steps since the given one', () => {
    const s = makeScheduler({ numBlocks: 64, blockSize: 4, maxNumSeqs: 1 });
    s.addRequest(makeRequest('r1', 6, { maxTokens: 5 }));
    s.addRequest(makeRequest('r2', 6, { maxTokens: 5 }));
    fakeStep(s);
    const log = new StepLog();
    log.push(rec(1));
    const stats = { numRunning: 1, numWaiting: 1 } as never;
    const snap = takeSnapshot(s.kv.pool, 4, s.running, s.waiting, log, 0, stats);
    expect(snap.running.map((v) => [v.id, v.state, v.promptTokens, v.generatedTokens])).toEqual([['r1', 'decode', 6, 1]]);
    expect(snap.waiting.map((v) => [v.id, v.state])).toEqual([['r2', 'waiting']]);
    expect(snap.steps).toHaveLength(1);
    expect(takeSnapshot(s.kv.pool, 4, s.running, s.waiting, log, snap.nextStep, stats).steps).toEqual([]);
  });
});

describe('EngineCore step records', () => {
  test('prefill and decode tokens per step, and one time-to-first-token per request', async () => {
    const llm = await tinyLLM({ maxNumBatchedTokens: 64 });
    const before = (await llm.snapshot(0)).nextStep;
    await llm.generate({ promptTokenIds: Array.from({ length: 10 }, (_, i) => 300 + i) }, { maxTokens: 5, temperature: 0, ignoreEos: true }, { progress: false });
    const { steps } = await llm.snapshot(before);
    expect(steps.map((r) => [r.prefillTokens, r.decodeTokens])).toEqual([[10, 0], [0, 1], [0, 1], [0, 1], [0, 1]]);
    expect(steps.flatMap((r) => r.ttftMs)).toHaveLength(1);
    expect(steps[0]!.ttftMs[0]).toBeGreaterThanOrEqual(0);
    for (const r of steps) expect(r.ms).toBeGreaterThanOrEqual(0);
  });
});
