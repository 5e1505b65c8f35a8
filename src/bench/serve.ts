/**
 * Serving benchmark in the manner of `vllm bench serve`: start a server (or target `--base-url`),
 * send `numPrompts` random-token prompts as streaming /v1/completions requests, arriving as a Poisson
 * process at `requestRate` per second (or all at once), at most `maxConcurrency` in flight; report
 * throughput and TTFT / TPOT / ITL / end-to-end latency (mean, median, p99).
 *
 *   npm run bench:serve -- --model gpt2 --num-prompts 64 --request-rate 8
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Table from 'cli-table3';
import pc from 'picocolors';
import { AsyncLLM } from '../engine/async-llm.js';
import type { EngineOptions } from '../engine/engine-client.js';
import { startServer } from '../server/serve.js';
import { Rng } from '../engine/rng.js';
import { randomPrompts } from './report.js';

export interface ServeBenchOptions {
  /** Target an already running server; otherwise one is started with `engine`. */
  baseUrl?: string;
  /** Engine settings for the server started here (`model` at least). */
  engine?: EngineOptions;
  /** The `model` field sent; defaults to the server's first model. */
  servedModelName?: string;
  apiKey?: string;
  numPrompts?: number;
  inputLen?: number;
  outputLen?: number;
  /** Requests per second (Poisson arrivals); Infinity sends them all at once. */
  requestRate?: number;
  maxConcurrency?: number;
  seed?: number;
  /**
   * Prompt token ids are drawn from [0, vocabSize - 1), skipping GPT-2's <|endoftext|> (50256).
   * Default: the model's vocabulary for a server started here, GPT-2's (50257) for `baseUrl`.
   */
  vocabSize?: number;
  /** Where the JSON goes (default bench-results/serve.json); null to skip. */
  resultFile?: string | null;
  /** Progress and table on stderr/stdout (default true). */
  print?: boolean;
}

export interface LatencySummary {
  mean: number;
  median: number;
  p99: number;
}

export interface ServeBenchResult {
  config: Required<Pick<ServeBenchOptions, 'numPrompts' | 'inputLen' | 'outputLen' | 'seed'>> & {
    requestRate: number | 'inf';
    maxConcurrency: number | null;
    baseUrl: string;
    model: string;
    /** The started server's resolved KV cache precision (null for a server given by baseUrl). */
    kvCacheDtype: string | null;
  };
  completed: number;
  failed: number;
  durationS: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  /** All latencies in milliseconds. */
  ttftMs: LatencySummary;
  tpotMs: LatencySummary;
  itlMs: LatencySummary;
  e2elMs: LatencySummary;
  errors: string[];
}

interface RequestResult {
  ok: boolean;
  error?: string;
  ttft: number;
  itl: number[];
  latency: number;
  outputTokens: number;
}

