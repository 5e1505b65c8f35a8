/**
 * GPT2Tokenizer: text <-> token ids for GPT-2-family models, matching Hugging Face's GPT-2 tokenizer.
 *
 * encode: split out added tokens ("<|endoftext|>") -> pre-tokenise -> byte-level BPE per word.
 * decode: concatenate each token's bytes, then UTF-8 decode once, so characters split across tokens
 * come back whole and invalid sequences become U+FFFD (as `String::from_utf8_lossy` does in HF).
 */
import { BytePairEncoder } from './bpe.js';
import { unicodeToBytes } from './byte-unicode.js';
import { ENDOFTEXT, loadTokenizerDir, parseTokenizerJson, parseVocabAndMerges, type TokenizerSpec } from './load.js';
import { pretokenize } from './pretokenize.js';

export interface DecodeOptions {
  /** Drop special tokens such as "<|endoftext|>" from the text. */
  skipSpecialTokens?: boolean;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class GPT2Tokenizer {
  /** Number of ids, special tokens included (50257 for GPT-2). */
  readonly vocabSize: number;
  readonly eosTokenId: number;
  /** GPT-2 has no separate BOS token; like Hugging Face, it reuses "<|endoftext|>". */
  readonly bosTokenId: number;
  private readonly idToTokenTable: (string | undefined)[];
  private readonly tokenToIdMap: Map<string, number>;
  private readonly bpe: BytePairEncoder;
  /** The bytes of token `id` are `tokenBytesFlat[byteOffsets[id] .. byteOffsets[id + 1]]`. */
  private readonly tokenBytesFlat: Uint8Array;
  private readonly byteOffsets: Int32Array;
  private readonly special: Uint8Array;
  private readonly addedTokenIds = new Map<string, number>();
  /** Matches any added token, longest first; null when there are none. */
  private readonly addedTokenPattern: RegExp | null;
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(spec: TokenizerSpec) {
    const tokenToId = new Map(spec.vocab);
    for (const t of spec.addedTokens) tokenToId.set(t.content, t.id);
    this.bpe = new BytePairEncoder(tokenToId, spec.merges, spec.describeMerge, spec.vocabName);

    let maxId = 0;
    for (const id of tokenToId.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.tokenToIdMap = tokenToId;
    this.idToTokenTable = new Array<string | undefined>(this.vocabSize);
    for (const [token, id] of spec.vocab) this.idToTokenTable[id] = token;
    this.special = new Uint8Array(this.vocabSize);
    const added = new Uint8Array(this.vocabSize);
    for (const t of spec.addedTokens) {
      this.idToTokenTable[t.id] = t.content;
      this.addedTokenIds.set(t.content, t.id);
      added[t.id] = 1;
      if (t.special) this.special[t.id] = 1;
    }
    const contents = [...this.addedTokenIds.keys()].sort((a, b) => b.length - a.length);
    this.addedTokenPattern = contents.length > 0 ? new RegExp(contents.map(escapeRegExp).join('|'), 'g') : null;

    // Added tokens are plain text; vocabulary tokens are in byte-unicode form (falling back to
    // their UTF-8 bytes when they are not, as Hugging Face's ByteLevel decoder does).
    const utf8 = new TextEncoder();
    const perToken: Uint8Array[] = [];
    this.byteOffsets = new Int32Array(this.vocabSize + 1);
    for (let id = 0; id < this.vocabSize; id++) {
      const token = this.idToTokenTable[id];
      const bytes = token === undefined ? new Uint8Array(0) : added[id] ? utf8.encode(token) : (unicodeToBytes(token) ?? utf8.encode(token));
      perToken.push(bytes);
      this.byteOffsets[id + 1] = this.byteOffsets[id] + bytes.length;
    }
    this.tokenBytesFlat = new Uint8Array(this.byteOffsets[this.vocabSize]);
    perToken.forEach((b, id) => this.tokenBytesFlat.set(b, this.byteOffsets[id]));

    const eos = tokenToId.get(ENDOFTEXT);
    if (eos === undefined) throw new Error(`${spec.vocabName}: no ${ENDOFTEXT} token, which GPT-2 uses as EOS and BOS`);
    this.eosTokenId = eos;
    this.bosTokenId = eos;
  }

  /** Loads `dir/tokenizer.json`, or `dir/vocab.json` + `dir/merges.txt`. */
  static fromDir(dir: string): GPT2Tokenizer {
    return new GPT2Tokenizer(loadTokenizerDir(dir));
  }

  /** Builds from the *contents* of vocab.json and merges.txt. */
  static fromFiles(vocabJson: string, mergesTxt: string): GPT2Tokenizer {
    return new GPT2Tokenizer(parseVocabAndMerges(vocabJson, mergesTxt));
  }

  /** Builds from the *contents* of a Hugging Face tokenizer.json. */
  static fromTokenizerJson(tokenizerJson: string): GPT2Tokenizer {
    return new GPT2Tokenizer(parseTokenizerJson(tokenizerJson));
  }

  /** Token ids of `text`. Added tokens such as "<|endoftext|>" are recognised, as in Hugging Face. */
  encode(text: string): number[] {
    const out: number[] = [];
    if (this.addedTokenPattern === null) {
      this.encodeOrdinary(text, out);
      return out;
    }
    let start = 0;
    for (const m of text.matchAll(this.addedTokenPattern)) {
      this.encodeOrdinary(text.slice(start, m.index), out);
      out.push(this.addedTokenIds.get(m[0])!);
      start = m.index + m[0].length;
    }
    this.encodeOrdinary(text.slice(start), out);
    return out;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    if (text === '') return;
    for (const word of pretokenize(text)) {
      for (const id of this.bpe.encodeWord(word)) out.push(id);
    }
  }

  /** Text of `ids`; invalid UTF-8 becomes U+FFFD. Throws on an id outside the vocabulary. */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens === true;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id);
      if (!(skip && this.special[id])) total += this.byteOffsets[id + 1] - this.byteOffsets[id];
    }
    const buf = new Uint8Array(total);
    let pos = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skip && this.special[id]) continue;
      buf.set(this.tokenBytesFlat.subarray(this.byteOffsets[id], this.byteOffsets[id + 1]), pos);
      pos += this.byteOffsets[id + 1] - this.byteOffsets[id];
    }
    return this.utf8.decode(buf);
  }

  /** The raw vocabulary string, e.g. "Ġworld" for " world". */
  idToToken(id: number): string {
    this.checkId(id);
    return this.idToTokenTable[id]!;
  }

  tokenToId(token: string): number | undefined {
    return this.tokenToIdMap.get(token);
  }

  /** The bytes token `id` stands for. A view into a shared table: do not modify it. */
  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    return this.tokenBytesFlat.subarray(this.byteOffsets[id], this.byteOffsets[id + 1]);
  }

  /** True for special tokens such as "<|endoftext|>" (those `skipSpecialTokens` drops). */
  isSpecialToken(id: number): boolean {
    this.checkId(id);
    return this.special[id] === 1;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is out of range: the vocabulary has ids 0..${this.vocabSize - 1}`);
    }
    if (this.idToTokenTable[id] === undefined) throw new RangeError(`token id ${id} is not in the vocabulary`);
  }
}
