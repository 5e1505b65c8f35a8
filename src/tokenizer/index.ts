/** Public API of the byte-level BPE tokenizer (GPT-2 files or Hugging Face tokenizer.json). */
export { Tokenizer, GPT2Tokenizer, type DecodeOptions, type EncodeOptions } from './tokenizer.js';
export { IncrementalDetokenizer, type IncrementalDetokenizerOptions } from './detokenize.js';
export { loadTokenizerDir, parseVocabAndMerges, ENDOFTEXT, type AddedToken, type TokenizerSpec } from './load.js';
export { parseTokenizerJson } from './tokenizer-json.js';
export { loadTokenizerConfig, parseTokenizerConfig, type TokenizerConfig } from './tokenizer-config.js';
export { translateOnigPattern } from './hf-regex.js';
export { pretokenize, GPT2_PRETOKENIZE_PATTERN } from './pretokenize.js';
export { BYTE_TO_UNICODE, bytesToUnicode, unicodeToBytes } from './byte-unicode.js';
