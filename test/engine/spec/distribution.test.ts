/**
 * Speculative sampling keeps the output distribution: over many seeded requests, the first three
 * generated tokens of a small synthetic model (258-token vocabulary, top-k 4) must fit the exact
 * joint distribution computed here in float64 from the model's logits (chi-square goodness of fit).
 * The prompt is the model's own greedy loop, so the drafts are plausible and many get accepted:
 * a verifier that accepted too much or resampled wrongly would shift the joint distribution.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticCheckpoint } from '../../../src/bench/synthetic.js';
import { LLM } from '../../../src/engine/llm.js';
import { loadModel, type LoadedModel } from '../../../src/model/load.js';
import { SingleSequence } from '../../../src/model/single-sequence.js';
import { referenceGreedy } from '../../helpers/engine.js';

const TOP_K = 4;
const N = 3000;
const TOKENS = 3;

let dir: string;
let loaded: LoadedModel;
let prompt: number[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-spec-dist-'));
  writeSyntheticCheckpoint(dir, { nLayer: 1, nHead: 2, nEmbd: 32, nPositions: 64, vocabSize: 258, dtype: 'f32', seed: 3 });
  loaded = await loadModel(dir, { backend: 'reference' });
  const start = [65, 66, 67];
  prompt = [...start, ...referenceGreedy(loaded.model, start, 12)];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** P(next | context) after top-k (ties to the lower id) and softmax, in float64. */
function nextProbs(context: number[]): Map<number, number> {
  const V = loaded.model.config.vocabSize;
  const logits = new SingleSequence(loaded.model).prefill(context);
  const ids = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, TOP_K);
  const m = logits[ids[0]!]!;
  const w = ids.map((i) => Math.exp(logits[i]! - m));
  const z = w.reduce((a, b) => a + b, 0);
  return new Map(ids.map((id, j) => [id, w[j]! / z]));
}

/** The exact joint distribution of the first `n` generated tokens, keyed by their ids joined. */
function joint(context: number[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  if (n === 0) return new Map([['', 1]]);
  for (const [id, p] of nextProbs(context)) {
    for (const [rest, q] of joint([...context, id], n - 1)) out.set(rest === '' ? `${id}` : `${id},${rest}`, p * q);
  }
  return out;
}

/** Upper 0.1 % point of chi-square with `dof` degrees of freedom (Wilson–Hilferty). */
function chi2Critical(dof: number): number {
  const a = 2 / (9 * dof);
  return dof * (1 - a + 3.09 * Math.sqrt(a)) ** 3;
}

describe.each([
  ['ngram', { method: 'ngram', num_speculative_tokens: 2, prompt_lookup_min: 1, prompt_lookup_max: 2, max_verify_tokens: 100000 }],
  ['draft_model (the model drafting for itself)', { method: 'draft_model', model: '(self)', num_speculative_tokens: 2, max_verify_tokens: 100000 }],
] as const)('sampling with %s speculation', (_name, speculativeConfig) => {
  it(`matches the exact distribution of ${TOKENS} tokens over ${N} seeds (chi-square)`, async () => {
    const llm = LLM.fromModel(loaded.model, loaded.tokenizer, { speculativeConfig, maxNumSeqs: 512 }, loaded.model);
    const params = Array.from({ length: N }, (_, seed) => ({ temperature: 1, topK: TOP_K, seed, maxTokens: TOKENS, ignoreEos: true }));
    const outs = await llm.generate(Array.from({ length: N }, () => ({ promptTokenIds: prompt })), params);
    const spec = (await llm.stats()).specDecode!;
    expect(spec.numAcceptedTokens).toBeGreaterThan(N / 10);
    expect(spec.numAcceptedTokens).toBeLessThan(spec.numDraftTokens);

    const counts = new Map<string, number>();
    for (const o of outs) {
      const key = o.outputs[0]!.tokenIds.join();
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const probs = joint(prompt, TOKENS);
    for (const key of counts.keys()) expect(probs.has(key), `drew ${key}, which has probability 0`).toBe(true);
    // Cells expecting fewer than 5 draws are pooled into one.
    let chi2 = 0;
    let cells = 0;
    let poolP = 0;
    let poolN = 0;
    for (const [key, p] of probs) {
      const c = counts.get(key) ?? 0;
      if (N * p < 5) {
        poolP += p;
        poolN += c;
        continue;
      }
      chi2 += (c - N * p) ** 2 / (N * p);
      cells++;
    }
    if (poolP > 0) {
      chi2 += (poolN - N * poolP) ** 2 / (N * poolP);
      cells++;
    }
    expect(cells).toBeGreaterThan(5);
    expect(chi2).toBeLessThan(chi2Critical(cells - 1));
  });
});
