/**
 * The GPT-2 forward pass against the PyTorch reference of the tiny fixture models, in every stored
 * dtype and on every available backend; plus the properties the engine relies on: incremental
 * decode through the paged KV cache, ragged batches and chunked prefill give the same logits as one
 * prompt run alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, KVCacheDType } from '../../src/kernels/backend.js';
import { createBackend } from '../../src/kernels/index.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { GPT2Model } from '../../src/model/gpt2.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { Pager } from '../helpers/pager.js';
import { FIXTURE_NAMES, fixtureModelDir, loadReference, type FixtureDType, type ReferencePrompt } from '../helpers/fixtures.js';
import { yieldToEventLoop } from '../helpers/yield.js';

const TOL = 1e-4;
/**
 * One block size for every cache in the equivalence checks: batch invariance promises a row's result
 * does not depend on the rest of the batch, but the KV tile size may change f32 rounding.
 */
const BLOCK = 8;
const DTYPES: readonly FixtureDType[] = ['f32', 'bf16', 'f16'];

function nativeOrReason(): (() => Backend) | string {
  try {
    createBackend({ backend: 'native' }).dispose();
    return () => createBackend({ backend: 'native' });
  } catch (e) {
    return (e as Error).message;
  }
}

const native = nativeOrReason();
const BACKENDS: [string, () => Backend][] = [['reference', createReferenceBackend]];
if (typeof native === 'string') console.log(`forward.test.ts: native backend skipped: ${native}`);
else BACKENDS.push(['native', native]);

/** Largest |a[i] - b[i]|. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d; // NaN propagates
  }
  return worst;
}

/**
 * Logits of one prompt run alone through a contiguous cache of `kvDtype`: every position's row, or
 * only those `want` picks (each row costs a vocabulary-sized matmul, most of a tiny model's work).
 */
function promptLogits(model: GPT2Model, tokens: readonly number[], kvDtype: KVCacheDType = 'f32', want: (pos: number) => boolean = () => true): Float32Array {
  const numBlocks = Math.ceil(tokens.length / BLOCK);
  const pager = new Pager(numBlocks, BLOCK, 1);
  const seq = pager.addSequence();
  const { batch } = pager.batch([{ seq, tokens }], (_seq, pos) => want(pos));
  return Float32Array.from(model.forward(batch, model.createKVCache(numBlocks, BLOCK, kvDtype)));
}

