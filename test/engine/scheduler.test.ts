import { describe, expect, it } from 'vitest';
import { fakeStep, makeRequest, makeScheduler, plan } from '../helpers/engine.js';

describe('Scheduler', () => {
  it('serves decodes first and gives the rest of the budget to a chunked prefill', () => {
    const s = makeScheduler({ maxNumBatchedTokens: 10 });
    for (const id of ['a', 'b', 'c']) s.addRequest(makeRequest(id, 2, {}, id.charCodeAt(0) * 10));
    expect(plan(fakeStep(s))).toEqual([['a', 2], ['b', 2], ['c', 2]]);

    s.addRequest(makeRequest('d', 20));
    const starts: number[] = [];
    const samples: boolean[] = [];
    const plans: [string, number][][] = [];
    for (let i = 0; i < 3; i++) {
      const out = fakeStep(s);
      plans.push(plan(out));
      const d = out.scheduled.find((e) => e.seq.id === 'd')!;
      starts.push(d.start);
      samples.push(d.sample);
    }
    // 3 decode tokens + 7 prompt tokens fill the budget of 10; the last chunk is the remaining 6.
    expect(plans).toEqual([
      [['a', 1], ['b', 1], ['c', 1], ['d', 7]],
      [['a', 1], ['b', 1], ['c', 1], ['d', 7]],
      [['a', 1], ['b', 1], ['c', 1], ['d', 6]],
    ]);
    expect(starts).toEqual([0, 7, 14]);
    expect(samples).toEqual([false, false, true]);
    expect(s.requests.get('d')!.seqs[0]!.outputTokenIds).toHaveLength(1);
  });

  it('with a budget of one token, prefills one token per step and admits nobody meanwhile', () => {
    const s = makeScheduler({ maxNumBatchedTokens: 1 });
    s.addRequest(makeRequest('a', 3, { maxTokens: 1 }));
    s.addRequest(makeRequest('b', 2, {}, 500));
    const outs = [fakeStep(s), fakeStep(s), fakeStep(s), fakeStep(s)];
    expect(outs.map(plan)).toEqual([[['a', 1]], [['a', 1]], [['a', 1]], [['b', 1]]]);
    expect(outs.map((o) => o.scheduled[0]!.sample)).toEqual([false, false, true, false]);
    expect(s.requests.has('a')).toBe(false);
  });

  it('admits first-come-first-served: a head that does not fit blocks later requests', () => {
    const s = makeScheduler({ numBlocks: 6, blockSize: 4 }); // 5 usable blocks
    s.addRequest(makeRequest('a', 12));
    s.addRequest(makeRequest('b', 12, {}, 300));
    s.addRequest(makeRequest('c', 4, {}, 600)); // would fit, but waits behind b
    const out = fakeStep(s);
    expect(plan(out)).toEqual([['a', 12]]);
    expect(out.scheduled[0]!.seq.blockTable).toEqual([1, 2, 3]);
    expect(s.waiting.map((q) => q.id)).toEqual(['b', 'c']);
  });

  it('caps running sequences at maxNumSeqs', () => {
    const s = makeScheduler({ maxNumSeqs: 2 });
    for (const id of ['a', 'b', 'c']) s.addRequest(makeRequest(id, 2, { maxTokens: 2 }, id.charCodeAt(0) * 10));
    expect(plan(fakeStep(s))).toEqual([['a', 2], ['b', 2]]);
    expect(plan(fakeStep(s))).toEqual([['a', 1], ['b', 1]]);
    expect(plan(fakeStep(s))).toEqual([['c', 2]]);
  });

  it('preempts the newest running sequence and later recomputes it with its generated tokens', () => {
    const s = makeScheduler({ numBlocks: 5, blockSize: 4, enablePrefixCaching: false }); // 4 usable
    s.addRequest(makeRequest('a', 4, { maxTokens: 7 }, 100));
    s.addRequest(makeRequest('b', 4, {}, 200));
    const b = s.requests.get('b')!.seqs[0]!;
    // Steps 1-5: both fit in two blocks each (up to 8 computed tokens).
    for (let i = 0; i < 5; i++) expect(plan(fakeStep(s))).toEqual([['a', i === 0 ? 4 : 1], ['b', i === 0 ? 4 : 1]]);
    expect(s.kv.numFreeBlocks).toBe(0);
    expect(b.outputTokenIds).toHaveLength(5);

    // Step 6: a needs a third block; b, the newest, is preempted and a takes one of its blocks.
    const out6 = fakeStep(s);
    expect(plan(out6)).toEqual([['a', 1]]);
    expect(s.running.map((q) => q.id)).toEqual(['a']);
    expect(out6.scheduled[0]!.seq.blockTable.at(-1)).toBe(4); // b's blocks [2, 4] were freed tail first
    expect(b.status).toBe('preempted');
    expect(b.numComputedTokens).toBe(0);
    expect(b.blockTable).toEqual([]);
    expect(b.outputTokenIds).toHaveLength(5);
    expect(s.waiting[0]).toBe(b);
    expect(s.numPreemptions).toBe(1);

    // Step 7: b still cannot get three blocks; a reaches maxTokens and frees everything.
    expect(plan(fakeStep(s))).toEqual([['a', 1]]);
    expect(s.requests.has('a')).toBe(false);

    // Step 8: b recomputes its prompt and its 5 generated tokens in one chunk and samples again.
    const out8 = fakeStep(s);
    expect(plan(out8)).toEqual([['b', 9]]);
    expect(out8.scheduled[0]!.start).toBe(0);
    expect(out8.scheduled[0]!.sample).toBe(true);
    expect(b.outputTokenIds).toHaveLength(6);
  });

  it('requeues a preempted sequence at the front, ahead of a request that never ran', () => {
    // 4 usable blocks, two running at most: c waits from the start.
    const s = makeScheduler({ numBlocks: 5, blockSize: 4, maxNumSeqs: 2, enablePrefixCaching: false });
    s.addRequest(makeRequest('a', 4, { maxTokens: 7 }, 100));
    s.addRequest(makeRequest('b', 4, {}, 200));
    s.addRequest(makeRequest('c', 4, { maxTokens: 1 }, 300));
    for (let i = 0; i < 5; i++) expect(plan(fakeStep(s))).toEqual([['a', i === 0 ? 4 : 1], ['b', i === 0 ? 4 : 1]]);
    expect(s.waiting.map((q) => q.id)).toEqual(['c']);

    // Step 6: b is preempted and goes ahead of c, which has waited longer but never ran.
    fakeStep(s);
    expect(s.numPreemptions).toBe(1);
    expect(s.running.map((q) => q.id)).toEqual(['a']);
    expect(s.waiting.map((q) => q.id)).toEqual(['b', 'c']);

    // Step 7: one block is free; c would fit it, but b heads the queue and needs three.
    expect(plan(fakeStep(s))).toEqual([['a', 1]]);
    expect(s.waiting.map((q) => q.id)).toEqual(['b', 'c']);

    // Step 8: a has finished; b resumes first, then c.
    expect(plan(fakeStep(s))).toEqual([['b', 9], ['c', 4]]);
  });

  it('finishes a request that can never fit instead of waiting forever', () => {
    const s = makeScheduler({ numBlocks: 3, blockSize: 4 }); // 2 usable blocks = 8 tokens
    s.addRequest(makeRequest('big', 8)); // no room left for a single generated token
    const out = s.schedule();
    expect(out.scheduled).toEqual([]);
    expect(out.finished.map((q) => [q.id, q.finishReason])).toEqual([['big', 'length']]);
    expect(s.hasUnfinished()).toBe(false);

    // A prompt that fits generates until the sequence fills the pool, then stops.
    s.addRequest(makeRequest('ok', 6));
    const seq = s.requests.get('ok')!.seqs[0]!;
    let steps = 0;
    while (s.hasUnfinished() && steps++ < 20) fakeStep(s);
    expect(seq.finishReason).toBe('length');
    expect(seq.outputTokenIds).toHaveLength(2); // 6 + 2 = 8 tokens fill both blocks
    expect(s.kv.numFreeBlocks).toBe(2);
  });

  it('stops at the context length', () => {
    const s = makeScheduler({ maxModelLen: 6 });
    s.addRequest(makeRequest('a', 4));
    const seq = s.requests.get('a')!.seqs[0]!;
    while (s.hasUnfinished()) fakeStep(s);
    expect(seq.outputTokenIds).toHaveLength(2);
    expect(seq.finishReason).toBe('length');
  });

  it('frees the blocks of an aborted request at once, running or waiting', () => {
    const s = makeScheduler({ numBlocks: 8, blockSize: 4 });
    s.addRequest(makeRequest('a', 10));
    fakeStep(s);
    s.addRequest(makeRequest('w', 3, {}, 900));
    expect(s.kv.numFreeBlocks).toBe(4);
    const req = s.abort('a')!;
    expect(s.kv.numFreeBlocks).toBe(7);
    expect(req.seqs[0]!.finishReason).toBe('abort');
    expect(s.running).toEqual([]);
    s.abort('w');
    expect(s.waiting).toEqual([]);
    expect(s.hasUnfinished()).toBe(false);
    expect(s.abort('unknown')).toBeUndefined();
    expect(s.schedule().scheduled).toEqual([]);
  });

  it('serves repeated prompts from the prefix cache', () => {
    const s = makeScheduler({ blockSize: 4 });
    s.addRequest(makeRequest('a', 10, { maxTokens: 1 }));
    fakeStep(s);
    s.addRequest(makeRequest('b', 10, { maxTokens: 1 }));
    const out = fakeStep(s);
    expect(plan(out)).toEqual([['b', 2]]);
    expect(out.scheduled[0]!.start).toBe(8);
    expect(s.prefixCacheQueries).toBe(20);
    expect(s.prefixCacheHits).toBe(8);
  });

  it('lets the samples of n > 1 share the full prompt blocks and recompute only the tail', () => {
    const s = makeScheduler({ blockSize: 4 });
    s.addRequest(makeRequest('r', 10, { n: 3 }));
    expect(plan(fakeStep(s))).toEqual([['r#0', 10]]);
    const out = fakeStep(s);
    // Two full blocks precede the last prompt token: each sibling recomputes tokens 8 and 9.
    expect(plan(out)).toEqual([['r#0', 1], ['r#1', 2], ['r#2', 2]]);
    const [s0, s1, s2] = s.requests.get('r')!.seqs;
    expect(s0!.blockTable).toEqual([1, 2, 3]);
    expect(s1!.blockTable).toEqual([1, 2, 4]);
    expect(s2!.blockTable).toEqual([1, 2, 5]);
    expect(s.kv.pool.blocks[1]!.refCount).toBe(3);
    expect(s.prefixCacheHits).toBe(0);
    s.abort('r');
    expect(s.kv.pool.blocks[1]!.refCount).toBe(0);
    expect(s.kv.numFreeBlocks).toBe(63);
  });

  it('starts all samples at once when the prompt has no full block to share', () => {
    const s = makeScheduler({ blockSize: 4 });
    s.addRequest(makeRequest('r', 3, { n: 2 }));
    expect(plan(fakeStep(s))).toEqual([['r#0', 3], ['r#1', 3]]);
  });

  it('rejects a duplicate request id', () => {
    const s = makeScheduler();
    s.addRequest(makeRequest('a', 2));
    expect(() => s.addRequest(makeRequest('a', 2))).toThrow(/'a' is already in use/);
  });
});
