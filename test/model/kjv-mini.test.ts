/**
 * The shipped, genuinely trained kjv-mini model against its PyTorch float64 reference, on every
 * available backend: logits at every prompt position, 32-step greedy continuations, and the
 * held-out loss, which must match PyTorch, beat a unigram baseline by a wide margin and agree with
 * the figure in the model card. Also: the built-in name resolves with no network and no cache.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { BUILTIN_MODELS } from '../../src/hub/builtin.js';
import { resolveModel } from '../../src/hub/hub.js';
import type { Backend } from '../../src/kernels/backend.js';
import { createBackend } from '../../src/kernels/index.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { GPT2Model } from '../../src/model/gpt2.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { KJV_MODEL_DIR, kjvHeldoutText, loadKjvReference } from '../helpers/kjv-mini.js';

/**
 * f32 engine vs float64 PyTorch on the same bf16 weights: the logits reach about +-15 and differ by
 * at most ~1e-5 (native) and ~1e-6 (reference), so the synthetic fixtures' bound applies.
 */
const TOL = 1e-4;
const ref = loadKjvReference();
const V = ref.spec.vocabSize;

function backends(): [string, () => Backend][] {
  const list: [string, () => Backend][] = [['reference', createReferenceBackend]];
  try {
    createBackend({ backend: 'native' }).dispose();
    list.push(['native', () => createBackend({ backend: 'native' })]);
  } catch (e) {
    console.log(`kjv-mini.test.ts: native backend skipped: ${(e as Error).message}`);
  }
  return list;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d; // NaN propagates
  }
  return worst;
}

/** Logits of every position of `tokens`, run as one prompt through a contiguous cache. */
function allLogits(model: GPT2Model, tokens: readonly number[]): Float32Array {
  const n = tokens.length;
  const blockSize = 16;
  const numBlocks = Math.ceil(n / blockSize);
  const positions = Int32Array.from({ length: n }, (_, i) => i);
  const logits = model.forward(
    {
      tokens: Int32Array.from(tokens),
      positions,
      logitRows: positions,
      attn: {
        numSeqs: 1,
        queryStart: Int32Array.of(0, n),
        seqLens: Int32Array.of(n),
        blockTables: Int32Array.from({ length: numBlocks }, (_, i) => i),
        maxBlocksPerSeq: numBlocks,
        slotMapping: positions,
        blockSize,
      },
    },
    model.createKVCache(numBlocks, blockSize),
  );
  return Float32Array.from(logits);
}

/** Summed next-token NLL (nats, float64) of one window and how often the top-1 logit is the next token. */
function windowNll(logits: Float32Array, tokens: readonly number[]): { sum: number; count: number; top1: number } {
  let sum = 0;
  let top1 = 0;
  for (let pos = 0; pos + 1 < tokens.length; pos++) {
    const row = logits.subarray(pos * V, (pos + 1) * V);
    let best = 0;
    for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
    let z = 0;
    for (const v of row) z += Math.exp(v - row[best]);
    sum += row[best] + Math.log(z) - row[tokens[pos + 1]];
    if (best === tokens[pos + 1]) top1++;
  }
  return { sum, count: tokens.length - 1, top1 };
}

describe('kjv-mini as a built-in model', () => {
  const cache = mkdtempSync(join(tmpdir(), 'tinyvllm-empty-hub-'));
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it('resolves by name to the package copy, offline and with an empty hub cache', async () => {
    expect(BUILTIN_MODELS).toContain('kjv-mini');
    const saved = { ...process.env };
    process.env.HF_HUB_CACHE = cache;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      expect(await resolveModel('kjv-mini')).toBe(KJV_MODEL_DIR);
      // Unknown names still go to the hub (and fail offline with the usual message).
      await expect(resolveModel('kjv-maxi')).rejects.toThrow(/not in the Hugging Face cache/);
    } finally {
      process.env = saved;
    }
  });

  it('is a GPT-2 of the documented shape, in bf16, under 16 MB', () => {
    const ckpt = loadCheckpoint(KJV_MODEL_DIR);
    expect(ckpt.dtype).toBe('bf16');
    expect(ckpt.config).toMatchObject({ nLayer: ref.spec.nLayer, nHead: ref.spec.nHead, nEmbd: ref.spec.nEmbd, nPositions: ref.spec.nPositions, vocabSize: V });
    expect(readFileSync(join(KJV_MODEL_DIR, 'model.safetensors')).length).toBeLessThan(16e6);
  });
});

