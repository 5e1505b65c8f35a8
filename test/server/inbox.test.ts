/** The fan-in queue of a multi-prompt request. */
import { describe, expect, test } from 'vitest';
import { Inbox, type Step } from '../../src/server/inbox.js';

const step = (i: number): Step => ({ i, res: { done: true, value: undefined } });

describe('Inbox', () => {
  test('hands steps out in arrival order, waiting when empty', async () => {
    const box = new Inbox();
    box.push(step(2));
    box.push(step(0));
    expect((await box.take())?.i).toBe(2);
    expect((await box.take())?.i).toBe(0);
    const later = box.take();
    box.push(step(7));
    expect((await later)?.i).toBe(7);
  });

  test('close ends a waiting take with null and drops later pushes', async () => {
    const box = new Inbox();
    const waiting = box.take();
    box.close();
    expect(await waiting).toBeNull();
    box.push(step(1));
    expect(await box.take()).toBeNull();
  });

  test('many producers interleaved: every step exactly once', async () => {
    const box = new Inbox();
    const N = 10_000;
    for (let i = 0; i < N; i++) queueMicrotask(() => box.push(step(i)));
    const seen: number[] = [];
    for (let k = 0; k < N; k++) seen.push((await box.take())!.i);
    expect(seen).toEqual(Array.from({ length: N }, (_, i) => i));
  });
});
