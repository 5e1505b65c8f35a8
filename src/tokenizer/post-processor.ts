/**
 * Hugging Face post-processors (tokenizer.json `post_processor`) for a single sequence: the special
 * tokens wrapped around the encoded text when `addSpecialTokens` is on, e.g. Llama 3.1's
 * TemplateProcessing prepends `<|begin_of_text|>`. `ByteLevel` only adjusts offsets: nothing here.
 */
import { isObject, isTokenId, type Json } from './json.js';

export interface SpecialWrap {
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
}

const NONE: SpecialWrap = { prefix: [], suffix: [] };

function specialIds(name: string, json: Json | undefined, where: string): number[] {
  const entry = isObject(json) ? json[name] : undefined;
  const ids = isObject(entry) ? entry.ids : undefined;
  if (!Array.isArray(ids) || !ids.every(isTokenId)) throw new Error(`${where}: special_tokens has no ids for ${JSON.stringify(name)}`);
  return ids as number[];
}

function pairId(json: Json | undefined, where: string): number {
  if (Array.isArray(json) && json.length === 2 && isTokenId(json[1])) return json[1];
  throw new Error(`${where}: expected [token, id]`);
}

export function buildPostProcessor(json: Json | undefined, where: string): SpecialWrap {
  if (json === null || json === undefined) return NONE;
  if (!isObject(json)) throw new Error(`${where}: must be an object`);
  switch (json.type) {
    case 'ByteLevel':
      return NONE;
    case 'Sequence': {
      if (!Array.isArray(json.processors)) throw new Error(`${where}: Sequence needs a "processors" array`);
      const parts = json.processors.map((p, i) => buildPostProcessor(p, `${where}.processors[${i}]`));
      return { prefix: parts.flatMap((p) => p.prefix), suffix: parts.flatMap((p) => p.suffix) };
    }
    case 'TemplateProcessing': {
      if (!Array.isArray(json.single)) throw new Error(`${where}: TemplateProcessing needs a "single" array`);
      const prefix: number[] = [];
      const suffix: number[] = [];
      let seenSequence = false;
      for (const piece of json.single) {
        if (isObject(piece) && isObject(piece.Sequence)) {
          seenSequence = true;
        } else if (isObject(piece) && isObject(piece.SpecialToken) && typeof piece.SpecialToken.id === 'string') {
          (seenSequence ? suffix : prefix).push(...specialIds(piece.SpecialToken.id, json.special_tokens, where));
        } else {
          throw new Error(`${where}: unexpected template piece ${JSON.stringify(piece)}`);
        }
      }
      return { prefix, suffix };
    }
    case 'RobertaProcessing':
    case 'BertProcessing':
      return { prefix: [pairId(json.cls, `${where}.cls`)], suffix: [pairId(json.sep, `${where}.sep`)] };
    default:
      throw new Error(`${where}: post-processor type ${JSON.stringify(json.type)} is not supported`);
  }
}
