/** Shared test helpers: the real GPT-2 tokenizer files and a seeded generator of varied text. */
import { fileURLToPath } from 'node:url';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { mulberry32 } from '../helpers/random.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/gpt2-tokenizer', import.meta.url));

let cached: GPT2Tokenizer | undefined;
/** The real GPT-2 tokenizer, loaded once per test file. */
export function gpt2(): GPT2Tokenizer {
  cached ??= GPT2Tokenizer.fromDir(FIXTURE_DIR);
  return cached;
}

export type Rng = () => number;

export const makeRng: (seed: number) => Rng = mulberry32;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)];
}

function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

const WORDS = ['the', 'Hello', 'world', 'tokenizer', 'GPT', 'inference', 'cache', 'a', 'I', 'x', 'naïve', 'café',
  'ünïcödé', 'Straße', 'résumé', 'déjà', 'vu', 'OpenAI', 'QUICK', 'brown', 'fox', 'jumps', 'antidisestablishmentarianism'];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "'", "''", "'x"];
const SCRIPTS = ['中文字符', '日本語のテキスト', 'カタカナ', '한국어 문장', 'مرحبا بالعالم', 'नमस्ते दुनिया', 'Привет мир',
  'Γειά σου Κόσμε', 'שלום עולם', 'สวัสดีชาวโลก', 'ქართული', 'Ελληνικά', 'tiếng Việt', 'ǅemal', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '𠜎𠜱𠝹'];
const COMBINING = ['e\u0301', 'a\u0308', 'n\u0303', 'Z\u0351\u036b\u0343\u036a\u0302', 'o\u0338', '\u0301', 'क\u093f', 'ـ\u064e'];
const EMOJI = ['😀', '👍', '👍🏽', '👋🏿', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇯🇵', '🇺🇸', '1️⃣', '❤️', '🧑🏻‍💻', '🤷‍♀️', '✨', '🐍', '\u200d', '\ufe0f'];
const NUMBERS = ['0', '42', '3.14159', '1,000,000', '2024-01-01', '007', '١٢٣', '४२', '１２３', '²', '½', 'Ⅻ', '1e-9', '0xFF'];
const PUNCT = ['.', ',', '!', '?', '...', '?!', '—', '–', '"', '“', '”', '«', '»', '(', ')', '[', ']', '{', '}', '<', '>', '@',
  '#', '$', '%', '^', '&', '*', '_', '+', '=', '/', '\\', '|', '~', '`', ';', ':', '-', '--', '¿', '¡', '€', '£', '¥', '§'];
const SPACES = [' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', ' \n', '\n ', ' \t ', '\u00a0', '\u3000', '\u2003',
  '\u000b', '\u000c', '\u0085', '\u2028', '\ufeff', '    ', '\n\n\n   ', ' \r\n\t '];
const CODE = ['function f(x) { return x + 1; }', 'def foo(bar):\n    return bar ** 2\n', '<div class="a">hi</div>',
  'if (a && b) {\n\tx++;\n}', 'const y = [1, 2, 3].map((v) => v * 2);', '#include <stdio.h>\nint main(void) {}',
  'SELECT * FROM t WHERE id = 7;', '{"key": "value", "n": [1, 2]}', 'x_1 = y__2 // 3', '    indented\n        more'];
const SPECIAL = ['<|endoftext|>', '<|endoftext', 'endoftext|>', '<|', '|>', '<|endoftext|><|endoftext|>'];

/** A random code point from a few broad ranges (never a lone surrogate). */
function randomCodePoint(rng: Rng): string {
  const ranges: [number, number][] = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x52f], [0x590, 0x6ff], [0x900, 0x97f],
    [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x1f300, 0x1faff], [0x0, 0x1f], [0x2000, 0x206f]];
  const [lo, hi] = pick(rng, ranges);
  return String.fromCodePoint(int(rng, lo, hi));
}

function fragment(rng: Rng, ascii: boolean): string {
  const kind = int(rng, 0, ascii ? 5 : 11);
  switch (kind) {
    case 0: return pick(rng, WORDS.filter((w) => /^[\x20-\x7e]*$/.test(w)));
    case 1: return pick(rng, ['I', 'you', 'they', 'WE', 'it', 'He', 'don', 'can']) + pick(rng, CONTRACTIONS.filter((c) => c !== "''"));
    case 2: return pick(rng, NUMBERS.filter((n) => !ascii || /^[0-9.e-]*$/.test(n))) + (rng() < 0.3 ? String(int(rng, 0, 99999)) : '');
    case 3: return pick(rng, [' ', '  ', '\t', '\n', '\n\n', '   ', ' \n ']);
    case 4: return pick(rng, PUNCT.filter((p) => /^[\x20-\x7e]*$/.test(p) && p !== ','));
    case 5: return pick(rng, WORDS.filter((w) => /^[a-zA-Z]*$/.test(w))).toUpperCase();
    case 6: return pick(rng, SCRIPTS);
    case 7: return pick(rng, COMBINING);
    case 8: return pick(rng, EMOJI);
    case 9: return pick(rng, SPACES);
    case 10: return rng() < 0.5 ? pick(rng, CODE) : pick(rng, SPECIAL);
    default: return Array.from({ length: int(rng, 1, 6) }, () => randomCodePoint(rng)).join('');
  }
}

/**
 * A varied string: scripts, combining marks, emoji (ZWJ, skin tones, flags), whitespace runs,
 * contractions, numbers, punctuation, code and special-token lookalikes. With `ascii`, only
 * printable ASCII, spaces, tabs and newlines, and no commas or special tokens.
 */
export function randomText(rng: Rng, ascii = false): string {
  const n = int(rng, 1, 24);
  let s = rng() < 0.2 ? pick(rng, [' ', '\n', '  ', '\t']) : '';
  for (let i = 0; i < n; i++) {
    s += fragment(rng, ascii);
    if (rng() < 0.6) s += ascii ? pick(rng, [' ', ' ', ' ', '  ', '\n']) : pick(rng, [' ', ' ', ' ', ...SPACES]);
  }
  return s;
}
