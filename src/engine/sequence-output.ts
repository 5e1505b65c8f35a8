/**
 * Per-sequence output processing, run by `Scheduler.updateFromOutput` as each sampled token is
 * appended: incremental detokenisation, stop tokens, stop strings, min / max tokens, logprobs.
 *
 * Streaming and stop strings pull against each other: text that might turn out to be the start of a
 * stop string must not be shown yet, because a match truncates it away. So `append` holds back the
 * longest suffix of the text that is a prefix of some stop string and emits the rest. Every emitted
 * piece is final, and the pieces concatenate to `text`.
 */
import type { FinishReason, TokenLogprob } from './outputs.js';
import type { SamplingParams } from './sampling-params.js';
import { IncrementalDetokenizer, type GPT2Tokenizer } from '../tokenizer/index.js';

export interface AppendResult {
  /** New text that is safe to emit now. */
  readonly text: string;
  readonly finishReason: FinishReason | null;
  /** The stop string or stop token id that finished the sequence (EOS gives null, as in vLLM). */
  readonly stopReason: string | number | null;
}

export interface SequenceOutputOptions {
  /** The length limit, resolved once by `Scheduler.addRequest`: max_tokens and the room the context and KV pool leave. */
  readonly maxTokens: number;
  readonly eosTokenId: number;
}

/** The earliest-starting stop string that ends in the new text (after `lenBefore`); ties go to the first listed. */
function findStop(text: string, stops: readonly string[], lenBefore: number): { at: number; stop: string } | null {
  let best: { at: number; stop: string } | null = null;
  for (const stop of stops) {
    // Only matches that end in the new text are new: earlier text was searched already.
    const at = text.indexOf(stop, Math.max(0, lenBefore - stop.length + 1));
    if (at >= 0 && (best === null || at < best.at)) best = { at, stop };
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function partialStopLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  const last = text.charCodeAt(text.length - 1);
  for (const stop of stops) {
    for (let len = Math.min(stop.length - 1, text.length); len > longest; len--) {
      // Compare the last character first; most lengths fail there.
      if (stop.charCodeAt(len - 1) === last && text.endsWith(stop.slice(0, len))) {
        longest = len;
        break;
      }
    }
  }
  return longest;
}

export class SequenceOutput {
  private readonly params: SamplingParams;
  private readonly detok: IncrementalDetokenizer;
  readonly maxTokens: number;
  private readonly eosTokenId: number;
  private readonly ids: number[] = [];
  private readonly lps: TokenLogprob[] | null;
  private cumulative: number | null;
  private fullText = ''; // everything decoded so far, including held-back text
  private emittedLength = 0;
  private finish: FinishReason | null = null;
  private reason: string | number | null = null;

  constructor(params: SamplingParams, tokenizer: GPT2Tokenizer, opts: SequenceOutputOptions) {
    if (!Number.isSafeInteger(opts.maxTokens) || opts.maxTokens < 1) {
      throw new RangeError(`SequenceOutput maxTokens must be a positive integer, got ${opts.maxTokens}`);
    }
    this.params = params;
    this.detok = new IncrementalDetokenizer(tokenizer, { skipSpecialTokens: params.skipSpecialTokens });
    this.maxTokens = opts.maxTokens;
    this.eosTokenId = opts.eosTokenId;
    this.lps = params.logprobs === null ? null : [];
    this.cumulative = params.logprobs === null ? null : 0;
  }

  get tokenIds(): readonly number[] {
    return this.ids;
  }
  /** Text emitted so far (the concatenation of every `append(...).text`); final once finished. */
  get text(): string {
    return this.fullText.slice(0, this.emittedLength);
  }
  get logprobs(): readonly TokenLogprob[] | null {
    return this.lps;
  }
  get cumulativeLogprob(): number | null {
    return this.cumulative;
  }
  get finishReason(): FinishReason | null {
    return this.finish;
  }
  get stopReason(): string | number | null {
    return this.reason;
  }
  get finished(): boolean {
    return this.finish !== null;
  }

  /** Records a sampled token; returns the text that may be emitted now and whether the sequence ended. */
  append(tokenId: number, logprob: TokenLogprob | null): AppendResult {
    if (this.finish !== null) throw new Error(`append(${tokenId}) on a sequence that already finished (${this.finish})`);
    const p = this.params;
    this.ids.push(tokenId);
    if (this.lps !== null) {
      if (logprob === null) throw new Error('logprobs were requested but the sampler returned none');
      this.lps.push(logprob);
      this.cumulative! += logprob.logprob;
    }

    // min_tokens suppresses every stop condition (the sampler already masks EOS and stop ids).
    const checkStops = this.ids.length >= p.minTokens;
    const stopToken = checkStops && ((!p.ignoreEos && tokenId === this.eosTokenId) || p.stopTokenIds.includes(tokenId));
    // Like vLLM, a stop token's own text is dropped unless include_stop_str_in_output.
    let piece = stopToken && !p.includeStopStrInOutput ? '' : this.detok.push(tokenId);
    const ending = stopToken || this.ids.length >= this.maxTokens;
    if (ending) piece += this.detok.flush();
    const lenBefore = this.fullText.length;
    this.fullText += piece;

    if (stopToken) {
      this.finish = 'stop';
      this.reason = tokenId === this.eosTokenId && !p.ignoreEos ? null : tokenId;
    } else if (checkStops && p.stop.length > 0) {
      const hit = findStop(this.fullText, p.stop, lenBefore);
      if (hit !== null) {
        this.fullText = this.fullText.slice(0, hit.at + (p.includeStopStrInOutput ? hit.stop.length : 0));
        this.finish = 'stop';
        this.reason = hit.stop;
      }
    }
    if (this.finish === null && this.ids.length >= this.maxTokens) this.finish = 'length';

    const end = this.finish !== null ? this.fullText.length : this.fullText.length - partialStopLength(this.fullText, p.stop);
    const start = this.emittedLength;
    this.emittedLength = Math.max(start, end);
    return { text: this.fullText.slice(start, this.emittedLength), finishReason: this.finish, stopReason: this.reason };
  }

  /** Marks the sequence aborted (client gone, request cancelled); held-back text is dropped. */
  abort(): void {
    if (this.finish === null) this.finish = 'abort';
  }
}
