/**
 * A prompt plus an explicit maxTokens past the context is rejected by the offline API with the
 * server's message (vLLM's); a default maxTokens shrinks to the room the prompt leaves.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LLM } from '../../src/engine/llm.js';
import { ParamError, type SamplingParamsInit } from '../../src/engine/sampling-params.js';
import { checkContextLength } from '../../src/server/generation.js';
import { randomPrompts, tinyLLM } from '../helpers/engine.js';

const CONTEXT = 64;
const prompt = { promptTokenIds: randomPrompts([CONTEXT - 4])[0]! };

let llm: LLM;

beforeAll(async () => {
  llm = await tinyLLM({ maxModelLen: CONTEXT, kvCacheMemory: '1MiB', blockSize: 8 });
});

async function rejection(params: SamplingParamsInit): Promise<ParamError> {
  const e = await llm.generate([prompt], params).then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(ParamError);
  return e as ParamError;
}

/** The server's 400 for the same request, as an oracle for the wording. */
function serverMessage(promptLen: number, maxTokens: number): string {
  try {
    checkContextLength(promptLen, maxTokens, CONTEXT, 'prompt');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the server accepted it');
}

describe('prompt + maxTokens past the context', () => {
  it('is rejected with the server message when maxTokens is given, queueing nothing', async () => {
    const e = await rejection({ maxTokens: 20, temperature: 0 });
    expect(e.param).toBe('max_tokens');
    expect(e.message).toBe(serverMessage(CONTEXT - 4, 20));
    expect(e.message).toContain(`maximum context length is ${CONTEXT} tokens. However, you requested ${CONTEXT + 16} tokens (${CONTEXT - 4} in the prompt, 20 in the completion)`);
    await expect(llm.stream(prompt, { maxTokens: 5 }).next()).rejects.toThrow(serverMessage(CONTEXT - 4, 5));
    const s = await llm.stats();
    expect([s.numWaiting, s.numRunning, s.numFreeBlocks]).toEqual([0, 0, s.numBlocks]);
  });

  it('generates exactly up to the context when maxTokens fits it', async () => {
    const [out] = await llm.generate([prompt], { maxTokens: 4, temperature: 0, ignoreEos: true });
    expect(out!.outputs[0]!.tokenIds).toHaveLength(4);
    expect(out!.outputs[0]!.finishReason).toBe('length');
  });

  it('clamps an unset (default 16) or null maxTokens to the room left', async () => {
    for (const params of [{ temperature: 0, ignoreEos: true }, { temperature: 0, ignoreEos: true, maxTokens: null }]) {
      const [out] = await llm.generate([prompt], params);
      expect(out!.outputs[0]!.tokenIds).toHaveLength(4);
      expect(out!.outputs[0]!.finishReason).toBe('length');
    }
  });
});
