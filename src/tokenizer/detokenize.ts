/**
 * Incremental detokenisation for streaming: one token at a time, text is emitted as soon as it is
 * complete. A character whose UTF-8 bytes span several tokens (emoji, CJK) is held back until its
 * last byte arrives, so a stream never shows U+FFFD or half a surrogate pair for valid output, and
 * the pieces always concatenate to `decode(allIds)`.
 */
import type { Tokenizer } from './tokenizer.js';

export interface IncrementalDetokenizerOptions {
  skipSpecialTokens?: boolean;
}

export class IncrementalDetokenizer {
  private readonly tok: Tokenizer;
  private readonly skipSpecialTokens: boolean;
  // A streaming WHATWG decoder keeps an incomplete trailing sequence between calls and applies the
  // same U+FFFD rules as a one-shot decode, which is what makes the concatenation exact.
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private emitted = '';

  constructor(tok: Tokenizer, opts: IncrementalDetokenizerOptions = {}) {
    this.tok = tok;
    this.skipSpecialTokens = opts.skipSpecialTokens === true;
  }

  /** Text that became complete with token `id` ("" while a multi-byte character is incomplete). */
  push(id: number): string {
    const bytes = this.tok.tokenBytes(id);
    if (this.skipSpecialTokens && this.tok.isSpecialToken(id)) return '';
    const piece = this.decoder.decode(bytes, { stream: true });
    this.emitted += piece;
    return piece;
  }

  /** Ends the stream: pending bytes of an incomplete character become U+FFFD. */
  flush(): string {
    const piece = this.decoder.decode();
    this.emitted += piece;
    return piece;
  }

  /** All text emitted so far. */
  get text(): string {
    return this.emitted;
  }
}
