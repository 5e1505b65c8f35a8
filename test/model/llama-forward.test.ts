/**
 * The Llama-family forward pass (Llama 3, Qwen2.5, Qwen3 shapes) against the float64 PyTorch
 * reference of scripts/make_llama_fixtures.py, on every available backend: logits at every
 * position, 32 greedy steps through the paged KV cache, and ragged / chunked batches that give
 * each sequence the logits it gets alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, KVCacheDType } from '../../src/kernels/backend.js';
import { createBackend } from '../../src/kernels/index.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { isLlamaConfig } from '../../src/model/config.js';
import { createModel, type CausalLM } from '../../src/model/model.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { LLAMA_FIXTURE_NAMES, fixtureModelDir, loadLlamaPrompts, loadReference, type FixtureDType, type LlamaFixtureName, type ReferencePrompt } from '../helpers/fixtures.js';
import { Pager } from '../helpers/pager.js';

const TOL = 1e-4;
const BLOCK = 8;

function nativeOrNull(): (() => Backend) | null {
  try {
    createBackend({ backend: 'native' }).dispose();
    return () => createBackend({ backend: 'native' });
  } catch {
    return null;
  }
}
const native = nativeOrNull();
if (!native) console.log('llama-forward.test.ts: native backend skipped (not built)');

/** Every fixture in f32 on both backends; the half-precision copies once each where they run fast. */
const CASES: [string, () => Backend, LlamaFixtureName, FixtureDType][] = [];
for (const name of LLAMA_FIXTURE_NAMES) {
  CASES.push(['reference', createReferenceBackend, name, 'f32']);
  if (native) for (const dtype of ['f32', 'bf16', 'f16'] as const) CASES.push(['native', native, name, dtype]);
}
CASES.push(['reference', createReferenceBackend, 'tiny-qwen3', 'bf16']);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

function promptLogits(model: CausalLM, tokens: readonly number[], kvDtype: KVCacheDType = 'f32'): Float32Array {
  const numBlocks = Math.ceil(tokens.length / BLOCK);
  const pager = new Pager(numBlocks, BLOCK, 1);
  const seq = pager.addSequence();
  const { batch } = pager.batch([{ seq, tokens }], () => true);
  return Float32Array.from(model.forward(batch, model.createKVCache(numBlocks, BLOCK, kvDtype)));
}

describe('the Llama-family fixtures use the real tokenizers', () => {
  for (const name of LLAMA_FIXTURE_NAMES) {
    it(`${name}: the checkpoint's tokenizer encodes every prompt text to the committed ids`, () => {
      const ref = loadReference(name);
      const info = loadLlamaPrompts(name);
      const dir = fixtureModelDir(name);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number };
      expect(config.vocab_size).toBe(info.vocabSize);
      expect(ref.spec.vocabSize).toBe(info.vocabSize);
      expect(info.vocabSize).toBe(info.tokenizer === 'llama3' ? 128256 : 151936);
      const tok = Tokenizer.fromDir(dir);
      expect(ref.prompts.map((p) => [p.name, p.text, p.tokens])).toEqual(info.prompts.map((p) => [p.name, p.text, p.tokens]));
      for (const p of ref.prompts) {
        expect(tok.encode(p.text, { addSpecialTokens: false }), p.name).toEqual(p.tokens);
        // Every id the model is checked on has a token: the greedy continuations decode.
        for (const id of [...p.tokens, ...p.greedy.tokens]) expect(id, p.name).toBeLessThan(info.tokenizerSize);
      }
      // The document-start special token is one id, the real one.
      expect(ref.prompts.find((p) => p.name === 'eos-prefixed')!.tokens[0]).toBe(info.tokenizer === 'llama3' ? 128000 : 151643);
    });
  }
});

