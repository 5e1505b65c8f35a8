/**
 * The draft-model proposer: greedy output unchanged across batch sizes, chunking, prefix caching and
 * preemption; after every rejection its K/V is rolled back, so each step's drafts equal the draft
 * model's own greedy continuation of the sequence computed from scratch (the oracle).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { EngineOptions } from '../../../src/engine/engine-client.js';
import { LLM } from '../../../src/engine/llm.js';
import type { CausalLM } from '../../../src/model/model.js';
import { loadModel } from '../../../src/model/load.js';
import type { GPT2Tokenizer } from '../../../src/tokenizer/index.js';
import { KJV_MODEL_DIR } from '../../helpers/kjv-mini.js';
import { randomPrompts, referenceGreedy, tinyModel, tokensOf } from '../../helpers/engine.js';

const DRAFT = { method: 'draft_model', model: 'tiny-gpt2-b', num_speculative_tokens: 3, max_verify_tokens: 64 } as const;
const GREEDY = { temperature: 0, ignoreEos: true, maxTokens: 16 } as const;
const PROMPTS = randomPrompts([3, 9, 17, 30, 6], 5);

let target: CausalLM;
let draft: CausalLM;
let tokenizer: GPT2Tokenizer;
let plain: number[][];

beforeAll(async () => {
  ({ model: target, tokenizer } = await tinyModel('tiny-gpt2-a'));
  draft = (await tinyModel('tiny-gpt2-b')).model;
  plain = PROMPTS.map((p) => referenceGreedy(target, p, GREEDY.maxTokens));
});

function engine(opts: Omit<EngineOptions, 'model'> = {}, d: CausalLM = draft): LLM {
  return LLM.fromModel(target, tokenizer, { speculativeConfig: DRAFT, ...opts }, d);
}

async function generate(llm: LLM, prompts = PROMPTS): Promise<number[][]> {
  return tokensOf(await llm.generate(prompts.map((p) => ({ promptTokenIds: p })), GREEDY));
}

/**
 * The target with its top token knocked out at every fifth position: a draft that agrees with the
 * target on most positions and disagrees on the rest, deterministically (so the oracle sees it too):
 * steps accept none, some, or all k drafts.
 */
function perturbed(m: CausalLM): CausalLM {
  const vocab = m.config.vocabSize;
  return {
    config: m.config,
    backend: m.backend,
    dtype: m.dtype,
    numParams: m.numParams,
    weightBytes: m.weightBytes,
    quantization: m.quantization,
    lmHeadQuantized: m.lmHeadQuantized,
    layerBytes: m.layerBytes,
    inputScaling: m.inputScaling,
    kvBytesPerToken: (dt) => m.kvBytesPerToken(dt),
    createKVCache: (n, bs, dt) => m.createKVCache(n, bs, dt),
    forward: (b, cache) => {
      const logits = m.forward(b, cache);
      b.logitRows.forEach((row, i) => {
        if (b.positions[row]! % 5 !== 1) return;
        const x = logits.subarray(i * vocab, (i + 1) * vocab);
        x[m.backend.argmax(x, vocab)] = -Infinity;
      });
      return logits;
    },
  };
}

/** Checks each step's drafts against the draft model's greedy continuation from scratch. */
function checkDrafts(llm: LLM): { steps: number } {
  const drafter = llm.core.drafter!;
  const propose = drafter.propose.bind(drafter);
  const seen = { steps: 0 };
  drafter.propose = (out) => {
    propose(out);
    for (const { seq, numSpec } of out.scheduled) {
      if (numSpec === 0) continue;
      const known = Array.from({ length: seq.numTokens }, (_, i) => seq.tokenAt(i));
      expect(seq.specTokens).toEqual(referenceGreedy(draft, known, numSpec));
      seen.steps++;
    }
  };
  return seen;
}

describe('draft_model speculation', () => {
  it('keeps greedy output unchanged and rolls the draft K/V back after rejections', async () => {
    draft = perturbed(target);
    const llm = engine();
    const seen = checkDrafts(llm);
    expect(await generate(llm)).toEqual(plain);
    const spec = (await llm.stats()).specDecode!;
    expect(seen.steps).toBeGreaterThan(10);
    // Rejections happened (so rollback was exercised), and some drafts were accepted.
    expect(spec.numAcceptedTokens).toBeGreaterThan(0);
    expect(spec.numAcceptedTokens).toBeLessThan(spec.numDraftTokens);
    expect(spec.acceptedPerPos[0]).toBeGreaterThan(spec.acceptedPerPos[2]!);
    expect(spec.acceptedPerPos[2]).toBeGreaterThan(0);
    draft = (await tinyModel('tiny-gpt2-b')).model;
  });

  it('accepts every draft when the model drafts for itself', async () => {
    const llm = engine({}, target);
    draft = target;
    const seen = checkDrafts(llm);
    expect(await generate(llm)).toEqual(plain);
    expect(seen.steps).toBeGreaterThan(5);
    draft = (await tinyModel('tiny-gpt2-b')).model;
    const spec = (await llm.stats()).specDecode!;
    expect(spec.numAcceptedTokens).toBe(spec.numDraftTokens);
  });

  it.each([
    ['one at a time', {}, 1],
    ['chunked prefill', { maxNumBatchedTokens: 7 }, 5],
    ['prefix caching off', { enablePrefixCaching: false }, 5],
  ] as const)('%s', async (_name, opts, n) => {
    const llm = engine(opts);
    for (let i = 0; i < PROMPTS.length; i += n) expect(await generate(llm, PROMPTS.slice(i, i + n))).toEqual(plain.slice(i, i + n));
    expect((await llm.stats()).specDecode!.numDraftTokens).toBeGreaterThan(0);
  });

  it('backs off while every draft is rejected (1, 2, 4 ... steps without drafting)', async () => {
    const llm = engine(); // tiny-gpt2-b never agrees with tiny-gpt2-a on these prompts
    expect(await generate(llm, PROMPTS.slice(0, 1))).toEqual(plain.slice(0, 1));
    const spec = (await llm.stats()).specDecode!;
    expect(spec.numAcceptedTokens).toBe(0);
    // 15 decode steps: drafts at steps 1, 3, 6, 11 (skipping 1, 2, 4 after each miss).
    expect(spec.numDrafts).toBe(4);
  });

  it('with prefix cache hits on repeated prompts', async () => {
    const llm = engine({ blockSize: 4 });
    for (let round = 0; round < 2; round++) expect(await generate(llm)).toEqual(plain);
    expect((await llm.stats()).prefixCacheHits).toBeGreaterThan(0);
  });

  it('under preemption with a tiny KV pool', async () => {
    // Per 4-token block: target 4 KiB + draft 9 KiB of K/V (f32).
    const llm = engine({ blockSize: 4, kvCacheMemory: 17 * 4 * (1024 + 2304) });
    expect(await generate(llm)).toEqual(plain);
    expect((await llm.stats()).numPreemptions).toBeGreaterThan(0);
    expect((await llm.stats()).numFreeBlocks).toBe((await llm.stats()).numBlocks);
  });

  it('rejects a missing draft model, and one with another vocabulary', async () => {
    expect(() => LLM.fromModel(target, tokenizer, { speculativeConfig: DRAFT }, null)).toThrow(/no draft model was loaded/);
    const kjv = await loadModel(KJV_MODEL_DIR, { backend: 'reference' });
    expect(() => engine({}, kjv.model)).toThrow(/vocabulary \(4096 tokens\) differs from the target's \(50257\)/);
  });
});
