/** The worker-backed engine client: same outputs as the in-process engine, errors as rejections. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncLLM } from '../../src/engine/async-llm.js';
import type { RequestOutput } from '../../src/engine/outputs.js';
import { ParamError } from '../../src/engine/sampling-params.js';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { referenceGreedy, tinyModel } from '../helpers/engine.js';

let engine: AsyncLLM;

beforeAll(async () => {
  engine = await AsyncLLM.create({ model: fixtureModelDir('tiny-gpt2-a'), backend: 'reference', maxModelLen: 128 });
});

afterAll(async () => {
  await engine?.shutdown();
});

async function drain(it: AsyncIterable<RequestOutput>): Promise<RequestOutput[]> {
  const all: RequestOutput[] = [];
  for await (const d of it) all.push(d);
  return all;
}

describe('AsyncLLM', () => {
  it('reports the model and tokenises on the caller side', () => {
    expect(engine.modelConfig.nLayer).toBe(2);
    expect(engine.maxModelLen).toBe(128);
    const ids = engine.encode('Hello world');
    expect(engine.decode(ids)).toBe('Hello world');
  });

  it('streams concurrent requests from the worker, matching the reference', async () => {
    const { model, tokenizer } = await tinyModel();
    const prompts = ['The harbour was quiet', 'Once upon a time', 'x'];
    const runs = await Promise.all(prompts.map((p, i) => drain(engine.generate(p, { temperature: 0, maxTokens: 6, ignoreEos: true }, `req-${i}`))));
    runs.forEach((deltas, i) => {
      expect(deltas.every((d) => d.requestId === `req-${i}`)).toBe(true);
      expect(deltas.at(-1)!.finished).toBe(true);
      expect(deltas.flatMap((d) => d.outputs[0]!.tokenIds)).toEqual(referenceGreedy(model, tokenizer.encode(prompts[i]!), 6));
    });
    const s = await engine.stats();
    expect(s.generationTokens).toBe(18);
    expect(s.numFreeBlocks).toBe(s.numBlocks);
  });

  it('rejects bad parameters and over-long prompts with a ParamError on the first next()', async () => {
    const it1 = engine.generate('hi', { temperature: -0.5 }, 'bad-1')[Symbol.asyncIterator]();
    await expect(it1.next()).rejects.toBeInstanceOf(ParamError);
    const it2 = engine.generate({ promptTokenIds: new Array<number>(128).fill(5) }, {}, 'bad-2')[Symbol.asyncIterator]();
    const e = await it2.next().then(() => null, (x: unknown) => x as ParamError);
    expect(e).toBeInstanceOf(ParamError);
    expect(e!.param).toBe('prompt');
    expect(e!.message).toMatch(/maximum context length is 128/);
  });

  it('aborts when the caller stops iterating, and on abort()', async () => {
    for await (const _ of engine.generate('stop early', { temperature: 0, maxTokens: 100, ignoreEos: true }, 'early')) break;
    const seen: RequestOutput[] = [];
    for await (const d of engine.generate('abort me', { temperature: 0, maxTokens: 100, ignoreEos: true }, 'abort-me')) {
      seen.push(d);
      if (seen.length === 1) engine.abort('abort-me');
    }
    expect(seen.at(-1)!.finished).toBe(true);
    expect(seen.at(-1)!.outputs[0]!.finishReason).toBe('abort');
    expect(seen.flatMap((d) => d.outputs[0]!.tokenIds).length).toBeLessThan(100);
    const s = await engine.stats();
    expect([s.numRunning, s.numWaiting, s.numFreeBlocks]).toEqual([0, 0, s.numBlocks]);
  });

  it('fails start-up with the loader error, without crashing the process', async () => {
    await expect(AsyncLLM.create({ model: '/nonexistent/model-dir', backend: 'reference' })).rejects.toThrow(/nonexistent/);
    await expect(AsyncLLM.create({ model: fixtureModelDir('tiny-gpt2-a'), backend: 'reference', maxModelLen: 4096 })).rejects.toThrow(/maxModelLen: 4096 exceeds/);
  });

  it('rejects in-flight and later requests after shutdown', async () => {
    const other = await AsyncLLM.create({ model: fixtureModelDir('tiny-gpt2-a'), backend: 'reference', maxModelLen: 64 });
    const it1 = other.generate('a long one', { temperature: 0, maxTokens: 50, ignoreEos: true }, 'long')[Symbol.asyncIterator]();
    await it1.next();
    await other.shutdown();
    await expect(drain({ [Symbol.asyncIterator]: () => it1 })).rejects.toThrow(/shut down/);
    await expect(other.generate('again', {}, 'again')[Symbol.asyncIterator]().next()).rejects.toThrow(/shut down/);
    await expect(other.stats()).rejects.toThrow(/shut down/);
  });
});
