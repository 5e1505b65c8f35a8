/**
 * Added tokens ("<|endoftext|>", "<|im_start|>", "<think>", ...) are found in the text before
 * anything else and never split. Like Hugging Face, the leftmost-longest match wins; `lstrip` /
 * `rstrip` swallow the whitespace beside a match and `single_word` only matches a whole word.
 */
import { escapeRegExp, ONIG_SPACE_CLASS } from './hf-regex.js';

/** A token matched verbatim in the input before pre-tokenisation, e.g. "<|endoftext|>". */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  /** Special tokens are dropped by `decode(..., { skipSpecialTokens: true })`. */
  readonly special: boolean;
  readonly lstrip?: boolean;
  readonly rstrip?: boolean;
  readonly singleWord?: boolean;
  /** Matched in normalized text rather than the raw input (Hugging Face's default: `!special`). */
  readonly normalized?: boolean;
}

/** Ordinary text (a string) or an added token's id. */
export type Segment = string | number;

const SPACE_BEFORE = new RegExp(`[${ONIG_SPACE_CLASS}]+$`, 'u');
const SPACE_AFTER = new RegExp(`^[${ONIG_SPACE_CLASS}]+`, 'u');
const WORD_CHAR = /[\p{L}\p{N}_]/u;

export class AddedTokenMatcher {
  private readonly byContent = new Map<string, AddedToken>();
  private readonly pattern: RegExp | null;

  constructor(tokens: readonly AddedToken[]) {
    for (const t of tokens) this.byContent.set(t.content, t);
    const contents = [...this.byContent.keys()].sort((a, b) => b.length - a.length);
    this.pattern = contents.length > 0 ? new RegExp(contents.map(escapeRegExp).join('|'), 'g') : null;
  }

  /** Cuts `text` into ordinary pieces and added-token ids, in order; pieces are never empty. */
  split(text: string): Segment[] {
    if (this.pattern === null || text === '') return text === '' ? [] : [text];
    const out: Segment[] = [];
    const re = new RegExp(this.pattern.source, 'g');
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const tok = this.byContent.get(m[0])!;
      let start = m.index;
      let end = start + m[0].length;
      if (tok.singleWord === true && ((start > 0 && WORD_CHAR.test(text[start - 1])) || (end < text.length && WORD_CHAR.test(text[end])))) {
        re.lastIndex = start + 1;
        continue;
      }
      if (tok.lstrip === true) start -= SPACE_BEFORE.exec(text.slice(last, start))?.[0].length ?? 0;
      if (tok.rstrip === true) end += SPACE_AFTER.exec(text.slice(end))?.[0].length ?? 0;
      if (start > last) out.push(text.slice(last, start));
      out.push(tok.id);
      last = end;
      re.lastIndex = end;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
}
