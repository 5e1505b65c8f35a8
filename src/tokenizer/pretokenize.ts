/**
 * GPT-2's pre-tokenisation: text is split into words before BPE, and merges never cross a word
 * boundary. Contractions, letter runs, digit runs and punctuation runs each take at most one leading
 * space; a run of whitespace keeps its last space for the following word (`\s+(?!\S)`).
 */

/** The pattern from GPT-2's encoder.py (also tiktoken's r50k_base), with the `u` flag for \p{..}. */
export const GPT2_PRETOKENIZE_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits `text` into GPT-2 pre-tokens; their concatenation is `text` again. */
export function pretokenize(text: string): string[] {
  // A fresh RegExp per call: a shared global regex carries `lastIndex` state between callers.
  const re = new RegExp(GPT2_PRETOKENIZE_PATTERN.source, GPT2_PRETOKENIZE_PATTERN.flags);
  const words: string[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) words.push(m[0]);
  return words;
}
