import { getEncoding } from 'js-tiktoken';
import { describe, expect, it } from 'vitest';
import { BYTE_TO_UNICODE, pretokenize } from '../../src/tokenizer/index.js';
import { gpt2 } from './helpers.js';

describe('GPT2Tokenizer basics (real GPT-2 vocabulary)', () => {
  const tok = gpt2();

  it('encodes well-known strings', () => {
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode('<|endoftext|>')).toEqual([50256]);
    expect(tok.encode('')).toEqual([]);
  });

  it('exposes GPT-2 sizes and special ids', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.bosTokenId).toBe(50256);
    expect(tok.idToToken(995)).toBe('Ġworld');
    expect(tok.tokenToId('Ġworld')).toBe(995);
    expect(tok.tokenToId('<|endoftext|>')).toBe(50256);
    expect(tok.tokenToId('no such token!')).toBeUndefined();
    expect(tok.isSpecialToken(50256)).toBe(true);
    expect(tok.isSpecialToken(995)).toBe(false);
  });

  it('decode round-trips', () => {
    for (const s of ['Hello world', ' leading space', 'tabs\tand\nnewlines\r\n', '日本語 😀 👨‍👩‍👧', '\ufeffBOM kept', "It's <|endoftext|> done"]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('recognises <|endoftext|> inside text and skips it on request', () => {
    const ids = tok.encode('Hello<|endoftext|> world');
    expect(ids).toEqual([...tok.encode('Hello'), 50256, ...tok.encode(' world')]);
    expect(tok.decode(ids)).toBe('Hello<|endoftext|> world');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('Hello world');
  });

  it('decodes invalid UTF-8 to U+FFFD like a lossy decoder', () => {
    // "😀" is 4 bytes spread over several tokens; cutting the sequence leaves an incomplete character.
    const ids = tok.encode('a😀b');
    expect(ids.length).toBeGreaterThan(3);
    const cut = [ids[0], ids[1], ids[ids.length - 1]];
    expect(tok.decode(cut)).toBe(new TextDecoder().decode(Uint8Array.from([...tok.tokenBytes(cut[0]), ...tok.tokenBytes(cut[1]), ...tok.tokenBytes(cut[2])])));
    expect(tok.decode(cut)).toContain('\ufffd');
  });

  it('throws a clear error for out-of-range ids', () => {
    expect(() => tok.decode([15496, 50257])).toThrow(/token id 50257 is out of range/);
    expect(() => tok.decode([-1])).toThrow(/token id -1/);
    expect(() => tok.decode([1.5])).toThrow(/token id 1.5/);
    expect(() => tok.idToToken(99999)).toThrow(/99999/);
    expect(() => tok.tokenBytes(50257)).toThrow(/50257/);
  });

  it('byte map covers all 256 bytes and matches the first 256 vocabulary entries', () => {
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    const first256 = new Set(Array.from({ length: 256 }, (_, id) => tok.idToToken(id)));
    expect(new Set(BYTE_TO_UNICODE)).toEqual(first256);
    expect(BYTE_TO_UNICODE[0x20]).toBe('Ġ');
    expect(BYTE_TO_UNICODE[0x0a]).toBe('Ċ');
    for (let b = 0; b < 256; b++) expect(Array.from(tok.tokenBytes(tok.tokenToId(BYTE_TO_UNICODE[b])!))).toEqual([b]);
  });

  it('tokenBytes agrees with js-tiktoken for every id', () => {
    const enc = getEncoding('r50k_base');
    const td = new TextDecoder();
    for (let id = 0; id < tok.vocabSize; id++) {
      if (td.decode(tok.tokenBytes(id)) !== enc.decode([id])) expect(td.decode(tok.tokenBytes(id))).toBe(enc.decode([id]));
    }
  });

  it('pre-tokenises like GPT-2', () => {
    expect(pretokenize("Hello   world's 42!!\n\n end ")).toEqual(['Hello', '  ', ' world', "'s", ' 42', '!!', '\n\n', ' end', ' ']);
    const s = 'mixed 文字 and\t\ttabs 😀😀';
    expect(pretokenize(s).join('')).toBe(s);
  });
});
