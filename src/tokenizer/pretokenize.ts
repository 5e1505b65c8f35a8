/**
 * GPT-2's pre-tokenisation: text is split into words before BPE, and merges never cross a word
 * boundary. Contractions, letter runs, digit runs and punctuation runs each take at most one leading
 * space; a run of whitespace keeps its last space for the following word (`\s+(?!\S)`).
 */
import { translateOnigPattern } from './hf-regex.js';
import { BYTE_LEVEL_PATTERN } from './pre-tokenizer.js';

/**
 * The pattern from GPT-2's encoder.py as Hugging Face's ByteLevel pre-tokenizer runs it, with `\s`
 * meaning Unicode whitespace (U+0085 is, U+FEFF is not) rather than JavaScript's `\s`.
 */
export const GPT2_PRETOKENIZE_PATTERN = new RegExp(translateOnigPattern(BYTE_LEVEL_PATTERN, 'GPT-2 pattern'), 'gu');

/** Splits `text` into GPT-2 pre-tokens; their concatenation is `text` again. */
export function pretokenize(text: string): string[] {
  // A fresh RegExp per call: a shared global regex carries `lastIndex` state between callers.
  const re = new RegExp(GPT2_PRETOKENIZE_PATTERN.source, GPT2_PRETOKENIZE_PATTERN.flags);
  const words: string[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) words.push(m[0]);
  return words;
}
