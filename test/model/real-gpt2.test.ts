/**
 * The real GPT-2 (124M) checkpoint, when one is on disk: `TINYVLLM_TEST_MODEL_DIR` must point at a
 * directory with config.json, model.safetensors, vocab.json and merges.txt (no download at test time).
 * Expected values are those of Hugging Face transformers' GPT2LMHeadModel for the same prompt.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/kernels/index.js';
import { loadModel, type LoadedModel } from '../../src/model/load.js';
import { SingleSequence } from '../../src/model/single-sequence.js';

const dir = process.env.TINYVLLM_TEST_MODEL_DIR;
if (!dir) console.log('real-gpt2.test.ts: skipped: set TINYVLLM_TEST_MODEL_DIR to a local gpt2 checkpoint directory to run it');

function nativeAvailable(): boolean {
  try {
    createBackend({ backend: 'native' }).dispose();
    return true;
  } catch {
    return false;
  }
}

describe('real GPT-2 124M', () => {
  const loaded: LoadedModel[] = [];
  afterAll(() => loaded.forEach((l) => l.backend.dispose()));

  const backends = ['reference', ...(nativeAvailable() ? ['native' as const] : [])] as const;
  for (const backend of backends) {
    it.skipIf(!dir)(`"Hello world" is followed by "," with p = 0.275 (${backend})`, async () => {
      const l = await loadModel(dir!, { backend, dtype: 'auto' });
      loaded.push(l);
      expect(l.model.numParams).toBe(124_439_808);
      const ids = l.tokenizer.encode('Hello world');
      expect(ids).toEqual([15496, 995]);
      const probs = Float32Array.from(new SingleSequence(l.model, { maxLen: 8 }).prefill(ids));
      l.backend.softmax(probs, 1, probs.length);
      const top = l.backend.argmax(probs, probs.length);
      expect(l.tokenizer.decode([top])).toBe(',');
      expect(probs[top]).toBeGreaterThan(0.265);
      expect(probs[top]).toBeLessThan(0.285);
    });
  }
});
