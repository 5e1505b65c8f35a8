/** The server's waiting room, step by step. */
import { describe, expect, test } from 'vitest';
import { Admission } from '../../src/server/admission.js';
import { ApiError } from '../../src/server/errors.js';

const never = new AbortController().signal;

describe('Admission', () => {
  test('without maxWaiting everything goes straight through', async () => {
    const a = new Admission(1, undefined);
    await a.acquire(1, never);
    await a.acquire(5, never);
    expect(a.waiting).toBe(0);
  });

  test('runs while sequences fit, queues FIFO, rejects with 503 beyond maxWaiting sequences', async () => {
    const a = new Admission(4, 3);
    const r1 = await a.acquire(3, never);
    const order: string[] = [];
    const p2 = a.acquire(2, never).then((r) => (order.push('2'), r));
    const p3 = a.acquire(1, never).then((r) => (order.push('3'), r));
    expect(a.waiting).toBe(2);
    expect(a.waitingSequences).toBe(3);
    const err = await a.acquire(1, never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(503);
    // A 1-sequence request would fit now, but FIFO keeps it behind request 2.
    expect(order).toEqual([]);
    r1();
    const [r2, r3] = await Promise.all([p2, p3]);
    expect(order).toEqual(['2', '3']);
    expect(a.waiting).toBe(0);
    expect(a.waitingSequences).toBe(0);
    r2();
    r2(); // releasing twice gives nothing back twice
    r3();
  });

  test('a multi-prompt request counts all its sequences against maxWaiting', async () => {
    const a = new Admission(4, 5);
    const r1 = await a.acquire(1, never);
    // 6 sequences (e.g. 3 prompts × n 2) queue behind r1 and exceed maxWaiting 5 on their own.
    const err = await a.acquire(6, never).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'server_overloaded' });
    const p = a.acquire(5, never);
    expect(a.waitingSequences).toBe(5);
    await expect(a.acquire(1, never)).rejects.toMatchObject({ status: 503 });
    r1();
    (await p)();
    // Larger than the engine's batch: runs alone once idle (the engine queues the excess).
    (await a.acquire(9, never))();
    // Larger than running + waiting together: it could never be admitted, so a 400.
    await expect(a.acquire(10, never)).rejects.toMatchObject({ status: 400, param: 'prompt', code: 'too_many_sequences' });
  });

  test('a queued request whose client leaves is dropped from the queue', async () => {
    const a = new Admission(1, 1);
    const r1 = await a.acquire(1, never);
    const ac = new AbortController();
    const p = a.acquire(1, ac.signal);
    expect(a.waiting).toBe(1);
    ac.abort();
    await expect(p).rejects.toMatchObject({ status: 499, code: 'client_closed' });
    expect(a.waiting).toBe(0);
    r1();
    (await a.acquire(1, never))();
  });
});
