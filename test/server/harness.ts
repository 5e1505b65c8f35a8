/** A real server on 127.0.0.1 (port 0) for the tests, with the official `openai` client pointed at it. */
import { getEncoding } from 'js-tiktoken';
import OpenAI from 'openai';
import type { EngineClient, PromptInput } from '../../src/engine/engine-client.js';
import type { FinishReason, TokenLogprob } from '../../src/engine/outputs.js';
import type { SamplingParamsInit } from '../../src/engine/sampling-params.js';
import { buildApp, type AppOptions, type ServerApp } from '../../src/server/app.js';
import { FakeEngine } from './fake-engine.js';

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

export interface EngineTestOptions {
  maxNumSeqs?: number;
}

export async function createEngine(_opts: EngineTestOptions = {}): Promise<EngineClient> {
  return new FakeEngine();
}

export async function startTestServer(opts: Partial<AppOptions> = {}, engine?: EngineClient): Promise<TestServer> {
  const own = engine === undefined;
  const e = engine ?? (await createEngine());
  const app = buildApp(e, { modelName: MODEL, ...opts });
  const url = await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: opts.apiKey ?? 'unused', maxRetries: 0 });
  return {
    url, app, engine: e, client,
    close: async () => {
      await app.fastify.close();
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

/** Runs a request straight on an engine (no HTTP) and assembles each sample's full output. */
export async function runOffline(engine: EngineClient, prompt: PromptInput, params: SamplingParamsInit): Promise<Sample[]> {
  const samples: Sample[] = [];
  for await (const out of engine.generate(prompt, params, `offline-${Math.random().toString(36).slice(2)}`)) {
    for (const o of out.outputs) {
      const s = (samples[o.index] ??= { text: '', tokenIds: [], logprobs: o.logprobs ? [] : null, finishReason: null });
      s.text += o.text;
      s.tokenIds.push(...o.tokenIds);
      if (o.logprobs) s.logprobs = [...(s.logprobs ?? []), ...o.logprobs];
      s.finishReason = o.finishReason ?? s.finishReason;
    }
  }
  return samples;
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
