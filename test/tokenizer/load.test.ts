import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { FIXTURE_DIR, gpt2, makeRng, randomText } from './helpers.js';

const vocabText = readFileSync(join(FIXTURE_DIR, 'vocab.json'), 'utf8');
const mergesText = readFileSync(join(FIXTURE_DIR, 'merges.txt'), 'utf8');
const mergeLines = mergesText.split('\n').slice(1).filter((l) => l !== '');

const tmp = mkdtempSync(join(tmpdir(), 'tinyvllm-tok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `files` into a fresh directory under the temp dir and returns its path. */
function dirWith(name: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmp, `${name}-`));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

/** A Hugging Face fast-tokenizer file built from GPT-2's vocab.json and merges.txt. */
function tokenizerJson(mergeStyle: 'string' | 'pair', extraAdded: object[] = []): string {
  const endoftext = { id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true };
  return JSON.stringify({
    version: '1.0',
    added_tokens: [endoftext, ...extraAdded],
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
      vocab: JSON.parse(vocabText) as object,
      merges: mergeStyle === 'string' ? mergeLines : mergeLines.map((l) => l.split(' ')),
    },
  });
}

describe('loading', () => {
  const ref = gpt2();
  const rng = makeRng(4321);
  const samples = Array.from({ length: 500 }, () => randomText(rng));

  it('fromFiles (contents) equals fromDir', () => {
    const tok = GPT2Tokenizer.fromFiles(vocabText, mergesText);
    for (const s of samples) expect(tok.encode(s)).toEqual(ref.encode(s));
  });

  for (const style of ['string', 'pair'] as const) {
    it(`tokenizer.json with merges as ${style}s gives identical ids`, () => {
      const tok = GPT2Tokenizer.fromDir(dirWith(`hf-${style}`, { 'tokenizer.json': tokenizerJson(style) }));
      expect(tok.vocabSize).toBe(ref.vocabSize);
      expect(tok.eosTokenId).toBe(ref.eosTokenId);
      for (const s of samples) {
        const ids = tok.encode(s);
        expect(ids).toEqual(ref.encode(s));
        expect(tok.decode(ids)).toBe(ref.decode(ids));
      }
    });
  }

  it('prefers tokenizer.json over vocab.json + merges.txt in the same directory', () => {
    const hf = tokenizerJson('string', [{ id: 50257, content: '<|pad|>', special: false }]);
    const tok = GPT2Tokenizer.fromDir(dirWith('both', { 'tokenizer.json': hf, 'vocab.json': vocabText, 'merges.txt': mergesText }));
    expect(tok.vocabSize).toBe(50258);
    expect(GPT2Tokenizer.fromFiles(`\ufeff${vocabText}`, mergesText).encode('Hello world')).toEqual([15496, 995]);
  });

  it('honours added tokens from tokenizer.json (special and not)', () => {
    const added = [
      { id: 50257, content: '<|pad|>', special: false },
      { id: 50258, content: '<|im_start|>', special: true },
    ];
    const tok = GPT2Tokenizer.fromTokenizerJson(tokenizerJson('pair', added));
    expect(tok.vocabSize).toBe(50259);
    const ids = tok.encode('Hi<|pad|> there<|im_start|>!');
    expect(ids).toEqual([...ref.encode('Hi'), 50257, ...ref.encode(' there'), 50258, ...ref.encode('!')]);
    expect(tok.decode(ids)).toBe('Hi<|pad|> there<|im_start|>!');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('Hi<|pad|> there!');
    expect(new TextDecoder().decode(tok.tokenBytes(50258))).toBe('<|im_start|>');
  });
});

describe('bad input gives errors naming the file', () => {
  const headAndSome = ['#version: 0.2', ...mergeLines.slice(0, 50)];

  it('missing directory or files', () => {
    expect(() => GPT2Tokenizer.fromDir(join(tmp, 'nope'))).toThrow(/tokenizer directory not found: .*nope/);
    expect(() => GPT2Tokenizer.fromDir(dirWith('empty', {}))).toThrow(/missing: .*vocab\.json/);
    expect(() => GPT2Tokenizer.fromDir(dirWith('novocab', { 'merges.txt': mergesText }))).toThrow(/missing: .*vocab\.json/);
    expect(() => GPT2Tokenizer.fromDir(dirWith('nomerges', { 'vocab.json': vocabText }))).toThrow(/missing: .*merges\.txt/);
  });

  it('an empty merges.txt, or one with only its #version line', () => {
    for (const [name, text] of [['empty', ''], ['header', '#version: 0.2\n'], ['blank', '#version: 0.2\r\n\r\n\n']]) {
      expect(() => GPT2Tokenizer.fromDir(dirWith(`merges-${name}`, { 'vocab.json': vocabText, 'merges.txt': text! })), name)
        .toThrow(/merges-\w+-\w+\/merges\.txt: no merge rules/);
    }
  });

  it('malformed JSON', () => {
    expect(() => GPT2Tokenizer.fromDir(dirWith('badvocab', { 'vocab.json': '{"a": 1,', 'merges.txt': mergesText })))
      .toThrow(/vocab\.json: malformed JSON/);
    expect(() => GPT2Tokenizer.fromDir(dirWith('badhf', { 'tokenizer.json': '[1, 2' }))).toThrow(/tokenizer\.json: malformed JSON/);
    expect(() => GPT2Tokenizer.fromFiles('{"a": "one"}', mergesText)).toThrow(/vocab\.json: token "a" has invalid id "one"/);
    expect(() => GPT2Tokenizer.fromFiles('[]', mergesText)).toThrow(/vocab\.json: vocabulary must be a JSON object/);
    expect(() => GPT2Tokenizer.fromTokenizerJson('{"model": {"type": "WordPiece"}}')).toThrow(/tokenizer\.json: model\.type is "WordPiece"/);
    expect(() => GPT2Tokenizer.fromTokenizerJson('{}')).toThrow(/tokenizer\.json: missing "model"/);
  });

  it('a merges line with an unknown symbol', () => {
    const merges = [...headAndSome, 'Ġ zzqqxx', ''].join('\n');
    expect(() => GPT2Tokenizer.fromDir(dirWith('unknownmerge', { 'vocab.json': vocabText, 'merges.txt': merges })))
      .toThrow(/merges\.txt line 52: unknown symbol "zzqqxx"/);
    expect(() => GPT2Tokenizer.fromFiles(vocabText, [...headAndSome, 'Ġ t extra'].join('\n'))).toThrow(/merges\.txt line 52: expected "left right"/);
    const hf = JSON.parse(tokenizerJson('pair')) as { model: { merges: string[][] } };
    hf.model.merges[3] = ['Ġ', 'zzqqxx'];
    expect(() => GPT2Tokenizer.fromTokenizerJson(JSON.stringify(hf))).toThrow(/tokenizer\.json model\.merges\[3\]: unknown symbol "zzqqxx"/);
  });

  it('a vocabulary that is not byte-level', () => {
    expect(() => GPT2Tokenizer.fromFiles('{"a": 0, "<|endoftext|>": 1}', '#version: 0.2\na a\n')).toThrow(/vocab\.json: no token for byte 0x00/);
  });
});
