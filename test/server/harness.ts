/** A real server on 127.0.0.1 (port 0) for the tests, with the official `openai` client pointed at it. */
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import { AsyncLLM } from '../../src/engine/async-llm.js';
import type { EngineClient, EngineOptions, PromptInput } from '../../src/engine/engine-client.js';
import { LLM } from '../../src/engine/llm.js';
import type { FinishReason, TokenLogprob } from '../../src/engine/outputs.js';
import type { SamplingParamsInit } from '../../src/engine/sampling-params.js';
import { buildApp, type AppOptions, type ServerApp } from '../../src/server/app.js';
import { fixtureModelDir } from '../helpers/fixtures.js';

export const MODEL = 'tiny-gpt2';
/** Independent GPT-2 tokenizer, the oracle for token counts. */
export const tiktoken = getEncoding('gpt2');

export interface TestServer {
  readonly url: string;
  readonly app: ServerApp;
  readonly engine: EngineClient;
  readonly client: OpenAI;
  close(): Promise<void>;
}

/** Engine settings for the tiny fixture model (real GPT-2 vocabulary, random weights). */
export const engineOptions = (): EngineOptions => ({ model: fixtureModelDir('tiny-gpt2-a', 'f32'), threads: 1 });

/** The real worker-backed engine on the fixture model. */
export function createEngine(opts: Partial<EngineOptions> = {}): Promise<AsyncLLM> {
  return AsyncLLM.create({ ...engineOptions(), ...opts });
}

let offline: Promise<LLM> | null = null;

/** The offline engine (in-process, no worker, no HTTP): the reference the server must reproduce. */
export function offlineLLM(): Promise<LLM> {
  offline ??= LLM.create(engineOptions());
  return offline;
}

/** A server over `engine`, or over a fresh AsyncLLM (closed with the server). */
export async function startTestServer(opts: Partial<AppOptions> = {}, engine?: EngineClient): Promise<TestServer> {
  const own = engine === undefined;
  const e = engine ?? (await createEngine());
  const app = buildApp(e, { modelName: MODEL, ...opts });
  const url = await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: opts.apiKey ?? 'unused', maxRetries: 0 });
  return {
    url, app, engine: e, client,
    close: async () => {
      await app.close(1000);
      if (own) await e.shutdown();
    },
  };
}

/** One sample's complete result. */
export interface Sample {
  text: string;
  tokenIds: number[];
  logprobs: TokenLogprob[] | null;
  finishReason: FinishReason | null;
}

/** Runs a request on the offline engine and returns each sample's full output. */
export async function runOffline(prompt: PromptInput, params: SamplingParamsInit): Promise<Sample[]> {
  const [out] = await (await offlineLLM()).generate(prompt, params, { progress: false });
  return out!.outputs.map((o) => ({ text: o.text, tokenIds: [...o.tokenIds], logprobs: o.logprobs ? [...o.logprobs] : null, finishReason: o.finishReason }));
}

export function postJson(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Parses a Prometheus text exposition into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  return parseMetrics(await res.text());
}

/** Polls `check` until it returns true (or fails after `timeoutMs`). */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
