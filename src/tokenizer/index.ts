/** Public API of the GPT-2 byte-level BPE tokenizer. */
export { GPT2Tokenizer, type DecodeOptions } from './tokenizer.js';
export { IncrementalDetokenizer, type IncrementalDetokenizerOptions } from './detokenize.js';
export { loadTokenizerDir, parseTokenizerJson, parseVocabAndMerges, ENDOFTEXT, type AddedToken, type TokenizerSpec } from './load.js';
export { pretokenize, GPT2_PRETOKENIZE_PATTERN } from './pretokenize.js';
export { BYTE_TO_UNICODE, bytesToUnicode, unicodeToBytes } from './byte-unicode.js';
