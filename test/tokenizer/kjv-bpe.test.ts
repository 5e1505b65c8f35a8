/**
 * kjv-mini's byte-level BPE (trained by scripts/train_bpe.py, GPT-2 format) through the project's
 * own tokenizer: it loads unchanged, matches the Python encoder that trained the model token for
 * token on the held-out split, and round-trips the corpus and arbitrary text exactly.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { KJV_MODEL_DIR, kjvHeldoutText, loadKjvReference } from '../helpers/kjv-mini.js';

const tok = GPT2Tokenizer.fromDir(KJV_MODEL_DIR);
const ref = loadKjvReference();
const heldout = kjvHeldoutText();

describe('kjv-mini tokenizer', () => {
  it('is a 4096-token byte-level BPE whose last id is <|endoftext|>', () => {
    const vocab = JSON.parse(readFileSync(join(KJV_MODEL_DIR, 'vocab.json'), 'utf8')) as Record<string, number>;
    const merges = readFileSync(join(KJV_MODEL_DIR, 'merges.txt'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(Object.keys(vocab).length).toBe(ref.spec.vocabSize);
    expect(merges.length).toBe(ref.spec.vocabSize - 257); // 256 bytes + merges + <|endoftext|>
    expect(tok.tokenToId('<|endoftext|>')).toBe(ref.spec.vocabSize - 1);
    expect(tok.isSpecialToken(ref.spec.vocabSize - 1)).toBe(true);
  });

  it('encodes the held-out split exactly as the Python encoder that trained the model', () => {
    const ids = tok.encode(heldout);
    expect(ids.length).toBe(ref.heldout.numTokens);
    const sha = createHash('sha256').update(new Uint8Array(Int32Array.from(ids).buffer)).digest('hex');
    expect(sha).toBe(ref.heldout.tokensSha256);
  });

  it('round-trips the held-out split, verse by verse and whole', () => {
    expect(tok.decode(tok.encode(heldout))).toBe(heldout);
    const verses = heldout.split('\n');
    expect(verses.length).toBeGreaterThan(800);
    for (const v of verses) expect(tok.decode(tok.encode(v))).toBe(v);
  });

  it('compresses scripture far better than bytes, and round-trips text it never saw', () => {
    // Learned merges: KJV prose needs well under a token per 3 characters.
    expect(heldout.length / tok.encode(heldout).length).toBeGreaterThan(3);
    for (const s of ['naïve café — 日本語 🙂', 'x = 42; // <tag attr="1">\r\n\t  ', 'Ἐν ἀρχῇ ἦν ὁ λόγος', '\u0000\u00ff\ud83d\ude00']) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('encodes the reference prompts like PyTorch did, <|endoftext|> included', () => {
    for (const p of ref.prompts) expect(tok.encode(p.text), p.name).toEqual(p.tokens);
  });
});