for (const [backendName, makeBackend, name, dtype] of CASES) {
  describe(`${name} (${dtype}) on the ${backendName} backend`, () => {
    const ref = loadReference(name);
    const spec = ref.spec;
    const V = spec.vocabSize;
    let backend: Backend;
    let model: CausalLM;
    const cached = new Map<string, Float32Array>();
    const alone = (p: ReferencePrompt): Float32Array => {
      if (!cached.has(p.name)) cached.set(p.name, promptLogits(model, p.tokens));
      return cached.get(p.name)!;
    };

    beforeAll(() => {
      backend = makeBackend();
      model = createModel(loadCheckpoint(fixtureModelDir(name, dtype)), backend);
    });
    afterAll(() => {
      cached.clear();
      backend.dispose();
    });

    it('loads the architecture with its K/V heads, head size and parameter count', () => {
      const c = model.config;
      if (!isLlamaConfig(c)) throw new Error('expected a Llama-family config');
      expect(c.architecture).toBe(spec.architecture);
      expect([c.nHead, c.nKvHead, c.headDim]).toEqual([spec.nHead, spec.nKvHead, spec.headDim]);
      const { nLayer: L, nEmbd: C, nInner: I } = spec;
      const D = spec.headDim!;
      const q = spec.nHead * D;
      const kv = spec.nKvHead! * D;
      const biases = (c.qkvBias ? q + 2 * kv : 0) + (c.oBias ? C : 0) + (c.mlpBias ? 2 * I! + C : 0);
      const perLayer = 2 * C + C * (q + 2 * kv) + q * C + 3 * C * I! + biases + (c.qkNorm ? 2 * D : 0);
      expect(model.numParams).toBe(V * C * (c.tieWordEmbeddings ? 1 : 2) + L * perLayer + C);
      // Only the K/V heads are cached: the group factor shrinks the cache.
      expect(model.kvBytesPerToken('f32')).toBe(2 * L * kv * 4);
      expect(model.kvBytesPerToken('bf16')).toBe(2 * L * kv * 2);
    });

    it('matches the PyTorch logits at every position and on the full last row', () => {
      for (const p of ref.prompts) {
        const logits = alone(p);
        p.sampledLogits.forEach((expected, pos) => {
          const got = ref.sampledIds.map((id) => logits[pos * V + id]);
          expect(maxAbsDiff(got, expected), `${p.name} position ${pos}`).toBeLessThanOrEqual(TOL);
          expect(backend.argmax(logits.subarray(pos * V, (pos + 1) * V), V), `${p.name} position ${pos} top-1`).toBe(p.top5[pos][0]);
        });
        expect(maxAbsDiff(logits.subarray((p.tokens.length - 1) * V), p.lastLogits), `${p.name} last row`).toBeLessThanOrEqual(TOL);
      }
    });

    if (dtype === 'f32') it('stays within half-precision rounding of PyTorch with a bf16 or f16 KV cache (K/V heads only)', () => {
      // As for GPT-2 (forward.test.ts): a few unit roundoffs of the largest logit.
      const scale = Math.max(...ref.prompts.map((p) => maxAbsDiff(p.lastLogits, new Float32Array(p.lastLogits.length))));
      for (const [kvDtype, u] of [['bf16', 2 ** -9], ['f16', 2 ** -12]] as const) {
        let worst = 0;
        for (const p of ref.prompts) {
          const logits = promptLogits(model, p.tokens, kvDtype);
          worst = Math.max(worst, maxAbsDiff(logits.subarray((p.tokens.length - 1) * V), p.lastLogits));
        }
        expect(worst, `${kvDtype} KV cache`).toBeLessThanOrEqual(4 * u * scale);
        expect(worst, `${kvDtype} KV cache is really rounded`).toBeGreaterThan(0);
      }
    });

    it('continues greedily like PyTorch for 32 steps through prefill and incremental decode', () => {
      for (const p of ref.prompts) {
        const runner = new SingleSequence(model, { maxLen: p.tokens.length + ref.greedySteps });
        let logits = runner.prefill(p.tokens);
        const out: number[] = [];
        for (let i = 0; i < ref.greedySteps; i++) {
          out.push(backend.argmax(logits, V));
          if (i + 1 < ref.greedySteps) logits = runner.step(out[i]);
        }
        expect(out, p.name).toEqual(p.greedy.tokens);
      }
    });

    it('gives each sequence the same logits in ragged, chunked batches as alone', () => {
      const [, short, fox, harbour] = ref.prompts;
      [short, fox, harbour].forEach(alone);
      const pager = new Pager(64, BLOCK, 11);
      const cache = model.createKVCache(64, BLOCK);
      const [a, b, c] = [pager.addSequence(), pager.addSequence(), pager.addSequence()];
      const prompts = [harbour, fox, short];
      const check = (step: { seq: number; tokens: readonly number[] }[]) => {
        const { batch } = pager.batch(step, () => false);
        const logitRows = Int32Array.from(step, (_, i) => batch.attn.queryStart[i + 1] - 1);
        const logits = model.forward({ ...batch, logitRows }, cache);
        step.forEach(({ seq }, i) => {
          const pos = pager.lengths[seq] - 1;
          const expected = alone(prompts[seq]).subarray(pos * V, (pos + 1) * V);
          expect(maxAbsDiff(logits.subarray(i * V, (i + 1) * V), expected), `${prompts[seq].name} position ${pos}`).toBe(0);
        });
      };
      const t = (p: ReferencePrompt, from: number, to: number) => p.tokens.slice(from, to);
      // Chunks that start mid-block, a one-token chunk, and a decode-sized step beside a prefill.
      check([{ seq: a, tokens: t(harbour, 0, 13) }, { seq: b, tokens: t(fox, 0, 1) }]);
      check([{ seq: a, tokens: t(harbour, 13, 14) }, { seq: b, tokens: t(fox, 1, 9) }, { seq: c, tokens: short.tokens }]);
      check([{ seq: b, tokens: t(fox, 9, 12) }, { seq: a, tokens: t(harbour, 14, 30) }]);
      check([{ seq: a, tokens: t(harbour, 30, 36) }]);
    });
  });
}
