/** Minimal typed JSON helpers shared by the tokenizer file readers. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseJson(text: string, name: string): Json {
  try {
    // Tolerate a UTF-8 byte order mark, which some editors add and JSON.parse rejects.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Json;
  } catch (e) {
    throw new Error(`${name}: malformed JSON (${(e as Error).message})`);
  }
}

export function isTokenId(v: Json | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Converts a parsed `{ token: id }` object to a Map, checking ids are unique non-negative integers. */
export function toVocab(json: Json | undefined, name: string): Map<string, number> {
  if (!isObject(json)) throw new Error(`${name}: vocabulary must be a JSON object mapping token -> id`);
  const vocab = new Map<string, number>();
  // Ids are dense in practice, so an array finds duplicates faster than a Map (128k-entry vocabularies).
  const owner: (string | undefined)[] = [];
  for (const token in json) {
    const id = json[token];
    if (!isTokenId(id)) throw new Error(`${name}: token ${JSON.stringify(token)} has invalid id ${JSON.stringify(id)}`);
    const other = owner[id];
    if (other !== undefined) {
      throw new Error(`${name}: id ${id} is used by both ${JSON.stringify(other)} and ${JSON.stringify(token)}`);
    }
    owner[id] = token;
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new Error(`${name}: vocabulary is empty`);
  return vocab;
}
