/**
 * Llama 3 and Qwen3 tokenizers from their real tokenizer.json files, against transformers.js's
 * tokenizer (@lenml/tokenizers) on generated text, plus values recorded from Hugging Face's Rust
 * `tokenizers` where transformers.js differs from it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IncrementalDetokenizer, Tokenizer } from '../../src/tokenizer/index.js';
import { FIXTURE_DIR, makeRng, randomText, type Rng } from './helpers.js';
import { LLAMA31_POST_PROCESSOR, oracle, ours, readJson, type HfModel } from './hf-helpers.js';

const SPECIALS: Record<HfModel, string[]> = {
  llama3: ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>', '<|reserved_special_token_7|>'],
  qwen3: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<think>', '</think>', '<tool_call>', '<|fim_prefix|>'],
};
const LOOKALIKES = ['<|', '|>', '<|eot_id', 'eot_id|>', '<think', '<|im_start', '< think>', '<|IM_END|>'];

/**
 * Generated text with the model's special tokens and near-misses spliced in. transformers.js reads
 * `\s` as JavaScript does (U+FEFF in, U+0085 out), unlike the Rust library; those two characters are
 * swapped for others here and checked against recorded Rust values below.
 */
function sample(rng: Rng, model: HfModel): string {
  let s = randomText(rng).replace(/[\u0085\ufeff]/g, (c) => (c === '\u0085' ? '\u2029' : '\u200b'));
  const inserts = rng() < 0.4 ? Math.floor(rng() * 4) + 1 : 0;
  for (let i = 0; i < inserts; i++) {
    const pool = rng() < 0.7 ? SPECIALS[model] : LOOKALIKES;
    const at = Math.floor(rng() * (s.length + 1));
    // Never between the halves of a surrogate pair.
    const pos = at > 0 && at < s.length && /[\ud800-\udbff]/.test(s[at - 1]) ? at + 1 : at;
    s = s.slice(0, pos) + pool[Math.floor(rng() * pool.length)] + s.slice(pos);
  }
  return s;
}

const tmp = mkdtempSync(join(tmpdir(), 'tinyvllm-hftok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

for (const model of ['llama3', 'qwen3'] as const) {
  describe(`${model} tokenizer.json`, () => {
    const tok = ours(model);
    const ref = oracle(readJson(model, 'tokenizer.json'), readJson(model, 'tokenizer_config.json'));

    it('loads the vocabulary, added tokens and special-token names', () => {
      expect(tok.vocabSize).toBe(model === 'llama3' ? 128256 : 151669);
      expect(tok.eosToken).toBe(model === 'llama3' ? '<|end_of_text|>' : '<|im_end|>');
      expect(tok.eosTokenId).toBe(model === 'llama3' ? 128001 : 151645);
      expect(tok.bosTokenId).toBe(model === 'llama3' ? 128000 : null);
      expect(tok.chatTemplate).toContain(model === 'llama3' ? '<|start_header_id|>' : '<|im_start|>');
    });

    it('encodes 2500 generated strings exactly like transformers.js, and decodes them back', () => {
      const rng = makeRng(model === 'llama3' ? 31 : 32);
      let mismatches = 0;
      for (let i = 0; i < 2500; i++) {
        const s = sample(rng, model);
        const ids = tok.encode(s);
        // Compare first as a cheap boolean so a failure reports only the offending string.
        if (ids.join() !== ref.encode(s).join()) {
          mismatches++;
          expect({ s, ids }).toEqual({ s, ids: ref.encode(s) });
        }
        // No NFC here for Llama 3; Qwen normalizes, so its round trip is the NFC form.
        expect(tok.decode(ids)).toBe(model === 'qwen3' ? s.normalize('NFC') : s);
        const skip = tok.decode(ids, { skipSpecialTokens: true });
        expect(skip).toBe(ref.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }));
      }
      expect(mismatches).toBe(0);
    });

    it('matches on targeted cases: contractions, digit runs, whitespace runs, code, specials', () => {
      const cases = [
        "I'M HE'S THEY'RE WE'VE I'LL SHE'D DON'T", "x's's 'S'T'Re", '12345678901234567890', '3.14 1,000,000 ١٢٣ ४२ ２０２４',
        '   ', '\t\t\t', '\n\n\n', 'a   \n\n  b', ' \r\n\r\n  x', 'trailing   ', 'x'.repeat(500), ' '.repeat(300),
        'def f(x):\n    return x**2  # sq\n', '<|eot_id|><|eot_id|>x<|eot_id', '<think>\nhm\n</think>\n\nok', 'e\u0301 caf\u00e9 Å Å',
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', 'ǅemal ΣΑΣ 𝔘𝔫𝔦 👨‍👩‍👧‍👦🇯🇵',
      ];
      for (const s of cases) expect({ s, ids: tok.encode(s) }).toEqual({ s, ids: ref.encode(s) });
    });

    it('streams text that concatenates to decode(ids), never showing half a character', () => {
      const rng = makeRng(77);
      for (let i = 0; i < 100; i++) {
        const ids = tok.encode(sample(rng, model));
        const det = new IncrementalDetokenizer(tok, { skipSpecialTokens: true });
        const pieces = ids.map((id) => det.push(id));
        pieces.push(det.flush());
        expect(pieces.join('')).toBe(tok.decode(ids, { skipSpecialTokens: true }));
        for (const p of pieces) expect(/[\ud800-\udfff]/u.test(p)).toBe(false);
      }
    });
  });
}

