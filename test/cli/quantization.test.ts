/**
 * `--quantization` and `--quantize-lm-head` on the CLI: generate and info with each scheme, info's
 * scheme and bytes per layer, `bench throughput --compare`, one OpenAI-client request to a server
 * over a quantized engine, and one-line errors naming the choices.
 */
import { stripVTControlCharacters } from 'node:util';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { AsyncLLM } from '../../src/engine/async-llm.js';
import { LLM } from '../../src/engine/llm.js';
import { buildApp } from '../../src/server/app.js';
import { startServer } from '../../src/server/serve.js';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { expectOneLineError, runCli, runJson, runMany } from './run-cli.js';

const model = fixtureModelDir('tiny-gpt2-a');

interface Info {
  quantization: string | null;
  layers: number;
  inputScaling: { matrix: string; method: string; alpha: number }[];
  lmHeadQuantized: boolean;
  layerBytes: number;
  hiddenSize: number;
  innerSize: number;
  dtype: string;
}

describe('--quantization on the CLI', () => {
  it('info shows the scheme and the bytes per layer', async () => {
    const [plain, int8, wo, q4head] = await Promise.all([
      runJson<Info>(['info', '--model', model]),
      runJson<Info>(['info', '--model', model, '--quantization', 'int8']),
      runJson<Info>(['info', '--model', model, '--quantization', 'int8-wo']),
      runJson<Info>(['info', '--model', model, '--quantization', 'q4', '--quantize-lm-head']),
    ]);
    const C = plain.hiddenSize;
    const I = plain.innerSize;
    // Packed panels pad each matrix's n up to the SIMD path's panel width (at most 64 columns here),
    // so each count is exact up to 63 padded columns of k values per matrix (k: C, C, C, I).
    const matmulValues = 4 * C * C + 2 * C * I;
    const padValues = 63 * (3 * C + I);
    const vectors = 4 * C + 3 * C + C + I + C; // 2 norms x (gamma, beta), biases of c_attn, c_proj, c_fc, mlp c_proj
    const within = (bytes: number, exact: number, pad: number): void => {
      expect(bytes).toBeGreaterThanOrEqual(exact);
      expect(bytes).toBeLessThanOrEqual(exact + pad);
    };
    expect(plain.quantization).toBeNull();
    within(plain.layerBytes, 4 * (matmulValues + vectors), 4 * padValues);
    // int8-wo: one byte per weight and one f32 scale per output column; W8A8 may keep a 4-byte
    // correction per column besides (the native kernels' column sums).
    const columns = 3 * C + C + I + C;
    const padColumns = 4 * 63;
    expect(wo.quantization).toBe('int8-wo');
    expect(wo.dtype).toBe('bf16');
    within(wo.layerBytes, matmulValues + 4 * columns + 4 * vectors, padValues + 4 * padColumns);
    expect(int8.quantization).toBe('int8');
    within(int8.layerBytes, matmulValues + 4 * columns + 4 * vectors, padValues + 8 * padColumns + 4 * columns);
    expect(q4head.lmHeadQuantized).toBe(true);
    expect(q4head.layerBytes).toBeLessThan(int8.layerBytes * 0.6);
    // Calibration: SmoothQuant on int8's c_attn and c_fc, the searched scales on the weight-only
    // schemes' (and on a quantized lm_head, the tied wte); none unquantized.
    expect(plain.inputScaling).toEqual([]);
    expect(int8.inputScaling.map((s) => s.matrix)).toEqual(Array.from({ length: int8.layers }, (_, l) => [`h.${l}.attn.c_attn.weight`, `h.${l}.mlp.c_fc.weight`]).flat());
    expect(int8.inputScaling.every((s) => s.method === 'smoothquant' && s.alpha === 0.5)).toBe(true);
    expect(wo.inputScaling).toHaveLength(2 * wo.layers);
    expect(wo.inputScaling.every((s) => s.method === 'activation-aware' && [0, 0.25, 0.5, 0.75, 1].includes(s.alpha))).toBe(true);
    expect(q4head.inputScaling.map((s) => s.matrix).at(-1)).toBe('wte.weight');
    expect(q4head.inputScaling).toHaveLength(2 * q4head.layers + 1);
    const text = await runCli(['info', '--model', model, '--quantization', 'int8-wo']);
    expect(text.stdout).toMatch(/quantization +int8-wo/);
    const asStored = await runJson<Info>(['info', '--model', model, '--quantization', 'q4', '--no-activation-aware']);
    expect(asStored.inputScaling).toEqual([]);
    expect(text.stdout).toMatch(/calibration +activation-aware scales(: none gained enough, all \d+ matrices| on \d+ of \d+ matrices) after norms/);
    expect(text.stdout).toMatch(/weight memory +[\d.]+ MiB \([\d.]+ KiB per layer; int8-wo layers, bf16 lm_head\)/);
  });

  it('generate runs with each scheme', async () => {
    const outs = await runMany(
      ['int8', 'int8-wo', 'q4'].map((q) => ['generate', 'Hello there', '--model', model, '--quantization', q, '--max-tokens', '3', '--ignore-eos', '--json']),
    );
    for (const o of outs) {
      expect(o.code).toBe(0);
      expect((JSON.parse(o.stdout) as { outputs: { tokenIds: number[] }[] }).outputs[0]!.tokenIds).toHaveLength(3);
    }
  });

  it('bench throughput --compare runs the unquantized weights and each scheme, with ratios', async () => {
    interface Compare {
      config: { rounds: number; numPrompts: number };
      rows: { label: string; quantization: string | null; lmHeadQuantized: boolean; outputTokPerS: number[]; median: number; ratios: number[]; vsBaseline: number }[];
    }
    const r = await runJson<Compare>([
      'bench', 'throughput', '--model', model, '--dtype', 'bf16', '--compare', 'int8', 'q4', '--quantize-lm-head',
      '--rounds', '3', '--num-prompts', '3', '--input-len', '8', '--output-len', '4', '--threads', '1', '--json',
    ]);
    expect(r.config).toMatchObject({ rounds: 3, numPrompts: 3 });
    expect(r.rows.map((x) => x.quantization)).toEqual([null, 'int8', 'q4']);
    expect(r.rows.map((x) => x.lmHeadQuantized)).toEqual([false, true, true]);
    for (const row of r.rows) {
      expect(row.outputTokPerS).toHaveLength(3);
      expect(row.median).toBeGreaterThan(0);
      expect(row.ratios).toEqual(row.outputTokPerS.map((v, i) => v / r.rows[0]!.outputTokPerS[i]!));
      expect([...row.ratios].sort((a, b) => a - b)).toContain(row.vsBaseline); // the median of an odd count
    }
  });

  it('rejects an unknown scheme, and --quantize-lm-head without one, in one line', async () => {
    const [bad, headOnly, bench] = await runMany([
      ['generate', 'Hello', '--model', model, '--quantization', 'fp8'],
      ['generate', 'Hello', '--model', model, '--quantize-lm-head'],
      ['bench', 'accuracy', '--quantization', 'int4'],
    ]);
    expect(expectOneLineError(bad!)).toMatch(/--quantization <scheme>.*'fp8' is invalid.*int8, int8-wo, q4, none/);
    expect(expectOneLineError(headOnly!)).toMatch(/quantizeLmHead.*needs a quantization scheme/);
    expect(expectOneLineError(bench!)).toMatch(/'int4' is invalid.*int8, int8-wo, q4/);
  });
});

