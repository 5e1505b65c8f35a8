/** /v1/completions through the official `openai` client, checked against the engine run offline. */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MODEL, postJson, runOffline, startTestServer, tiktoken, type TestServer } from './harness.js';

const A = 'The quick brown fox jumps over the lazy dog.';
const B = 'Hello, my name is';
const greedy = { temperature: 0, maxTokens: 8 };

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const expected = async (prompt: string | number[], params = greedy) =>
  (await runOffline(typeof prompt === 'string' ? prompt : { promptTokenIds: prompt }, params))[0]!;

describe('non-streaming', () => {
  test('matches the offline engine, with OpenAI fields', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await s.client.completions.create({ model: MODEL, prompt: A, max_tokens: 8, temperature: 0 });
    const want = await expected(A);
    expect(r.id).toMatch(/^cmpl-[0-9a-f]+$/);
    expect(r.object).toBe('text_completion');
    expect(r.model).toBe(MODEL);
    expect(r.created).toBeGreaterThanOrEqual(before);
    expect(r.choices).toEqual([{ index: 0, text: want.text, logprobs: null, finish_reason: want.finishReason }]);
    const promptTokens = tiktoken.encode(A).length;
    expect(r.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: want.tokenIds.length, total_tokens: promptTokens + want.tokenIds.length });
  });

  test('max_tokens defaults to 16, as in OpenAI', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt: B, temperature: 0, ignore_eos: true } as never);
    expect(r.usage?.completion_tokens).toBe(16);
    expect(r.choices[0]!.finish_reason).toBe('length');
  });

  test('several prompts × n: choice p*n+k is sample k of prompt p', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt: [A, B], n: 2, max_tokens: 8, temperature: 0 });
    const [a, b] = [await expected(A), await expected(B)];
    expect(r.choices.map((c) => [c.index, c.text])).toEqual([[0, a.text], [1, a.text], [2, b.text], [3, b.text]]);
    const promptTokens = tiktoken.encode(A).length + tiktoken.encode(B).length;
    expect(r.usage?.prompt_tokens).toBe(promptTokens);
    expect(r.usage?.completion_tokens).toBe(2 * (a.tokenIds.length + b.tokenIds.length));
  });

  test('token-id prompts and arrays of them', async () => {
    const ids = tiktoken.encode(A);
    const one = await s.client.completions.create({ model: MODEL, prompt: ids, max_tokens: 8, temperature: 0 });
    expect(one.choices[0]!.text).toBe((await expected(A)).text);
    const two = await s.client.completions.create({ model: MODEL, prompt: [ids, tiktoken.encode(B)], max_tokens: 8, temperature: 0 });
    expect(two.choices.map((c) => c.text)).toEqual([(await expected(A)).text, (await expected(B)).text]);
  });

  test('echo prepends the prompt', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt: B, echo: true, max_tokens: 8, temperature: 0 });
    expect(r.choices[0]!.text).toBe(B + (await expected(B)).text);
  });

  test('stop strings end the text before the stop (or keep it when asked)', async () => {
    const full = await expected(A, { temperature: 0, maxTokens: 12 });
    // A stop string taken from the middle of the greedy continuation.
    const tail = full.text.slice(Math.floor(full.text.length / 2));
    const stop = tail.slice(0, Math.min(4, tail.length));
    const cut = full.text.indexOf(stop);
    const r = await s.client.completions.create({ model: MODEL, prompt: A, max_tokens: 12, temperature: 0, stop: [stop] });
    expect(r.choices[0]!.text).toBe(full.text.slice(0, cut));
    expect(r.choices[0]!.finish_reason).toBe('stop');
    const kept = await s.client.completions.create({
      model: MODEL, prompt: A, max_tokens: 12, temperature: 0, stop, include_stop_str_in_output: true,
    } as never);
    expect(kept.choices[0]!.text).toBe(full.text.slice(0, cut + stop.length));
  });

  test('seed makes sampling reproducible', async () => {
    const req = { model: MODEL, prompt: A, max_tokens: 12, temperature: 1, n: 2 };
    const r1 = await s.client.completions.create({ ...req, seed: 1234 });
    const r2 = await s.client.completions.create({ ...req, seed: 1234 });
    const r3 = await s.client.completions.create({ ...req, seed: 99 });
    expect(r1.choices.map((c) => c.text)).toEqual(r2.choices.map((c) => c.text));
    // Near-uniform random-weight model: 12 tokens from 50k candidates never coincide by chance.
    expect(r3.choices[0]!.text).not.toBe(r1.choices[0]!.text);
    expect(r1.choices[0]!.text).not.toBe(r1.choices[1]!.text);
  });

  test('logit_bias (string keys) forces a token', async () => {
    const forced = tiktoken.encode(' banana');
    expect(forced).toHaveLength(1);
    const r = await s.client.completions.create({
      model: MODEL, prompt: A, max_tokens: 4, temperature: 0, logit_bias: { [String(forced[0])]: 100 },
    });
    expect(r.choices[0]!.text).toBe(' banana'.repeat(4));
  });
});

