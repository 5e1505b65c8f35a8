/**
 * /v1/chat/completions through the official `openai` client on a model with the real Llama 3
 * tokenizer (with Llama 3.1's BOS post-processor) and its chat template, on a small synthetic
 * Llama-architecture checkpoint (LlamaForCausalLM: RMSNorm, rotary, grouped-query attention, SiLU MLP)
 * with Llama 3's 128256-token vocabulary; transformers.js's tokenizer (@lenml/tokenizers) is the
 * oracle for the prompt ids and the decoded text.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AsyncLLM } from '../../src/engine/async-llm.js';
import type { SamplingParamsInit } from '../../src/engine/sampling-params.js';
import { writeLlamaSyntheticCheckpoint } from '../../src/bench/synthetic-llama.js';
import { architectureOf } from '../../src/model/config.js';
import { loadChatTemplate } from '../../src/server/chat-template.js';
import { LLAMA31_POST_PROCESSOR, oracle, readJson } from '../tokenizer/hf-helpers.js';
import { MODEL, postJson, startTestServer, type TestServer } from './harness.js';

const EOT = 128009; // <|eot_id|>: an EOS only through generation_config.json
const tokenizerJson = { ...readJson('llama3', 'tokenizer.json'), post_processor: LLAMA31_POST_PROCESSOR };
const tokenizerConfig = readJson('llama3', 'tokenizer_config.json');
const ref = oracle(tokenizerJson, tokenizerConfig);

const dir = mkdtempSync(join(tmpdir(), 'tinyvllm-llama3-chat-'));
let engine: AsyncLLM;
let s: TestServer;

beforeAll(async () => {
  writeLlamaSyntheticCheckpoint(dir, {
    architecture: 'LlamaForCausalLM', nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 64, nInner: 128, nPositions: 256,
    vocabSize: 128256, tieWordEmbeddings: true, ropeTheta: 500000, dtype: 'f32', seed: 11,
  });
  // tokenizer.json takes precedence over the stand-in vocab.json + merges.txt the checkpoint writer adds.
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  // Greedy by default, so a request that leaves temperature unset is reproducible.
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 128000, eos_token_id: [128001, EOT], temperature: 0 }));
  engine = await AsyncLLM.create({ model: dir, threads: 1 });
  expect(architectureOf(engine.modelConfig)).toBe('LlamaForCausalLM');
  s = await startTestServer({}, engine);
}, 120_000);

afterAll(async () => {
  await s?.close();
  await engine?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: '  Name a colour, café 😀 <|eot_id|> 12345. ' },
  { role: 'assistant' as const, content: 'Blue.' },
  { role: 'user' as const, content: 'Another?' },
];

/** transformers' apply_chat_template(..., tokenize=True): the template's text, encoded without added specials. */
const oracleIds = (): number[] => ref.apply_chat_template(messages, { add_generation_prompt: true, tokenize: true, return_tensor: false }) as number[];

/** The engine's own continuation of the oracle's prompt ids, decoded by the oracle. */
async function reference(params: SamplingParamsInit): Promise<{ text: string; ids: number[]; finish: string | null }> {
  const ids: number[] = [];
  let finish: string | null = null;
  for await (const out of engine.generate({ promptTokenIds: oracleIds() }, params, `ref-${Math.random()}`)) {
    ids.push(...out.outputs[0]!.tokenIds);
    finish = out.outputs[0]!.finishReason;
  }
  return { text: ref.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }), ids, finish };
}

describe('Llama 3 tokenizer and chat template through the OpenAI server', () => {
  test('/tokenize renders messages exactly like apply_chat_template, with one BOS', async () => {
    const want = oracleIds();
    expect(want[0]).toBe(128000);
    expect(want.filter((id) => id === 128000)).toHaveLength(1);
    const res = await postJson(s.url, '/tokenize', { model: MODEL, messages });
    expect(await res.json()).toEqual({ tokens: want, count: want.length, max_model_len: 256 });
    // A plain prompt gets the post-processor's BOS, as in vLLM's /v1/completions.
    const plain = (await (await postJson(s.url, '/tokenize', { prompt: 'Hello world' })).json()) as { tokens: number[] };
    expect(plain.tokens).toEqual(ref.encode('Hello world'));
  });

  test('non-streaming and streaming agree with the engine and decode like the Llama 3 tokenizer', async () => {
    // No temperature: generation_config.json's (0, greedy) applies.
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 24 });
    const want = await reference({ temperature: 0, maxTokens: 24 });
    expect(want.ids.length).toBeGreaterThan(0);
    expect(r.choices[0]!.message.content).toBe(want.text);
    expect(r.choices[0]!.finish_reason).toBe(want.finish);
    expect(r.usage).toEqual({ prompt_tokens: oracleIds().length, completion_tokens: want.ids.length, total_tokens: oracleIds().length + want.ids.length });

    const stream = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 24, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
        // Deltas never carry half a UTF-8 character.
        expect(c.delta.content ?? '').not.toMatch(/[\ud800-\udfff]|\ufffd/u);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(r.choices[0]!.message.content);
    expect(finish).toBe(r.choices[0]!.finish_reason);
    expect(usage).toEqual(r.usage);
  });

  test("every generation_config.json eos_token_id ends the reply (<|eot_id|> is not the tokenizer's EOS)", async () => {
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 10, logit_bias: { [EOT]: 100 } });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.choices[0]!.message.content).toBe('');
    expect(r.usage?.completion_tokens).toBe(1);
    const ignored = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 3, logit_bias: { [EOT]: 100 }, ignore_eos: true } as never);
    expect(ignored.choices[0]!.finish_reason).toBe('length');
  });

  test('--chat-template FILE (Jinja) overrides the model template', async () => {
    const file = join(dir, 'custom.jinja');
    writeFileSync(file, "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
    const custom = await startTestServer({ chatTemplate: loadChatTemplate(file) }, engine);
    try {
      const tok = (await (await postJson(custom.url, '/tokenize', { messages: messages.slice(0, 2) })).json()) as { tokens: number[] };
      const text = `<|begin_of_text|>[system] You are terse.\n[user] ${messages[1]!.content}\n[assistant]`;
      expect(tok.tokens).toEqual(ref.encode(text, { add_special_tokens: false }));
    } finally {
      await custom.close();
    }
    writeFileSync(file, '{% for m in messages %}');
    expect(() => loadChatTemplate(file)).toThrow(file);
  });
});
