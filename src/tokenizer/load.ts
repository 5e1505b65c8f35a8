/**
 * Reads a GPT-2 style tokenizer from disk: either `vocab.json` + `merges.txt` (the original GPT-2
 * files) or a Hugging Face fast `tokenizer.json`. Everything is validated here, so errors name the
 * file (and line or entry) at fault rather than surfacing later as wrong token ids.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddedToken } from './added-tokens.js';
import type { MergePair } from './bpe.js';
import { parseJson, toVocab } from './json.js';
import type { Normalizer } from './normalizer.js';
import type { SpecialWrap } from './post-processor.js';
import type { PreTokenizer } from './pre-tokenizer.js';
import { loadTokenizerConfig, type TokenizerConfig } from './tokenizer-config.js';
import { parseTokenizerJson } from './tokenizer-json.js';

export type { AddedToken } from './added-tokens.js';

/** Everything needed to build a tokenizer, plus names for error messages. */
export interface TokenizerSpec {
  readonly vocab: Map<string, number>;
  readonly merges: MergePair[];
  readonly addedTokens: AddedToken[];
  readonly vocabName: string;
  readonly describeMerge: (index: number) => string;
  /** Applied to text between added tokens; none for GPT-2. */
  readonly normalizer?: Normalizer | null;
  /** Splits text into BPE words; GPT-2's regex when absent. */
  readonly preTokenizer?: PreTokenizer;
  /** A word that is itself in the vocabulary becomes that one token without merging (Llama 3). */
  readonly ignoreMerges?: boolean;
  /** Special tokens put around a sequence when `addSpecialTokens` is on. */
  readonly wrap?: SpecialWrap;
  /** Special-token names and chat template from tokenizer_config.json. */
  readonly config?: TokenizerConfig;
}

/** GPT-2's only special token; it is part of vocab.json itself. */
export const ENDOFTEXT = '<|endoftext|>';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read tokenizer file ${path}: ${(e as Error).message}`);
  }
}

/** Parses merges.txt: an optional "#version" header, then one "left right" rule per line. */
function parseMergesTxt(text: string, name: string): { merges: MergePair[]; lines: number[] } {
  const merges: MergePair[] = [];
  const lines: number[] = [];
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i].endsWith('\r') ? rows[i].slice(0, -1) : rows[i];
    if (row === '' || (i === 0 && row.startsWith('#version'))) continue;
    const parts = row.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new Error(`${name} line ${i + 1}: expected "left right", got ${JSON.stringify(row)}`);
    }
    merges.push([parts[0], parts[1]]);
    lines.push(i + 1);
  }
  // Without merges every word would become single bytes: a truncated or placeholder file.
  if (merges.length === 0) throw new Error(`${name}: no merge rules (the file is empty or holds only a #version line); restore the model's merges.txt`);
  return { merges, lines };
}

/** Builds a spec from the contents of GPT-2's vocab.json and merges.txt. */
export function parseVocabAndMerges(
  vocabJson: string,
  mergesTxt: string,
  vocabName = 'vocab.json',
  mergesName = 'merges.txt',
): TokenizerSpec {
  const vocab = toVocab(parseJson(vocabJson, vocabName), vocabName);
  const { merges, lines } = parseMergesTxt(mergesTxt, mergesName);
  const eos = vocab.get(ENDOFTEXT);
  const addedTokens = eos === undefined ? [] : [{ id: eos, content: ENDOFTEXT, special: true }];
  return { vocab, merges, addedTokens, vocabName, describeMerge: (i) => `${mergesName} line ${lines[i]}` };
}

/**
 * Loads `dir/tokenizer.json` if present (it is the complete description, as in transformers' fast
 * tokenizers), otherwise `dir/vocab.json` + `dir/merges.txt`; plus `tokenizer_config.json` if any.
 */
export function loadTokenizerDir(dir: string): TokenizerSpec {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`tokenizer directory not found: ${dir}`);
  const config = loadTokenizerConfig(dir);
  const tokenizerJson = join(dir, 'tokenizer.json');
  if (existsSync(tokenizerJson)) return { ...parseTokenizerJson(readText(tokenizerJson), tokenizerJson), config };
  const vocabJson = join(dir, 'vocab.json');
  const mergesTxt = join(dir, 'merges.txt');
  for (const path of [vocabJson, mergesTxt]) {
    if (!existsSync(path)) throw new Error(`tokenizer file missing: ${path} (expected tokenizer.json, or vocab.json + merges.txt)`);
  }
  return { ...parseVocabAndMerges(readText(vocabJson), readText(mergesTxt), vocabJson, mergesTxt), config };
}
