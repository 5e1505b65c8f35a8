/**
 * Reads a Hugging Face fast-tokenizer `tokenizer.json` into a TokenizerSpec: a byte-level BPE model
 * with its normalizer, pre-tokenizer, post-processor and added tokens. Anything this project does not
 * implement (WordPiece, byte fallback, Metaspace, ...) is an error naming the field, never a
 * tokenizer that silently produces other ids than Hugging Face.
 */
import type { AddedToken } from './added-tokens.js';
import type { MergePair } from './bpe.js';
import { isObject, isTokenId, parseJson, toVocab, type Json } from './json.js';
import type { TokenizerSpec } from './load.js';
import { buildNormalizer } from './normalizer.js';
import { buildPostProcessor } from './post-processor.js';
import { buildPreTokenizer } from './pre-tokenizer.js';

function toMerge(entry: Json, name: string, index: number): MergePair {
  if (typeof entry === 'string') {
    const sp = entry.indexOf(' ');
    if (sp > 0 && sp < entry.length - 1 && entry.indexOf(' ', sp + 1) < 0) return [entry.slice(0, sp), entry.slice(sp + 1)];
  } else if (Array.isArray(entry) && entry.length === 2) {
    const [left, right] = entry;
    if (typeof left === 'string' && typeof right === 'string' && left !== '' && right !== '') return [left, right];
  }
  throw new Error(`${name}: model.merges[${index}] must be "left right" or [left, right], got ${JSON.stringify(entry)}`);
}

function toAddedToken(entry: Json, name: string, index: number): AddedToken {
  if (isObject(entry) && isTokenId(entry.id) && typeof entry.content === 'string' && entry.content !== '') {
    const special = entry.special === true;
    return {
      id: entry.id,
      content: entry.content,
      special,
      lstrip: entry.lstrip === true,
      rstrip: entry.rstrip === true,
      singleWord: entry.single_word === true,
      normalized: typeof entry.normalized === 'boolean' ? entry.normalized : !special,
    };
  }
  throw new Error(`${name}: added_tokens[${index}] needs an integer "id" and a non-empty "content"`);
}

/** Settings of the BPE model that would change the ids if ignored. */
function checkModel(model: { [key: string]: Json }, name: string): void {
  if (model.type !== undefined && model.type !== 'BPE') {
    throw new Error(`${name}: model.type is ${JSON.stringify(model.type)}, only "BPE" is supported`);
  }
  if (model.byte_fallback === true) throw new Error(`${name}: model.byte_fallback is not supported (only byte-level BPE is)`);
  if (typeof model.dropout === 'number' && model.dropout > 0) throw new Error(`${name}: model.dropout must be null or 0 for inference`);
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    const v = model[key];
    if (v !== undefined && v !== null && v !== '') throw new Error(`${name}: model.${key} ${JSON.stringify(v)} is not supported`);
  }
}

function checkDecoder(json: Json | undefined, name: string): void {
  if (json === null || json === undefined) return;
  const ok = (d: Json): boolean => isObject(d) && (d.type === 'ByteLevel' || (d.type === 'Sequence' && Array.isArray(d.decoders) && d.decoders.every(ok)));
  if (!ok(json)) throw new Error(`${name}: decoder ${JSON.stringify(isObject(json) ? json.type : json)} is not supported (ByteLevel is)`);
}

/** Builds a spec from the contents of a Hugging Face fast-tokenizer `tokenizer.json`. */
export function parseTokenizerJson(text: string, name = 'tokenizer.json'): TokenizerSpec {
  const json = parseJson(text, name);
  const model = isObject(json) ? json.model : undefined;
  if (!isObject(json) || !isObject(model)) throw new Error(`${name}: missing "model" object`);
  checkModel(model, name);
  const vocab = toVocab(model.vocab, `${name} model.vocab`);
  if (!Array.isArray(model.merges)) throw new Error(`${name}: model.merges must be an array`);
  const merges = model.merges.map((m, i) => toMerge(m, name, i));
  const added = json.added_tokens;
  if (added !== undefined && added !== null && !Array.isArray(added)) throw new Error(`${name}: added_tokens must be an array`);
  const addedTokens = (added ?? []).map((t, i) => toAddedToken(t, name, i));
  checkDecoder(json.decoder, `${name} decoder`);
  return {
    vocab,
    merges,
    addedTokens,
    vocabName: `${name} model.vocab`,
    describeMerge: (i) => `${name} model.merges[${i}]`,
    normalizer: buildNormalizer(json.normalizer, `${name} normalizer`),
    preTokenizer: buildPreTokenizer(json.pre_tokenizer, `${name} pre_tokenizer`),
    ignoreMerges: model.ignore_merges === true,
    wrap: buildPostProcessor(json.post_processor, `${name} post_processor`),
  };
}