for (const [backendName, makeBackend] of BACKENDS) {
  for (const name of FIXTURE_NAMES) {
    for (const dtype of DTYPES) {
      describe(`${name} (${dtype}) on the ${backendName} backend`, () => {
        const ref = loadReference(name);
        const V = ref.spec.vocabSize;
        let backend: Backend;
        let model: GPT2Model;
        /** Per prompt, logits of every position computed with the prompt alone (computed once). */
        const cached = new Map<string, Float32Array>();
        const alone = (p: ReferencePrompt): Float32Array => {
          if (!cached.has(p.name)) cached.set(p.name, promptLogits(model, p.tokens));
          return cached.get(p.name)!;
        };

        beforeAll(() => {
          backend = makeBackend();
          model = GPT2Model.fromCheckpoint(loadCheckpoint(fixtureModelDir(name, dtype)), backend);
        });
        afterAll(() => {
          cached.clear();
          backend.dispose();
        });

        it('loads with the expected shape and parameter count', () => {
          const { nLayer: L, nEmbd: C, nPositions: P } = ref.spec;
          expect(model.config.nLayer).toBe(L);
          expect(model.numParams).toBe(V * C + P * C + L * (12 * C * C + 13 * C) + 2 * C);
          expect(model.kvBytesPerToken()).toBe(2 * L * C * 4);
          expect(model.kvBytesPerToken('f32')).toBe(2 * L * C * 4);
          expect(model.kvBytesPerToken('bf16')).toBe(2 * L * C * 2);
          expect(model.kvBytesPerToken('f16')).toBe(2 * L * C * 2);
          // A backend may widen half weights to f32 (the reference keeps the requested precision).
          expect(backendName === 'reference' ? [dtype] : [dtype, 'f32']).toContain(model.dtype);
        });

        it('matches the PyTorch logits at every position and on the full last row', async () => {
          for (const p of ref.prompts) {
            await yieldToEventLoop();
            const logits = alone(p);
            expect(logits.length).toBe(p.tokens.length * V);
            p.sampledLogits.forEach((expected, pos) => {
              const got = ref.sampledIds.map((id) => logits[pos * V + id]);
              expect(maxAbsDiff(got, expected), `${p.name} position ${pos}`).toBeLessThanOrEqual(TOL);
              expect(backend.argmax(logits.subarray(pos * V, (pos + 1) * V), V), `${p.name} position ${pos} top-1`).toBe(p.top5[pos][0]);
            });
            const last = logits.subarray((p.tokens.length - 1) * V);
            expect(maxAbsDiff(last, p.lastLogits), `${p.name} last row`).toBeLessThanOrEqual(TOL);
          }
        });

        // Cache precision is independent of the weights' precision: checked once, with f32 weights.
        if (dtype === 'f32') it('matches the PyTorch logits within half-precision rounding with a bf16 or f16 KV cache', async () => {
          // Rounding K/V to bf16 (f16) perturbs each by at most the unit roundoff u = 2^-9 (2^-12)
          // relative. Attention mixes them convexly and the later layers add a small gain, so the
          // logits may move by a few u of their scale: allow 4u times the largest reference logit
          // (the tiny models reach about 2.4u for bf16 and 2u for f16). The f32 tolerance above is
          // 100x tighter than the bf16 error, so this checks the rounded cache, not an exact one.
          // Every third position and the last: rounding in the cache reaches every later row, so the
          // rows between add cost, not evidence.
          const scale = Math.max(...ref.prompts.map((p) => maxAbsDiff(p.lastLogits, new Float32Array(p.lastLogits.length))));
          for (const [kvDtype, u] of [['bf16', 2 ** -9], ['f16', 2 ** -12]] as const) {
            let worst = 0;
            for (const p of ref.prompts) {
              await yieldToEventLoop();
              const last = p.tokens.length - 1;
              const positions = p.sampledLogits.map((_, pos) => pos).filter((pos) => pos % 3 === 2 || pos === last);
              const logits = promptLogits(model, p.tokens, kvDtype, (pos) => positions.includes(pos));
              positions.forEach((pos, row) => {
                worst = Math.max(worst, maxAbsDiff(ref.sampledIds.map((id) => logits[row * V + id]), p.sampledLogits[pos]));
              });
              worst = Math.max(worst, maxAbsDiff(logits.subarray(positions.indexOf(last) * V, (positions.indexOf(last) + 1) * V), p.lastLogits));
            }
            expect(worst, `${kvDtype} KV cache: worst logit error`).toBeLessThanOrEqual(4 * u * scale);
          }
        });

        it('continues greedily like PyTorch through prefill and incremental decode', async () => {
          for (const p of ref.prompts) {
            await yieldToEventLoop();
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

        it('gives each prompt of a ragged batch the logits it gets alone', () => {
          const prompts: readonly ReferencePrompt[] = ref.prompts;
          prompts.forEach(alone); // before the batch: forward's result is only valid until the next call
          const pager = new Pager(64, BLOCK, 7);
          const seqs = prompts.map(() => pager.addSequence());
          // The last position of each prompt and a spread of earlier ones.
          const want = (seq: number, pos: number) => pos === prompts[seq].tokens.length - 1 || pos % 5 === 2;
          const { batch, rows } = pager.batch(prompts.map((p, i) => ({ seq: seqs[i], tokens: p.tokens })), want);
          const logits = model.forward(batch, model.createKVCache(64, BLOCK));
          expect(logits.length).toBe(rows.length * V);
          rows.forEach(({ seq, pos }, r) => {
            const expected = alone(prompts[seq]).subarray(pos * V, (pos + 1) * V);
            expect(maxAbsDiff(logits.subarray(r * V, (r + 1) * V), expected), `${prompts[seq].name} position ${pos}`).toBe(0);
          });
        });

        it('gives the same logits when prompts are prefilled in chunks, batched with other sequences', () => {
          const [short, , , harbour, library] = ref.prompts;
          [short, harbour, library].forEach(alone); // before any step: forward's result is reused
          const pager = new Pager(64, BLOCK, 11);
          const cache = model.createKVCache(64, BLOCK);
          const [a, b, c] = [pager.addSequence(), pager.addSequence(), pager.addSequence()];
          const prompts = [library, harbour, short]; // indexed by sequence id
          // Each step is one ragged batch; every part of it wants the logits of its last row.
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
          check([{ seq: a, tokens: t(library, 0, 50) }, { seq: b, tokens: t(harbour, 0, 1) }]);
          check([{ seq: a, tokens: t(library, 50, 51) }, { seq: b, tokens: t(harbour, 1, 20) }, { seq: c, tokens: short.tokens }]);
          check([{ seq: b, tokens: t(harbour, 20, 36) }, { seq: a, tokens: t(library, 51, 130) }]);
          check([{ seq: a, tokens: t(library, 130, 193) }]);
        });
      });
    }
  }
}

describe('forward edge cases', () => {
  const ref = loadReference('tiny-gpt2-a');
  const model = GPT2Model.fromCheckpoint(loadCheckpoint(fixtureModelDir('tiny-gpt2-a', 'f32')), createReferenceBackend());
  const make = () => {
    const pager = new Pager(8, 4, 3);
    const seq = pager.addSequence();
    return pager.batch([{ seq, tokens: ref.prompts[2].tokens }], () => true).batch;
  };
  const cache = model.createKVCache(8, 4);

  it('names what is wrong with a bad batch', () => {
    const b = make();
    expect(() => model.forward({ ...b, tokens: b.tokens.map((t, i) => (i === 3 ? 50257 : t)) }, cache)).toThrow(/token id 50257 at row 3/);
    expect(() => model.forward({ ...b, positions: b.positions.map((p) => p + 250) }, cache)).toThrow(/position 256 at row 6/);
    expect(() => model.forward({ ...b, logitRows: Int32Array.of(12) }, cache)).toThrow(/logit row 12/);
    expect(() => model.forward({ ...b, attn: { ...b.attn, slotMapping: b.attn.slotMapping.map(() => 32) } }, cache)).toThrow(/slot 32 at row 0/);
    expect(() => model.forward({ ...b, attn: { ...b.attn, seqLens: Int32Array.of(40) } }, cache)).toThrow(/exceeds its block table/);
    expect(() => model.forward(b, cache.slice(1))).toThrow(/1 layers, the model 2/);
    expect(() => model.createKVCache(0, 16)).toThrow(/numBlocks/);
  });

  it('returns no logits for a step that samples nothing, yet fills the KV cache', () => {
    const tokens = ref.prompts[2].tokens;
    const pager = new Pager(8, 4, 5);
    const seq = pager.addSequence();
    const kv = model.createKVCache(8, 4);
    expect(model.forward(pager.batch([{ seq, tokens: tokens.slice(0, 7) }], () => false).batch, kv).length).toBe(0);
    const last = model.forward(pager.batch([{ seq, tokens: tokens.slice(7) }], (_s, pos) => pos === tokens.length - 1).batch, kv);
    expect(maxAbsDiff(last, ref.prompts[2].lastLogits)).toBeLessThanOrEqual(TOL);
  });

  it('rejects a checkpoint tensor of the wrong shape, naming it', () => {
    const ckpt = loadCheckpoint(fixtureModelDir('tiny-gpt2-a', 'f32'));
    const tensors = new Map(ckpt.tensors);
    const t = tensors.get('h.1.mlp.c_fc.weight')!;
    tensors.set(t.name, { ...t, shape: [t.shape[1], t.shape[0]] });
    expect(() => GPT2Model.fromCheckpoint({ ...ckpt, tensors }, createReferenceBackend())).toThrow(/'h\.1\.mlp\.c_fc\.weight'.*\[256, 64\], expected \[64, 256\]/);
  });
});
