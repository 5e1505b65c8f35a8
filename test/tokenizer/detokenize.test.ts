import { describe, expect, it } from 'vitest';
import { GPT2Tokenizer, IncrementalDetokenizer } from '../../src/tokenizer/index.js';
import { gpt2, makeRng, randomText } from './helpers.js';

const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** Streams `ids` one by one, returning the emitted pieces (flush last). */
function stream(tok: GPT2Tokenizer, ids: number[], skipSpecialTokens = false): { pieces: string[]; det: IncrementalDetokenizer } {
  const det = new IncrementalDetokenizer(tok, { skipSpecialTokens });
  const pieces = ids.map((id) => det.push(id));
  pieces.push(det.flush());
  return { pieces, det };
}

describe('IncrementalDetokenizer', () => {
  const tok = gpt2();

  it('holds back characters split across tokens (emoji, CJK) and never emits U+FFFD', () => {
    const texts = ['😀', '👨‍👩‍👧‍👦 family', '👍🏽👋🏿', '🏳️‍🌈 flag', '中文字符 and 日本語', '𠜎𠜱𠝹', 'Zalgo Z\u0351\u036b\u0343', 'नमस्ते'];
    for (const s of texts) {
      const ids = tok.encode(s);
      const { pieces, det } = stream(tok, ids);
      // These strings need more tokens than characters emitted in one go, so some pushes are empty.
      expect(pieces.slice(0, -1).some((p) => p === '')).toBe(true);
      for (const p of pieces) {
        expect(p).not.toContain('\ufffd');
        expect(LONE_SURROGATE.test(p)).toBe(false);
      }
      expect(pieces.join('')).toBe(tok.decode(ids));
      expect(pieces.join('')).toBe(s);
      expect(det.text).toBe(s);
    }
  });

  it('concatenation equals decode(all) on 1000 generated strings', () => {
    const rng = makeRng(555);
    for (let i = 0; i < 1000; i++) {
      const s = randomText(rng);
      const ids = tok.encode(s);
      const { pieces } = stream(tok, ids);
      expect(pieces.join('')).toBe(s);
      for (const p of pieces) expect(LONE_SURROGATE.test(p)).toBe(false);
      const skipped = stream(tok, ids, true).pieces.join('');
      expect(skipped).toBe(tok.decode(ids, { skipSpecialTokens: true }));
    }
  });

  it('matches decode(all) on invalid or truncated UTF-8, with U+FFFD only where decode has it', () => {
    const emoji = tok.encode('😀');
    const cases = [
      emoji.slice(0, -1), // truncated at the end: flush turns the pending bytes into U+FFFD
      [...emoji.slice(0, 1), ...tok.encode(' ok')], // lead byte followed by ASCII
      [...emoji.slice(1), ...tok.encode('x')], // stray continuation bytes
      [...emoji.slice(0, -1), tok.eosTokenId, ...emoji],
    ];
    for (const ids of cases) {
      const { pieces } = stream(tok, ids);
      expect(pieces.join('')).toBe(tok.decode(ids));
      expect(tok.decode(ids)).toContain('\ufffd');
    }
    const truncated = stream(tok, emoji.slice(0, -1)).pieces;
    expect(truncated.slice(0, -1).join('')).toBe('');
    expect(truncated[truncated.length - 1]).toBe('\ufffd');
  });

  it('skips special tokens on request and rejects bad ids', () => {
    const ids = tok.encode('a<|endoftext|>b');
    expect(stream(tok, ids).pieces.join('')).toBe('a<|endoftext|>b');
    expect(stream(tok, ids, true).pieces.join('')).toBe('ab');
    expect(() => new IncrementalDetokenizer(tok).push(tok.vocabSize)).toThrow(/token id 50257/);
  });
});