/** numpy-style percentile (linear interpolation) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * (p / 100);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(values: readonly number[]): LatencySummary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
  return { mean, median: percentile(s, 50), p99: percentile(s, 99) };
}

/** One streaming completion; times the first token and every later chunk. */
async function streamCompletion(url: string, body: object, apiKey: string | undefined): Promise<RequestResult> {
  const start = performance.now();
  const result: RequestResult = { ok: false, ttft: 0, itl: [], latency: 0, outputTokens: 0 };
  try {
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify(body),
    });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const decoder = new TextDecoder();
    let buffer = '';
    let last = start;
    for await (const bytes of res.body) {
      buffer += decoder.decode(bytes as Uint8Array, { stream: true });
      let sep: number;
      while ((sep = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, sep).replace(/^data: /, '');
        buffer = buffer.slice(sep + 2);
        if (event === '[DONE]') continue;
        const chunk = JSON.parse(event) as { choices?: { text?: string }[]; usage?: { completion_tokens: number } | null; error?: { message: string } };
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) result.outputTokens = chunk.usage.completion_tokens;
        if (!chunk.choices?.some((c) => c.text)) continue;
        const now = performance.now();
        if (result.ttft === 0) result.ttft = now - start;
        else result.itl.push(now - last);
        last = now;
      }
    }
    result.latency = performance.now() - start;
    result.ok = true;
  } catch (e) {
    result.error = (e as Error).message;
  }
  return result;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runServeBench(opts: ServeBenchOptions): Promise<ServeBenchResult> {
  const numPrompts = opts.numPrompts ?? 100;
  const inputLen = opts.inputLen ?? 128;
  const outputLen = opts.outputLen ?? 128;
  const rate = opts.requestRate ?? Infinity;
  const seed = opts.seed ?? 0;
  const print = opts.print ?? true;
  if (!opts.baseUrl && !opts.engine) throw new Error('runServeBench: give baseUrl or engine options');

  const server = opts.baseUrl
    ? null
    : await startServer({ ...opts.engine!, port: 0, handleSignals: false, apiKey: opts.apiKey, log: print ? undefined : () => {} });
  try {
    const url = (opts.baseUrl ?? server!.url).replace(/\/+$/, '').replace(/\/v1$/, '');
    const engine = server ? await server.ready : null;
    const kvCacheDtype = engine instanceof AsyncLLM ? engine.engineConfig.kvCacheDtype : null;
    const headers = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : undefined;
    const models = (await (await fetch(`${url}/v1/models`, { headers })).json()) as { data: { id: string }[] };
    const model = opts.servedModelName ?? models.data[0]!.id;

    const random = new Rng(seed);
    // A server started here knows its model's vocabulary; one given by URL is assumed GPT-2's unless told.
    const vocabSize = opts.vocabSize ?? (engine instanceof AsyncLLM ? engine.modelConfig.vocabSize : undefined);
    const prompts = randomPrompts(numPrompts, inputLen, random, vocabSize);
    const body = (prompt: number[]): object => ({
      model, prompt, max_tokens: outputLen, temperature: 0, ignore_eos: true, stream: true,
      stream_options: { include_usage: true },
    });

    let inFlight = 0;
    const slotFreed: (() => void)[] = [];
    const limit = opts.maxConcurrency ?? Infinity;
    const results: Promise<RequestResult>[] = [];
    const start = performance.now();
    for (const prompt of prompts) {
      while (inFlight >= limit) await new Promise<void>((r) => slotFreed.push(r));
      inFlight++;
      results.push(
        streamCompletion(url, body(prompt), opts.apiKey).finally(() => {
          inFlight--;
          slotFreed.shift()?.();
        }),
      );
      // Exponential inter-arrival times make a Poisson process.
      if (Number.isFinite(rate)) await sleep((-Math.log(1 - random.nextFloat()) / rate) * 1000);
    }
    const done = await Promise.all(results);
    const durationS = (performance.now() - start) / 1000;

    const ok = done.filter((r) => r.ok);
    const outputTokens = ok.reduce((s, r) => s + r.outputTokens, 0);
    const result: ServeBenchResult = {
      config: { numPrompts, inputLen, outputLen, seed, requestRate: Number.isFinite(rate) ? rate : 'inf', maxConcurrency: opts.maxConcurrency ?? null, baseUrl: url, model, kvCacheDtype },
      completed: ok.length,
      failed: done.length - ok.length,
      durationS,
      totalInputTokens: ok.length * inputLen,
      totalOutputTokens: outputTokens,
      requestThroughput: ok.length / durationS,
      outputThroughput: outputTokens / durationS,
      totalTokenThroughput: (outputTokens + ok.length * inputLen) / durationS,
      ttftMs: summarize(ok.map((r) => r.ttft)),
      tpotMs: summarize(ok.filter((r) => r.outputTokens > 1).map((r) => (r.latency - r.ttft) / (r.outputTokens - 1))),
      itlMs: summarize(ok.flatMap((r) => r.itl)),
      e2elMs: summarize(ok.map((r) => r.latency)),
      errors: [...new Set(done.filter((r) => !r.ok).map((r) => r.error ?? 'unknown'))].slice(0, 5),
    };
    const file = opts.resultFile === undefined ? 'bench-results/serve.json' : opts.resultFile;
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    }
    if (print) process.stdout.write(`${formatServeBench(result)}\n${file ? pc.dim(`results written to ${file}\n`) : ''}`);
    return result;
  } finally {
    await server?.close();
  }
}

/** The result as a table, like vllm bench serve's summary. */
export function formatServeBench(r: ServeBenchResult): string {
  const t = new Table({ head: [pc.bold('Serving benchmark'), ''], style: { head: [], border: [], compact: true } });
  const f = (x: number, d = 2): string => x.toFixed(d);
  t.push(
    ['Successful requests', String(r.completed)],
    ['Failed requests', String(r.failed)],
    ['Request rate (req/s)', String(r.config.requestRate)],
    ['Max concurrency', String(r.config.maxConcurrency ?? '-')],
    ['KV cache dtype', r.config.kvCacheDtype ?? '-'],
    ['Benchmark duration (s)', f(r.durationS)],
    ['Total input tokens', String(r.totalInputTokens)],
    ['Total generated tokens', String(r.totalOutputTokens)],
    ['Request throughput (req/s)', f(r.requestThroughput)],
    ['Output token throughput (tok/s)', f(r.outputThroughput)],
    ['Total token throughput (tok/s)', f(r.totalTokenThroughput)],
  );
  for (const [name, s] of [['TTFT', r.ttftMs], ['TPOT', r.tpotMs], ['ITL', r.itlMs], ['E2E latency', r.e2elMs]] as const) {
    t.push([`${name} mean / median / p99 (ms)`, `${f(s.mean)} / ${f(s.median)} / ${f(s.p99)}`]);
  }
  const errors = r.errors.length ? `\n${pc.red('errors:')} ${r.errors.join('; ')}` : '';
  return t.toString() + errors;
}
