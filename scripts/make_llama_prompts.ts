/**
 * Token ids of the Llama-family fixtures' prompts under the real tokenizers (Llama 3 for
 * tiny-llama-*, Qwen3 / Qwen2.5 for tiny-qwen*), from transformers.js's tokenizer
 * (@lenml/tokenizers) as the oracle, so that scripts/make_llama_fixtures.py needs no tokenizer.
 * Writes test/fixtures/<name>/prompts.json. Usage: npx tsx scripts/make_llama_prompts.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenizerLoader } from '@lenml/tokenizers';

const require = createRequire(import.meta.url);
const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));

const HARBOUR =
  'In the early morning the harbour was quiet, and the fishing boats rocked gently against the pier while the ' +
  'gulls waited on the old stone wall for the first catch of the day.';
const FOX = 'The quick brown fox jumps over the lazy dog.\n';

/** Each tokenizer's package, the vocab_size of the real configs, and its document-start special token. */
const TOKENIZERS = {
  llama3: { vocabSize: 128256, special: '<|begin_of_text|>' },
  qwen3: { vocabSize: 151936, special: '<|endoftext|>' },
} as const;
const MODELS: Record<string, keyof typeof TOKENIZERS> = {
  'tiny-llama-a': 'llama3',
  'tiny-llama-b': 'llama3',
  'tiny-qwen2': 'qwen3',
  'tiny-qwen3': 'qwen3',
};

interface Oracle {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
}

for (const [name, tok] of Object.entries(MODELS)) {
  const dir = dirname(require.resolve(`@lenml/tokenizer-${tok}/models/tokenizer.json`));
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: object }; added_tokens: unknown[] };
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as object;
  const oracle = TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config }) as unknown as Oracle;
  const { vocabSize, special } = TOKENIZERS[tok];
  const texts: [string, string][] = [
    ['hello-world', 'Hello world'],
    ['single-token', 'The'],
    ['eos-prefixed', special + FOX],
    ['harbour', HARBOUR],
  ];
  const prompts = texts.map(([pname, text]) => ({ name: pname, text, tokens: oracle.encode(text, { add_special_tokens: false }) }));
  const tokenizerSize = Object.keys(json.model.vocab).length + json.added_tokens.length;
  const out = { tokenizer: tok, vocabSize, tokenizerSize, prompts };
  writeFileSync(join(FIXTURES, name, 'prompts.json'), JSON.stringify(out, null, 1) + '\n');
  console.log(name, tok, tokenizerSize, prompts.map((p) => `${p.name}:${p.tokens.length} ${JSON.stringify(p.tokens.slice(0, 4))}`).join(' '));
}