describe('agreement with the Rust library where transformers.js differs', () => {
  // Recorded with Hugging Face tokenizers' Rust code (via the @anush008/tokenizers 0.6.0 binding):
  // U+0085 is whitespace to Oniguruma and U+FEFF is not; Llama 3's (?i:'s) also matches "'ſ".
  const recorded: Record<HfModel, Record<string, number[]>> = {
    llama3: {
      'a\u0085\u0085b': [64, 116360, 116360, 65], 'x \ufeff\ufeffy': [87, 76880, 3305, 88], 'Hi\u0085 there\ufeff!': [13347, 116360, 1070, 3305, 0],
      "it'\u017f ok": [275, 6, 129, 123, 5509], "WE'LL \u0085 \ufeff 12345": [12739, 6, 4178, 2188, 227, 76880, 220, 4513, 1774],
    },
    qwen3: {
      'a\u0085\u0085b': [64, 126, 227, 126, 227, 65], 'x \ufeff\ufeffy': [87, 75780, 3225, 88], 'Hi\u0085 there\ufeff!': [13048, 126, 227, 1052, 3225, 0],
      "it'\u017f ok": [275, 6, 144815, 5394], "WE'LL \u0085 \ufeff 12345": [12457, 6, 4086, 2139, 227, 75780, 220, 16, 17, 18, 19, 20],
    },
  };
  for (const model of ['llama3', 'qwen3'] as const) {
    it(model, () => {
      for (const [s, ids] of Object.entries(recorded[model])) expect({ s, ids: ours(model).encode(s) }).toEqual({ s, ids });
    });
  }
});

describe("Llama 3.1's TemplateProcessing post-processor", () => {
  const json = { ...readJson('llama3', 'tokenizer.json'), post_processor: LLAMA31_POST_PROCESSOR };
  const config = readJson('llama3', 'tokenizer_config.json');
  const dir = mkdtempSync(join(tmp, 'llama31-'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  const tok = Tokenizer.fromDir(dir);
  const ref = oracle(json, config);

  it('prepends <|begin_of_text|> unless addSpecialTokens is false, like transformers.js', () => {
    for (const s of ['Hello world', '', '<|begin_of_text|>already', ' x\n']) {
      expect(tok.encode(s)).toEqual(ref.encode(s));
      expect(tok.encode(s, { addSpecialTokens: false })).toEqual(ref.encode(s, { add_special_tokens: false }));
    }
    expect(tok.encode('Hi')[0]).toBe(128000);
    expect(tok.decode(tok.encode('Hi'), { skipSpecialTokens: true })).toBe('Hi');
  });
});

describe('SmolLM2-style pipeline (Digits + ByteLevel) on the GPT-2 vocabulary', () => {
  // No npm package ships SmolLM2's tokenizer.json; its pre-tokenizer is Digits(individual_digits)
  // then ByteLevel with GPT-2's regex, checked here against transformers.js on GPT-2's vocabulary.
  const vocab = JSON.parse(readFileSync(join(FIXTURE_DIR, 'vocab.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(join(FIXTURE_DIR, 'merges.txt'), 'utf8').split('\n').slice(1).filter((l) => l !== '');
  const json = {
    version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }] },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges },
  };
  const tok = Tokenizer.fromTokenizerJson(JSON.stringify(json));
  const ref = oracle(json, { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>' });

  it('encodes 1000 generated strings like transformers.js, one token per digit', () => {
    const rng = makeRng(33);
    for (let i = 0; i < 1000; i++) {
      // transformers.js's Digits only knows 0-9 (Rust: every \p{N}, recorded below); and its \s quirks.
      const s = randomText(rng).replace(/[\u0085\ufeff]/g, (c) => (c === '\u0085' ? '\u2029' : '\u200b')).replace(/(?![0-9])\p{N}/gu, '#');
      const ids = tok.encode(s);
      if (ids.join() !== ref.encode(s).join()) expect({ s, ids }).toEqual({ s, ids: ref.encode(s) });
    }
    expect(tok.encode('in 2024').map((id) => tok.decode([id]))).toEqual(['in', ' ', '2', '0', '2', '4']);
  });

  it('isolates every Unicode number like the Rust library (recorded values)', () => {
    const recorded: Record<string, string[]> = {
      ' ½4': ['Ġ', 'Â½', '4'], ' ²1': ['Ġ', 'Â²', '1'], "can'm\n\n४": ['can', "'m", 'ĊĊ', 'à¥', 'ª'],
      ' Ⅻ': ['Ġ', 'â', 'ħ', '«'], ' ١': ['Ġ', 'Ù', '¡'],
    };
    for (const [s, tokens] of Object.entries(recorded)) expect({ s, tokens: tok.encode(s).map((id) => tok.idToToken(id)) }).toEqual({ s, tokens });
  });
});
