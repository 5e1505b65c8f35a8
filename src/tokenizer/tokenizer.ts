/**
 * Tokenizer: text <-> token ids for byte-level BPE models (GPT-2, Llama 3, Qwen2/2.5/3, SmolLM2),
 * matching Hugging Face's fast tokenizers.
 *
 * encode: split out added tokens ("<|im_start|>") -> normalize -> pre-tokenise -> byte-level BPE per
 * word -> the post-processor's special tokens (Llama 3.1's BOS) when `addSpecialTokens` is on.
 * decode: concatenate each token's bytes, then UTF-8 decode once, so characters split across tokens
 * come back whole and invalid sequences become U+FFFD (as `String::from_utf8_lossy` does in HF).
 * Spaces are never "cleaned up" (`clean_up_tokenization_spaces`), so streamed pieces always
 * concatenate to the decoded text.
 */
import { AddedTokenMatcher } from './added-tokens.js';
import { BytePairEncoder } from './bpe.js';
import { unicodeToBytes } from './byte-unicode.js';
import { ENDOFTEXT, loadTokenizerDir, parseVocabAndMerges, type TokenizerSpec } from './load.js';
import type { Normalizer } from './normalizer.js';
import type { SpecialWrap } from './post-processor.js';
import { type PreTokenizer } from './pre-tokenizer.js';
import { pretokenize } from './pretokenize.js';
import { parseTokenizerJson } from './tokenizer-json.js';

export interface EncodeOptions {
  /** Add the post-processor's special tokens, e.g. Llama 3.1's BOS (default true, as in HF). */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens such as "<|endoftext|>" from the text. */
  skipSpecialTokens?: boolean;
}

const gpt2PreTokenizer: PreTokenizer = (pieces) => pieces.flatMap(pretokenize);

