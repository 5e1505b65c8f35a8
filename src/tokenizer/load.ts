/**
 * Reads a GPT-2 style tokenizer from disk: either `vocab.json` + `merges.txt` (the original GPT-2
 * files) or a Hugging Face fast `tokenizer.json`. Everything is validated here, so errors name the
 * file (and line or entry) at fault rather than surfacing later as wrong token ids.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MergePair } from './bpe.js';

/** A token matched verbatim in the input before pre-tokenisation, e.g. "<|endoftext|>". */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  /** Special tokens are dropped by `decode(..., { skipSpecialTokens: true })`. */
  readonly special: boolean;
}

/** Everything needed to build a tokenizer, plus names for error messages. */
export interface TokenizerSpec {
  readonly vocab: Map<string, number>;
  readonly merges: MergePair[];
  readonly addedTokens: AddedToken[];
  readonly vocabName: string;
  readonly describeMerge: (index: number) => string;
}

/** GPT-2's only special token; it is part of vocab.json itself. */
export const ENDOFTEXT = '<|endoftext|>';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string, name: string): Json {
  try {
    // Tolerate a UTF-8 byte order mark, which some editors add and JSON.parse rejects.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Json;
  } catch (e) {
    throw new Error(`${name}: malformed JSON (${(e as Error).message})`);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read tokenizer file ${path}: ${(e as Error).message}`);
  }
}

function isTokenId(v: Json | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Converts a parsed `{ token: id }` object to a Map, checking ids are unique non-negative integers. */
function toVocab(json: Json | undefined, name: string): Map<string, number> {
  if (!isObject(json)) throw new Error(`${name}: vocabulary must be a JSON object mapping token -> id`);
  const vocab = new Map<string, number>();
  const owner = new Map<number, string>();
  for (const [token, id] of Object.entries(json)) {
    if (!isTokenId(id)) throw new Error(`${name}: token ${JSON.stringify(token)} has invalid id ${JSON.stringify(id)}`);
    const other = owner.get(id);
    if (other !== undefined) {
      throw new Error(`${name}: id ${id} is used by both ${JSON.stringify(other)} and ${JSON.stringify(token)}`);
    }
    owner.set(id, token);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new Error(`${name}: vocabulary is empty`);
  return vocab;
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

function toMerge(entry: Json, name: string, index: number): MergePair {
  if (typeof entry === 'string') {
    const parts = entry.split(' ');
    if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return [parts[0], parts[1]];
  } else if (Array.isArray(entry) && entry.length === 2) {
    const [left, right] = entry;
    if (typeof left === 'string' && typeof right === 'string' && left !== '' && right !== '') return [left, right];
  }
  throw new Error(`${name}: model.merges[${index}] must be "left right" or [left, right], got ${JSON.stringify(entry)}`);
}

function toAddedToken(entry: Json, name: string, index: number): AddedToken {
  if (isObject(entry) && isTokenId(entry.id) && typeof entry.content === 'string' && entry.content !== '') {
    return { id: entry.id, content: entry.content, special: entry.special === true };
  }
  throw new Error(`${name}: added_tokens[${index}] needs an integer "id" and a non-empty "content"`);
}

/** Builds a spec from the contents of a Hugging Face fast-tokenizer `tokenizer.json`. */
export function parseTokenizerJson(text: string, name = 'tokenizer.json'): TokenizerSpec {
  const json = parseJson(text, name);
  const model = isObject(json) ? json.model : undefined;
  if (!isObject(model)) throw new Error(`${name}: missing "model" object`);
  if (model.type !== undefined && model.type !== 'BPE') {
    throw new Error(`${name}: model.type is ${JSON.stringify(model.type)}, only "BPE" is supported`);
  }
  const vocab = toVocab(model.vocab, `${name} model.vocab`);
  if (!Array.isArray(model.merges)) throw new Error(`${name}: model.merges must be an array`);
  const merges = model.merges.map((m, i) => toMerge(m, name, i));
  const added = isObject(json) ? json.added_tokens : undefined;
  if (added !== undefined && added !== null && !Array.isArray(added)) throw new Error(`${name}: added_tokens must be an array`);
  const addedTokens = (added ?? []).map((t, i) => toAddedToken(t, name, i));
  return { vocab, merges, addedTokens, vocabName: `${name} model.vocab`, describeMerge: (i) => `${name} model.merges[${i}]` };
}

/** Loads `dir/tokenizer.json` if present, otherwise `dir/vocab.json` + `dir/merges.txt`. */
export function loadTokenizerDir(dir: string): TokenizerSpec {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`tokenizer directory not found: ${dir}`);
  const tokenizerJson = join(dir, 'tokenizer.json');
  if (existsSync(tokenizerJson)) return parseTokenizerJson(readText(tokenizerJson), tokenizerJson);
  const vocabJson = join(dir, 'vocab.json');
  const mergesTxt = join(dir, 'merges.txt');
  for (const path of [vocabJson, mergesTxt]) {
    if (!existsSync(path)) throw new Error(`tokenizer file missing: ${path} (expected tokenizer.json, or vocab.json + merges.txt)`);
  }
  return parseVocabAndMerges(readText(vocabJson), readText(mergesTxt), vocabJson, mergesTxt);
}
