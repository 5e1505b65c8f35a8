/**
 * Hugging Face pre-tokenizers: split text into words before BPE, so merges never cross a word
 * boundary. Each step refines every piece of the previous one, as in the Rust library. Supported:
 * `Split` (regex or string, every delimiter behaviour, `invert`), `ByteLevel` (optional GPT-2 regex
 * and prefix space; the byte mapping itself happens in BPE), `Digits` and `Sequence`.
 */
import { escapeRegExp, translateOnigPattern } from './hf-regex.js';
import { isObject, type Json } from './json.js';

/** Maps the pieces so far to finer pieces; their concatenation only ever gains prefix spaces. */
export type PreTokenizer = (pieces: string[]) => string[];

/** GPT-2's pattern as the Rust ByteLevel pre-tokenizer writes it (Oniguruma `\s`). */
export const BYTE_LEVEL_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

type Behavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
const BEHAVIORS = new Set<string>(['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']);

/** Splits `text` at the matches of `re` (global), treating matches per `behavior` like HF's `split`. */
export function splitBy(text: string, re: RegExp, behavior: Behavior, invert = false): string[] {
  const segs: { s: string; delim: boolean }[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    if (m.index > last) segs.push({ s: text.slice(last, m.index), delim: invert });
    segs.push({ s: m[0], delim: !invert });
    last = m.index + m[0].length;
  }
  if (last < text.length) segs.push({ s: text.slice(last), delim: invert });
  const out: string[] = [];
  let carry = '';
  for (let i = 0; i < segs.length; i++) {
    const { s, delim } = segs[i];
    if (!delim) {
      out.push(carry + s);
      carry = '';
    } else if (behavior === 'Isolated') {
      out.push(s);
    } else if (behavior === 'MergedWithPrevious') {
      if (out.length > 0 && !segs[i - 1].delim) out[out.length - 1] += s;
      else out.push(s);
    } else if (behavior === 'MergedWithNext') {
      // As in Rust, only the delimiter right before a non-delimiter joins it.
      if (i + 1 < segs.length && !segs[i + 1].delim) carry = s;
      else out.push(s);
    } else if (behavior === 'Contiguous') {
      if (i > 0 && segs[i - 1].delim) out[out.length - 1] += s;
      else out.push(s);
    }
    // 'Removed': delimiters vanish.
  }
  if (carry !== '') out.push(carry);
  return out;
}

function splitter(re: RegExp, behavior: Behavior, invert: boolean): PreTokenizer {
  return (pieces) => pieces.flatMap((p) => splitBy(p, re, behavior, invert));
}

/** Builds the pre-tokenizer described by tokenizer.json's `pre_tokenizer` (null: whole pieces). */
export function buildPreTokenizer(json: Json | undefined, where: string): PreTokenizer {
  if (json === null || json === undefined) return (pieces) => pieces;
  if (!isObject(json)) throw new Error(`${where}: must be an object`);
  switch (json.type) {
    case 'Sequence': {
      if (!Array.isArray(json.pretokenizers)) throw new Error(`${where}: Sequence needs a "pretokenizers" array`);
      const steps = json.pretokenizers.map((p, i) => buildPreTokenizer(p, `${where}.pretokenizers[${i}]`));
      return (pieces) => steps.reduce((acc, step) => step(acc), pieces);
    }
    case 'Split': {
      const pat = json.pattern;
      let source: string;
      if (isObject(pat) && typeof pat.Regex === 'string') source = translateOnigPattern(pat.Regex, where);
      else if (isObject(pat) && typeof pat.String === 'string') source = escapeRegExp(pat.String);
      else throw new Error(`${where}: Split needs a pattern {"Regex": ...} or {"String": ...}`);
      const behavior = json.behavior;
      if (typeof behavior !== 'string' || !BEHAVIORS.has(behavior)) {
        throw new Error(`${where}: unknown Split behavior ${JSON.stringify(behavior)}`);
      }
      return splitter(new RegExp(source, 'gu'), behavior as Behavior, json.invert === true);
    }
    case 'ByteLevel': {
      const prefix = json.add_prefix_space === true;
      const re = json.use_regex === false ? null : new RegExp(translateOnigPattern(BYTE_LEVEL_PATTERN, where), 'gu');
      return (pieces) => pieces.flatMap((p) => {
        const q = prefix && !p.startsWith(' ') ? ` ${p}` : p;
        return re === null ? [q] : splitBy(q, re, 'Isolated');
      });
    }
    case 'Digits':
      // Rust's char::is_numeric is the N categories.
      return splitter(json.individual_digits === true ? /\p{N}/gu : /\p{N}+/gu, 'Isolated', false);
    default:
      throw new Error(`${where}: pre-tokenizer type ${JSON.stringify(json.type)} is not supported (Split, ByteLevel, Digits, Sequence are)`);
  }
}
