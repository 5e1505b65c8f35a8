import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { expectPlain, runCli, runJson, type CliResult } from './run-cli.js';

// The PyTorch reference's greedy continuations (full recompute per step) are the oracle for tokens;
// js-tiktoken decodes them into the expected text.
const r50k = getEncoding('r50k_base');
const ref = loadReference('tiny-gpt2-a');
const prompt = (name: string) => ref.prompts.find((p) => p.name === name)!;
const hello = prompt('hello-world');
const single = prompt('single-token');
const eos = prompt('eos-prefixed');
const harbour = prompt('harbour');
const STEPS = ref.greedySteps;

interface Completion {
  index: number;
  text: string;
  tokenIds: number[];
  finishReason: string | null;
}

interface StreamJson {
  prompt: string;
  promptTokenIds: number[];
  outputs: Completion[];
  usage: { promptTokens: number; completionTokens: number };
  tokensPerSecond: number;
  kvCache: KvCache;
}

interface KvCache {
  dtype: string;
  blocks: number;
  bytes: number;
}

interface BatchJson {
  results: { prompt: string | null; promptTokenIds: number[]; outputs: Completion[] }[];
  usage: { promptTokens: number; completionTokens: number };
  kvCache: KvCache;
}

let dir: string;
let greedy: StreamJson;
let stopped: StreamJson;
let streamed: CliResult;
let lines: BatchJson;
let jsonl: BatchJson;
let nearContext: StreamJson;
let budgeted: StreamJson;

beforeAll(async () => {
  const model = fixtureModelDir('tiny-gpt2-a');
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-cli-prompts-'));
  const txt = join(dir, 'prompts.txt');
  writeFileSync(txt, `${hello.text}\n${single.text}\n\n${harbour.text}\n`);
  const jl = join(dir, 'prompts.jsonl');
  writeFileSync(jl, [JSON.stringify(harbour.text), JSON.stringify({ prompt_token_ids: eos.tokens }), JSON.stringify({ prompt: hello.text })].join('\n'));
  const greedyFlags = ['--max-tokens', String(STEPS), '--ignore-eos', '--model', model];
  [greedy, stopped, streamed, lines, jsonl, nearContext, budgeted] = await Promise.all([
    runJson<StreamJson>(['generate', hello.text, ...greedyFlags]),
    runJson<StreamJson>(['generate', hello.text, '--stop', ' 250', '--top-k', '1', '--seed', '3', '-t', '0.7', ...greedyFlags]),
    runCli(['generate', single.text, '--max-tokens', '8', '--ignore-eos', '--model', model]),
    runJson<BatchJson>(['generate', '--prompts-file', txt, ...greedyFlags]),
    // A tight step budget and few sequences: chunked prefill and queueing must not change greedy output.
    runJson<BatchJson>(['generate', '--prompts-file', jl, '--max-num-seqs', '2', '--max-num-batched-tokens', '16', ...greedyFlags]),
    // No --max-tokens: the default (64) shrinks to the 3 tokens the context leaves.
    runJson<StreamJson>(['generate', hello.text, '--max-model-len', String(hello.tokens.length + 3), '--ignore-eos', '--model', model]),
    runJson<StreamJson>(['generate', single.text, '--max-tokens', '2', '--kv-cache-memory', '1MiB', '--model', model]),
  ]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tinyvllm generate', () => {
  it('--json greedy tokens equal the reference continuation', () => {
    expect(greedy.promptTokenIds).toEqual(hello.tokens);
    expect(greedy.outputs).toHaveLength(1);
    expect(greedy.outputs[0].tokenIds).toEqual(hello.greedy.tokens);
    expect(greedy.outputs[0].text).toBe(r50k.decode([...hello.greedy.tokens]));
    expect(greedy.outputs[0].finishReason).toBe('length');
    expect(greedy.usage).toEqual({ promptTokens: hello.tokens.length, completionTokens: STEPS });
    expect(greedy.tokensPerSecond).toBeGreaterThan(0);
  });

  it('passes sampling flags to the engine: --top-k 1 is greedy at any temperature, --stop cuts the text', () => {
    const full = r50k.decode([...hello.greedy.tokens]);
    expect(full.indexOf(' 250')).toBeGreaterThan(0);
    expect(stopped.outputs[0].text).toBe(full.slice(0, full.indexOf(' 250')));
    expect(stopped.outputs[0].finishReason).toBe('stop');
  });

  it('streams the prompt and continuation to stdout and the speed to stderr', () => {
    expect(streamed.code).toBe(0);
    expectPlain(streamed.stdout + streamed.stderr);
    expect(streamed.stdout).toBe(`${single.text}${r50k.decode(single.greedy.tokens.slice(0, 8))}\n`);
    expect(streamed.stderr).toMatch(/^8 tokens in \d+\.\d+ s · \d+\.\d tokens\/s · first token \d+ ms · finish length\n$/);
  });

  it('--prompts-file (one per line) returns each prompt greedy continuation in input order', () => {
    const expected = [hello, single, harbour];
    expect(lines.results.map((r) => r.prompt)).toEqual(expected.map((p) => p.text));
    expect(lines.results.map((r) => r.promptTokenIds)).toEqual(expected.map((p) => p.tokens));
    expect(lines.results.map((r) => r.outputs[0].tokenIds)).toEqual(expected.map((p) => p.greedy.tokens));
    expect(lines.usage.completionTokens).toBe(3 * STEPS);
  });

  it('--prompts-file (JSONL strings, prompts and token ids) returns results in input order', () => {
    const expected = [harbour, eos, hello];
    expect(jsonl.results.map((r) => r.prompt)).toEqual([harbour.text, null, hello.text]);
    expect(jsonl.results.map((r) => r.promptTokenIds)).toEqual(expected.map((p) => p.tokens));
    expect(jsonl.results.map((r) => r.outputs[0].tokenIds)).toEqual(expected.map((p) => p.greedy.tokens));
    expect(jsonl.results[2].outputs[0].tokenIds).toEqual(greedy.outputs[0].tokenIds);
  });

  it('without --max-tokens, generates up to the context and stops with finish reason length', () => {
    expect(nearContext.outputs[0].tokenIds).toEqual(hello.greedy.tokens.slice(0, 3));
    expect(nearContext.outputs[0].finishReason).toBe('length');
  });

  it('sizes the KV cache to the run: its sequences at full context, unless --kv-cache-memory is given', () => {
    // tiny-gpt2-a: 2 layers × 64 dims × K and V × 4 bytes = 1 KiB per token; 256-token context = 16 blocks of 16.
    const blocksPerSeq = ref.spec.nPositions / 16;
    const bytesPerBlock = 16 * 2 * ref.spec.nLayer * ref.spec.nEmbd * 4;
    // One sequence, plus the reserved null block.
    expect(greedy.kvCache).toEqual({ dtype: 'f32', blocks: blocksPerSeq + 1, bytes: (blocksPerSeq + 1) * bytesPerBlock });
    // Three prompts in the file.
    expect(lines.results).toHaveLength(3);
    expect(lines.kvCache.blocks).toBe(3 * blocksPerSeq + 1);
    // A given budget is what is allocated (1 MiB = 64 blocks here, more than one sequence needs).
    expect(budgeted.kvCache.blocks).toBe((1 << 20) / bytesPerBlock);
  });
});