describe('logprobs (completions shape)', () => {
  test('tokens, token_logprobs, top_logprobs dicts and text_offset agree with the engine', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt: A, max_tokens: 6, temperature: 0, logprobs: 3 });
    const want = await expected(A, { temperature: 0, maxTokens: 6, logprobs: 3 } as typeof greedy);
    const lp = r.choices[0]!.logprobs!;
    const entries = want.logprobs!;
    expect(lp.tokens).toEqual(entries.map((e) => e.token));
    expect(lp.token_logprobs).toEqual(entries.map((e) => e.logprob));
    lp.top_logprobs!.forEach((dict, i) => {
      const e = entries[i]!;
      // The 3 best candidates plus the chosen token (vLLM's convention), keyed by token text.
      for (const t of [...e.top, e]) expect(dict[t.token]).toBe(t.logprob);
      expect(Object.keys(dict).length).toBeLessThanOrEqual(4);
      // Greedy: the chosen token is the most likely one.
      expect(lp.token_logprobs![i]).toBe(Math.max(...Object.values(dict)));
    });
    let offset = 0;
    lp.text_offset!.forEach((o, i) => {
      expect(o).toBe(offset);
      offset += lp.tokens![i]!.length;
    });
  });

  test('echo with logprobs covers the prompt tokens first (the first has no logprob)', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt: B, max_tokens: 3, temperature: 0, logprobs: 1, echo: true });
    const lp = r.choices[0]!.logprobs!;
    const promptIds = tiktoken.encode(B);
    expect(lp.tokens!.slice(0, promptIds.length)).toEqual(promptIds.map((t) => tiktoken.decode([t])));
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.top_logprobs![0]).toBeNull();
    expect(lp.tokens).toHaveLength(promptIds.length + 3);
    for (const v of lp.token_logprobs!.slice(1)) expect(v).toBeLessThanOrEqual(0);
  });
});

describe('streaming', () => {
  test('chunks add up to the non-streaming result; usage comes last with empty choices', async () => {
    const stream = await s.client.completions.create({
      model: MODEL, prompt: [A, B], n: 2, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    const texts = ['', '', '', ''];
    const finish: (string | null)[] = [null, null, null, null];
    const chunks: OpenAI.Completion[] = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.pop()!;
    for (const c of chunks) {
      expect(c.object).toBe('text_completion');
      expect(c.id).toBe(last.id);
      expect(c.usage).toBeNull();
      expect(c.choices).toHaveLength(1);
      const ch = c.choices[0]!;
      expect(finish[ch.index]).toBeNull(); // nothing after a choice's finish chunk
      texts[ch.index] += ch.text;
      finish[ch.index] = ch.finish_reason;
    }
    const [a, b] = [await expected(A), await expected(B)];
    expect(texts).toEqual([a.text, a.text, b.text, b.text]);
    expect(finish).toEqual([a.finishReason, a.finishReason, b.finishReason, b.finishReason]);
    expect(last.choices).toEqual([]);
    const promptTokens = tiktoken.encode(A).length + tiktoken.encode(B).length;
    const completion = 2 * (a.tokenIds.length + b.tokenIds.length);
    expect(last.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion });
  });

  test('wire format is OpenAI SSE: data lines, blank-line separated, [DONE] at the end', async () => {
    const res = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: B, max_tokens: 4, temperature: 0, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const body = await res.text();
    expect(body).toMatch(/^(data: \{.*\}\n\n)+data: \[DONE\]\n\n$/);
    const events = body.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)) as { choices: { text: string }[]; usage?: unknown });
    expect(events.every((e) => !('usage' in e))).toBe(true);
    expect(events.map((e) => e.choices[0]!.text).join('')).toBe((await expected(B, { temperature: 0, maxTokens: 4 })).text);
  });

  test('echo and logprobs stream too', async () => {
    const stream = await s.client.completions.create({ model: MODEL, prompt: B, max_tokens: 5, temperature: 0, echo: true, logprobs: 2, stream: true });
    let text = '';
    const tokens: string[] = [];
    for await (const c of stream) {
      text += c.choices[0]!.text;
      tokens.push(...(c.choices[0]!.logprobs?.tokens ?? []));
    }
    expect(text).toBe(B + (await expected(B, { temperature: 0, maxTokens: 5 })).text);
    expect(tokens).toHaveLength(tiktoken.encode(B).length + 5);
  });
});