for (const [backendName, makeBackend] of backends()) {
  describe(`kjv-mini on the ${backendName} backend`, () => {
    let backend: Backend;
    let model: GPT2Model;
    beforeAll(() => {
      backend = makeBackend();
      model = GPT2Model.fromCheckpoint(loadCheckpoint(KJV_MODEL_DIR), backend);
    });
    afterAll(() => backend.dispose());

    it('matches the PyTorch logits at every prompt position and on the full last row', () => {
      for (const p of ref.prompts) {
        const logits = allLogits(model, p.tokens);
        p.sampledLogits.forEach((expected, pos) => {
          const got = ref.sampledIds.map((id) => logits[pos * V + id]);
          expect(maxAbsDiff(got, expected), `${p.name} position ${pos}`).toBeLessThanOrEqual(TOL);
          expect(backend.argmax(logits.subarray(pos * V, (pos + 1) * V), V), `${p.name} position ${pos} top-1`).toBe(p.top5[pos][0]);
        });
        expect(maxAbsDiff(logits.subarray((p.tokens.length - 1) * V), p.lastLogits), `${p.name} last row`).toBeLessThanOrEqual(TOL);
      }
    });

    it('continues every prompt greedily like PyTorch', () => {
      for (const p of ref.prompts) {
        const seq = new SingleSequence(model, { maxLen: p.tokens.length + ref.greedySteps });
        let logits = seq.prefill(p.tokens);
        const out: number[] = [];
        for (let i = 0; i < ref.greedySteps; i++) {
          out.push(backend.argmax(logits, V));
          if (i + 1 < ref.greedySteps) logits = seq.step(out[i]);
        }
        expect(out, p.name).toEqual(p.greedy.tokens);
      }
    });

  });
}

describe('kjv-mini on held-out scripture', () => {
  const tok = GPT2Tokenizer.fromDir(KJV_MODEL_DIR);
  const heldout = kjvHeldoutText();

  // One backend suffices for the loss (the logits are compared on each above): native when built.
  it('has the held-out loss PyTorch computed, far below the unigram baseline', () => {
    const h = ref.heldout;
    const tokens = tok.encode(heldout);
    const backend = createBackend({ backend: 'auto' });
    let sum = 0;
    let count = 0;
    let top1 = 0;
    try {
      const model = GPT2Model.fromCheckpoint(loadCheckpoint(KJV_MODEL_DIR), backend);
      for (let w = 0; w < h.testWindows; w++) {
        const win = tokens.slice(w * h.windowTokens, (w + 1) * h.windowTokens);
        const r = windowNll(allLogits(model, win), win);
        sum += r.sum;
        count += r.count;
        top1 += r.top1;
      }
    } finally {
      backend.dispose();
    }
    const loss = sum / count;
    expect(count).toBe(h.testWindows * (h.windowTokens - 1));
    expect(Math.abs(loss - h.testLoss)).toBeLessThan(1e-4);
    // A trained model, not a frequency table: over 1 nat/token (e x perplexity) better, and its
    // greedy choice of the next held-out token is right several times as often.
    expect(loss).toBeLessThan(h.testUnigramLoss - 1);
    expect(Math.abs(top1 - h.testTop1)).toBeLessThanOrEqual(2); // near-ties may flip between f32 and f64
    expect(top1).toBeGreaterThan(2 * h.testUnigramTop1);
  });

  it('records in its model card the held-out loss and perplexity that PyTorch recomputes', () => {
    const card = readFileSync(join(KJV_MODEL_DIR, 'README.md'), 'utf8');
    const m = /held-out loss \| \*\*([0-9.]+)\*\* nats\/token \(perplexity ([0-9.]+)\)/.exec(card);
    expect(m, 'model card held-out loss line').not.toBeNull();
    const [cardLoss, cardPpl] = [Number(m![1]), Number(m![2])];
    // The card's figure comes from float32 training code, the reference from float64.
    expect(Math.abs(cardLoss - ref.heldout.loss)).toBeLessThan(2e-3);
    expect(Math.abs(cardPpl - Math.exp(cardLoss))).toBeLessThan(0.01 * cardPpl);
    expect(ref.heldout.loss).toBeLessThan(ref.heldout.unigramLoss - 1);
  });

  it('continues a held-out verse prefix with the words the verse really has', () => {
    // James 4:10, never trained on: "Humble yourselves in the sight of the Lord, and he shall lift you up."
    const p = ref.prompts.find((q) => q.name === 'heldout-humble')!;
    const verse = heldout.split('\n').find((v) => v.startsWith(p.text))!;
    expect(verse).toBeDefined();
    const words = (s: string) => s.trim().split(/\s+/);
    expect(words(tok.decode(p.greedy.tokens)).slice(0, 2)).toEqual(words(verse.slice(p.text.length)).slice(0, 2));
  });
});
