import { describe, expect, it } from 'vitest';
import { translateOnigPattern } from '../../src/tokenizer/hf-regex.js';
import { buildPostProcessor } from '../../src/tokenizer/post-processor.js';
import { buildPreTokenizer, splitBy } from '../../src/tokenizer/pre-tokenizer.js';
import { parseTokenizerJson } from '../../src/tokenizer/tokenizer-json.js';
import { parseTokenizerConfig } from '../../src/tokenizer/tokenizer-config.js';

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const split = (pattern: string, text: string): string[] => splitBy(text, new RegExp(translateOnigPattern(pattern, 't'), 'gu'), 'Isolated');
const matches = (pattern: string, text: string): string[] => [...text.matchAll(new RegExp(translateOnigPattern(pattern, 't'), 'gu'))].map((m) => m[0]);

describe('Oniguruma patterns in JavaScript', () => {
  it("expands (?i:...) to case classes, including the fold 'ſ' ~ 's'", () => {
    expect(split(LLAMA3, "X'LL x'Ve y'ſz I'M")).toEqual(['X', "'LL", ' x', "'Ve", ' y', "'ſ", 'z', ' I', "'M"]);
    expect(matches('(?i:ab)c', 'ABc AbC')).toEqual(['ABc']);
  });

  it('reads \\s as Unicode whitespace: U+0085 is, U+FEFF is not', () => {
    expect(matches('\\s+', 'a\u0085\u3000b\ufeffc')).toEqual(['\u0085\u3000']);
    expect(matches('[^\\s]+', 'a\u0085b\ufeff')).toEqual(['a', 'b\ufeff']);
    expect(matches('\\S+', 'x\u0085y')).toEqual(['x', 'y']);
  });

  it('splits digits in runs of at most three and keeps newlines with punctuation', () => {
    expect(split(LLAMA3, '1234567 ok.\n\nx')).toEqual(['123', '456', '7', ' ok', '.\n\n', 'x']);
  });

  it('rejects what JavaScript cannot express', () => {
    expect(() => translateOnigPattern('(?>a)', 'tokenizer.json pre_tokenizer')).toThrow(/tokenizer\.json pre_tokenizer: unsupported regex construct/);
    expect(() => translateOnigPattern('a++', 'p')).toThrow(/possessive/);
    expect(() => translateOnigPattern('[\\S]', 'p')).toThrow(/\\S inside a class/);
  });
});

describe('pre-tokenizer pieces', () => {
  it('Split behaviours and invert', () => {
    const re = /-/gu;
    expect(splitBy('a-b--c', re, 'Removed')).toEqual(['a', 'b', 'c']);
    expect(splitBy('a-b--c', re, 'Isolated')).toEqual(['a', '-', 'b', '-', '-', 'c']);
    expect(splitBy('a-b--c', re, 'MergedWithPrevious')).toEqual(['a-', 'b-', '-', 'c']);
    expect(splitBy('a-b--c', re, 'MergedWithNext')).toEqual(['a', '-b', '-', '-c']);
    expect(splitBy('a-b--c', re, 'Contiguous')).toEqual(['a', '-', 'b', '--', 'c']);
    expect(splitBy('ab-cd', /[a-z]+/gu, 'Removed', true)).toEqual(['ab', 'cd']);
  });

  it('Digits and ByteLevel with a prefix space (SmolLM2 uses Digits + ByteLevel)', () => {
    const smol = buildPreTokenizer({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, use_regex: true }] }, 'p');
    expect(smol(['in 2024, x'])).toEqual(['in', ' ', '2', '0', '2', '4', ',', ' x']);
    const prefixed = buildPreTokenizer({ type: 'ByteLevel', add_prefix_space: true, use_regex: true }, 'p');
    expect(prefixed(['hello world'])).toEqual([' hello', ' world']);
  });

  it('unsupported parts are errors naming the field', () => {
    expect(() => buildPreTokenizer({ type: 'Metaspace' }, 'tokenizer.json pre_tokenizer')).toThrow(/tokenizer\.json pre_tokenizer: pre-tokenizer type "Metaspace" is not supported/);
    expect(() => buildPostProcessor({ type: 'Nope' }, 'pp')).toThrow(/pp: post-processor type "Nope"/);
    const base = { model: { type: 'BPE', vocab: { a: 0 }, merges: [] } };
    expect(() => parseTokenizerJson(JSON.stringify({ ...base, model: { ...base.model, byte_fallback: true } }))).toThrow(/byte_fallback is not supported/);
    expect(() => parseTokenizerJson(JSON.stringify({ ...base, normalizer: { type: 'Replace' } }))).toThrow(/normalizer type "Replace" is not supported/);
    expect(() => parseTokenizerJson(JSON.stringify({ ...base, decoder: { type: 'Metaspace' } }))).toThrow(/decoder "Metaspace" is not supported/);
  });
});

describe('tokenizer_config.json', () => {
  it('reads special-token names (string or object) and the chat template (string or named list)', () => {
    const c = parseTokenizerConfig(JSON.stringify({ bos_token: { content: '<s>' }, eos_token: '</s>', chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] }), 'cfg');
    expect(c).toEqual({ bosToken: '<s>', eosToken: '</s>', chatTemplate: 'D' });
    expect(() => parseTokenizerConfig('{"eos_token": 5}', 'cfg.json')).toThrow(/cfg\.json eos_token: expected a string/);
  });
});
