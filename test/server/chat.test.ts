/** /v1/chat/completions through the official `openai` client, and the chat template. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadChatTemplate } from '../../src/server/chat-template.js';
import { MODEL, postJson, runOffline, startTestServer, tiktoken, type TestServer } from './harness.js';

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Name a colour.' },
];
/** The documented default template, written out by hand. */
const PROMPT = 'System: You are terse.\nUser: Name a colour.\nAssistant:';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const expected = async (maxTokens = 8, extra = {}) =>
  (await runOffline(PROMPT, { temperature: 0, maxTokens, stop: ['\nUser:'], ...extra }))[0]!;

describe('non-streaming', () => {
  test('renders the default template and matches the offline engine', async () => {
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 8, temperature: 0 });
    const want = await expected();
    expect(r.id).toMatch(/^chatcmpl-[0-9a-f]+$/);
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe(MODEL);
    expect(r.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: want.text, refusal: null }, logprobs: null, finish_reason: want.finishReason },
    ]);
    const promptTokens = tiktoken.encode(PROMPT).length;
    expect(r.usage).toEqual({ prompt_tokens: promptTokens, completion_tokens: want.tokenIds.length, total_tokens: promptTokens + want.tokenIds.length });
  });

  test('max_completion_tokens wins over max_tokens; text parts equal the joined string', async () => {
    const r = await s.client.chat.completions.create({
      model: MODEL, temperature: 0, max_tokens: 3, max_completion_tokens: 5,
      messages: [messages[0]!, { role: 'user', content: [{ type: 'text', text: 'Name a' }, { type: 'text', text: 'colour.' }] }],
    });
    const want = (await runOffline('System: You are terse.\nUser: Name a\ncolour.\nAssistant:', { temperature: 0, maxTokens: 5, stop: ['\nUser:'] }))[0]!;
    expect(r.choices[0]!.message.content).toBe(want.text);
    expect(r.usage?.completion_tokens).toBe(want.tokenIds.length);
  });

  test('n > 1 gives n choices', async () => {
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 4, temperature: 0, n: 3 });
    const want = await expected(4);
    expect(r.choices.map((c) => [c.index, c.message.content])).toEqual([0, 1, 2].map((i) => [i, want.text]));
  });

  test('logprobs in the chat shape: token, logprob, bytes, top_logprobs', async () => {
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2 });
    const want = await expected(5, { logprobs: 2 });
    const content = r.choices[0]!.logprobs!.content!;
    expect(content).toHaveLength(want.tokenIds.length);
    content.forEach((c, i) => {
      const e = want.logprobs![i]!;
      expect(c.token).toBe(e.token);
      expect(c.logprob).toBe(e.logprob);
      expect(c.bytes).toEqual([...Buffer.from(e.token, 'utf8')]);
      expect(c.top_logprobs.map((t) => [t.token, t.logprob])).toEqual(e.top.slice(0, 2).map((t) => [t.token, t.logprob]));
      expect(c.top_logprobs[0]!.logprob).toBe(c.logprob); // greedy picks the best
    });
  });
});

describe('streaming', () => {
  test('role first, then content deltas, an empty delta with finish_reason, then usage', async () => {
    const stream = await s.client.chat.completions.create({
      model: MODEL, messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const want = await expected();
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const usage = chunks.pop()!;
    const finish = chunks.pop()!;
    expect(finish.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: want.finishReason });
    expect(chunks.slice(1).map((c) => c.choices[0]!.delta.content).join('')).toBe(want.text);
    expect(chunks.slice(1).every((c) => c.choices[0]!.finish_reason === null && c.usage === null)).toBe(true);
    expect(usage.choices).toEqual([]);
    expect(usage.usage?.completion_tokens).toBe(want.tokenIds.length);
  });

  test('stream with n = 2 and logprobs', async () => {
    const stream = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 4, temperature: 0, n: 2, stream: true, logprobs: true });
    const text = ['', ''];
    const lps = [0, 0];
    for await (const c of stream) {
      for (const ch of c.choices) {
        text[ch.index] += ch.delta.content ?? '';
        lps[ch.index] += ch.logprobs?.content?.length ?? 0;
      }
    }
    const want = await expected(4);
    expect(text).toEqual([want.text, want.text]);
    expect(lps).toEqual([want.tokenIds.length, want.tokenIds.length]);
  });
});

describe('chat template', () => {
  test('/tokenize of messages is the rendered default template', async () => {
    const res = await postJson(s.url, '/tokenize', { model: MODEL, messages });
    expect(await res.json()).toEqual({ tokens: tiktoken.encode(PROMPT), count: tiktoken.encode(PROMPT).length, max_model_len: s.engine.maxModelLen });
    const noCue = await (await postJson(s.url, '/tokenize', { messages, add_generation_prompt: false })).json() as { tokens: number[] };
    expect(noCue.tokens).toEqual(tiktoken.encode('System: You are terse.\nUser: Name a colour.\n'));
  });

  test('--chat-template file: role strings, prefix, generation prompt and its stop strings', async () => {
    const full = (await runOffline('### Q: Name a colour.\n### A:', { temperature: 0, maxTokens: 10 }))[0]!;
    const stop = full.text.slice(Math.floor(full.text.length / 2)).slice(0, 3);
    const dir = mkdtempSync(join(tmpdir(), 'tinyvllm-chat-'));
    const file = join(dir, 'template.json');
    writeFileSync(file, JSON.stringify({ prefix: '### ', system: '[{content}] ', user: 'Q: {content}\n', assistant: 'A: {content}\n', generation_prompt: '### A:', stop: [stop] }));
    const custom = await startTestServer({ chatTemplate: loadChatTemplate(file) }, s.engine);
    try {
      const tok = await (await postJson(custom.url, '/tokenize', { messages: [{ role: 'developer', content: 'x' }, { role: 'user', content: 'y' }] })).json() as { tokens: number[] };
      expect(tiktoken.decode(tok.tokens)).toBe('### [x] Q: y\n### A:');
      const r = await custom.client.chat.completions.create({ model: MODEL, temperature: 0, max_tokens: 10, messages: [{ role: 'user', content: 'Name a colour.' }] });
      expect(r.choices[0]!.message.content).toBe(full.text.slice(0, full.text.indexOf(stop)));
      expect(r.choices[0]!.finish_reason).toBe('stop');
    } finally {
      await custom.close();
    }
  });

  test('a bad template file is rejected naming the file and key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyvllm-chat-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ user: 'User says' }));
    expect(() => loadChatTemplate(file)).toThrow(`Chat template ${file}: "user" must contain {content}`);
    writeFileSync(file, '{ not json');
    expect(() => loadChatTemplate(file)).toThrow(file);
    writeFileSync(file, JSON.stringify({ stop: 'x' }));
    expect(() => loadChatTemplate(file)).toThrow('"stop" must be an array of strings');
  });
});
