/**
 * Speculative decoding counters (vLLM's spec_decode metrics): drafts verified, draft tokens proposed,
 * draft tokens the target accepted, and per draft position how often it was accepted (position i
 * counts only when positions 0..i all were, as acceptance stops at the first mismatch).
 */

export interface SpecDecodeStats {
  readonly numDrafts: number;
  readonly numDraftTokens: number;
  readonly numAcceptedTokens: number;
  /** Index i: accepted tokens at draft position i. */
  readonly acceptedPerPos: readonly number[];
}

export class SpecDecodeCounters {
  numDrafts = 0;
  numDraftTokens = 0;
  numAcceptedTokens = 0;
  readonly acceptedPerPos: number[];

  constructor(numSpeculativeTokens: number) {
    this.acceptedPerPos = new Array<number>(numSpeculativeTokens).fill(0);
  }

  /** One verified draft of `numDraft` tokens of which the first `accepted` matched. */
  record(numDraft: number, accepted: number): void {
    if (numDraft === 0) return;
    this.numDrafts++;
    this.numDraftTokens += numDraft;
    this.numAcceptedTokens += accepted;
    for (let i = 0; i < accepted; i++) this.acceptedPerPos[i]!++;
  }

  snapshot(): SpecDecodeStats {
    return { numDrafts: this.numDrafts, numDraftTokens: this.numDraftTokens, numAcceptedTokens: this.numAcceptedTokens, acceptedPerPos: [...this.acceptedPerPos] };
  }
}