export class Tokenizer {
  /** Number of ids, special tokens included (50257 for GPT-2, 128256 for Llama 3). */
  readonly vocabSize: number;
  /** tokenizer_config.json's `eos_token`, else "<|endoftext|>". */
  readonly eosToken: string;
  readonly eosTokenId: number;
  /** tokenizer_config.json's `bos_token`; GPT-2 (no config) reuses "<|endoftext|>" like HF; else null. */
  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  /** Jinja chat template from tokenizer_config.json / chat_template.jinja, or null (GPT-2). */
  readonly chatTemplate: string | null;
  private readonly idToTokenTable: (string | undefined)[];
  private readonly tokenToIdMap: Map<string, number>;
  private readonly bpe: BytePairEncoder;
  /** The bytes of token `id` are `tokenBytesFlat[byteOffsets[id] .. byteOffsets[id + 1]]`. */
  private readonly tokenBytesFlat: Uint8Array;
  private readonly byteOffsets: Int32Array;
  private readonly special: Uint8Array;
  /** Added tokens matched in the raw text, and those matched after normalization. */
  private readonly rawAdded: AddedTokenMatcher;
  private readonly normalizedAdded: AddedTokenMatcher;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer;
  private readonly wrap: SpecialWrap;
  private readonly utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(spec: TokenizerSpec) {
    const tokenToId = new Map(spec.vocab);
    for (const t of spec.addedTokens) tokenToId.set(t.content, t.id);
    this.bpe = new BytePairEncoder(tokenToId, spec.merges, spec.describeMerge, spec.vocabName, spec.ignoreMerges === true ? spec.vocab : null);
    this.rawAdded = new AddedTokenMatcher(spec.addedTokens.filter((t) => t.normalized !== true));
    this.normalizedAdded = new AddedTokenMatcher(spec.addedTokens.filter((t) => t.normalized === true));
    this.normalizer = spec.normalizer ?? null;
    this.preTokenizer = spec.preTokenizer ?? gpt2PreTokenizer;
    this.wrap = spec.wrap ?? { prefix: [], suffix: [] };

    let maxId = 0;
    for (const id of tokenToId.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.tokenToIdMap = tokenToId;
    this.idToTokenTable = new Array<string | undefined>(this.vocabSize);
    for (const [token, id] of spec.vocab) this.idToTokenTable[id] = token;
    this.special = new Uint8Array(this.vocabSize);
    for (const t of spec.addedTokens) {
      this.idToTokenTable[t.id] = t.content;
      if (t.special) this.special[t.id] = 1;
    }

    // Like Hugging Face's ByteLevel decoder (which added tokens pass through too), a token in
    // byte-unicode form stands for those bytes, any other for its UTF-8 text ("<|im_end|>" is both).
    const utf8 = new TextEncoder();
    const perToken: Uint8Array[] = [];
    this.byteOffsets = new Int32Array(this.vocabSize + 1);
    for (let id = 0; id < this.vocabSize; id++) {
      const token = this.idToTokenTable[id];
      const bytes = token === undefined ? new Uint8Array(0) : (unicodeToBytes(token) ?? utf8.encode(token));
      perToken.push(bytes);
      this.byteOffsets[id + 1] = this.byteOffsets[id] + bytes.length;
    }
    this.tokenBytesFlat = new Uint8Array(this.byteOffsets[this.vocabSize]);
    perToken.forEach((b, id) => this.tokenBytesFlat.set(b, this.byteOffsets[id]));

    const config = spec.config;
    const idOf = (token: string, key: string): number => {
      const id = tokenToId.get(token);
      if (id === undefined) throw new Error(`tokenizer_config.json: ${key} ${JSON.stringify(token)} is not in ${spec.vocabName}`);
      return id;
    };
    this.chatTemplate = config?.chatTemplate ?? null;
    if (config?.eosToken) {
      this.eosToken = config.eosToken;
      this.eosTokenId = idOf(config.eosToken, 'eos_token');
    } else {
      const eos = tokenToId.get(ENDOFTEXT);
      if (eos === undefined) throw new Error(`${spec.vocabName}: no EOS token (no ${ENDOFTEXT}, and no tokenizer_config.json eos_token)`);
      this.eosToken = ENDOFTEXT;
      this.eosTokenId = eos;
    }
    if (config?.bosToken) {
      this.bosToken = config.bosToken;
      this.bosTokenId = idOf(config.bosToken, 'bos_token');
    } else {
      const gpt2Style = !config?.eosToken && config?.chatTemplate == null;
      this.bosToken = gpt2Style ? this.eosToken : null;
      this.bosTokenId = gpt2Style ? this.eosTokenId : null;
    }
  }

  /** Loads `dir/tokenizer.json`, or `dir/vocab.json` + `dir/merges.txt`. */
  static fromDir(dir: string): Tokenizer {
    return new Tokenizer(loadTokenizerDir(dir));
  }

  /** Builds from the *contents* of vocab.json and merges.txt. */
  static fromFiles(vocabJson: string, mergesTxt: string): Tokenizer {
    return new Tokenizer(parseVocabAndMerges(vocabJson, mergesTxt));
  }

  /** Builds from the *contents* of a Hugging Face tokenizer.json. */
  static fromTokenizerJson(tokenizerJson: string): Tokenizer {
    return new Tokenizer(parseTokenizerJson(tokenizerJson));
  }

  /**
   * Token ids of `text`. Added tokens such as "<|im_start|>" are recognised anywhere, as in Hugging
   * Face; `addSpecialTokens: false` leaves out the post-processor's BOS/EOS (chat prompts carry theirs).
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const add = opts.addSpecialTokens !== false;
    const out: number[] = add ? [...this.wrap.prefix] : [];
    for (const seg of this.rawAdded.split(text)) {
      if (typeof seg === 'number') {
        out.push(seg);
        continue;
      }
      const normalized = this.normalizer === null ? seg : this.normalizer(seg);
      for (const piece of this.normalizedAdded.split(normalized)) {
        if (typeof piece === 'number') out.push(piece);
        else for (const word of this.preTokenizer([piece])) for (const id of this.bpe.encodeWord(word)) out.push(id);
      }
    }
    if (add) out.push(...this.wrap.suffix);
    return out;
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

/** The former name, kept for existing callers: every byte-level BPE tokenizer is a `Tokenizer`. */
export { Tokenizer as GPT2Tokenizer };