describe('the worker-backed engine', () => {
  it('quantizes in its worker as the in-process engine does', async () => {
    const opts = { model, threads: 1, quantization: 'q4' as const, quantizeLmHead: true };
    const [worker, local] = await Promise.all([AsyncLLM.create(opts), LLM.create(opts)]);
    try {
      const ids = async (e: AsyncLLM) => {
        const out: number[] = [];
        for await (const o of e.generate('Once upon a time', { temperature: 0, maxTokens: 6, ignoreEos: true }, 'r1')) out.push(...o.outputs[0]!.tokenIds);
        return out;
      };
      const [a, b] = [await ids(worker), await ids(local)];
      expect(a).toHaveLength(6);
      expect(a).toEqual(b);
    } finally {
      await Promise.all([worker.shutdown(), local.shutdown()]);
    }
  });
});

describe('tinyvllm serve', () => {
  it('passes --quantization to its engine: logprobs are the quantized model\'s', async () => {
    const lines: string[] = [];
    const server = await startServer({ model, threads: 1, port: 0, quantization: 'q4', ui: false, log: (l) => lines.push(l) });
    const [q4, plain] = await Promise.all([LLM.create({ model, threads: 1, quantization: 'q4' }), LLM.create({ model, threads: 1 })]);
    try {
      await server.ready;
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const got = await client.completions.create({ model, prompt: 'The harbour was quiet', max_tokens: 1, temperature: 0, logprobs: 1 });
      const lp = (e: LLM) => e.generate(['The harbour was quiet'], { temperature: 0, maxTokens: 1, logprobs: 1 }, { progress: false }).then((o) => o[0]!.outputs[0]!.logprobs![0]!.logprob);
      const [want, unquantized] = [await lp(q4), await lp(plain)];
      const served = got.choices[0]!.logprobs!.token_logprobs![0]!;
      expect(served).toBeCloseTo(want, 5);
      expect(Math.abs(served - unquantized)).toBeGreaterThan(1e-4);
      expect(stripVTControlCharacters(lines.join('\n'))).toMatch(/weights +q4/);
    } finally {
      await Promise.all([server.close(), q4.shutdown(), plain.shutdown()]);
    }
  });
});

describe('the server over a quantized engine', () => {
  it('answers a completion through the OpenAI client as the offline engine does', async () => {
    const llm = await LLM.create({ model, threads: 1, quantization: 'int8' });
    const app = buildApp(llm, { modelName: 'tiny' });
    try {
      const url = await app.fastify.listen({ host: '127.0.0.1', port: 0 });
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const got = await client.completions.create({ model: 'tiny', prompt: 'The harbour was quiet', max_tokens: 6, temperature: 0 });
      const [want] = await llm.generate(['The harbour was quiet'], { temperature: 0, maxTokens: 6 }, { progress: false });
      expect(got.choices[0]!.text).toBe(want!.outputs[0]!.text);
      expect(got.usage!.completion_tokens).toBe(want!.outputs[0]!.tokenIds.length);
    } finally {
      await app.close(1000);
      await llm.shutdown();
    }
  });
});
