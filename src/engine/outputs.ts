/** What the engine returns to callers, shaped after vLLM's RequestOutput / CompletionOutput. */
import type { SpecDecodeStats } from './spec/stats.js';

export type FinishReason = 'stop' | 'length' | 'abort';

/** One candidate token with its log-probability. `token` is the decoded text of that token alone. */
export interface TopLogprob {
  readonly tokenId: number;
  readonly token: string;
  readonly logprob: number;
}

/** Log-probability information for one position (a generated token, or a prompt token). */
export interface TokenLogprob extends TopLogprob {
  /** 1-based rank of the chosen token in the distribution. */
  readonly rank: number;
  /** The `logprobs` most likely tokens, most likely first. */
  readonly top: readonly TopLogprob[];
}

export interface CompletionOutput {
  /** Index among the `n` samples of the request. */
  readonly index: number;
  /** Text produced. In a streamed delta, only the new text since the previous delta. */
  readonly text: string;
  /** Token ids produced. In a streamed delta, only the new ids. */
  readonly tokenIds: readonly number[];
  /** Per generated token, when `logprobs` was asked for. In a delta, only the new entries. */
  readonly logprobs: readonly TokenLogprob[] | null;
  /** Sum of the chosen tokens' logprobs so far (null unless logprobs were asked for). */
  readonly cumulativeLogprob: number | null;
  /** Set once this sample finished. */
  readonly finishReason: FinishReason | null;
  /** The stop string or stop token id that ended it, if any. */
  readonly stopReason: string | number | null;
}

export interface RequestMetrics {
  /** `performance.now()`-style milliseconds. */
  readonly arrivalTime: number;
  readonly firstScheduledTime: number | null;
  readonly firstTokenTime: number | null;
  readonly lastTokenTime: number | null;
  readonly finishedTime: number | null;
  /** Prompt tokens that were served from the prefix cache. */
  readonly numCachedTokens: number;
}

export interface RequestOutput {
  readonly requestId: string;
  readonly prompt: string | null;
  readonly promptTokenIds: readonly number[];
  /** Per prompt token (the first is null), when `promptLogprobs` was asked for. */
  readonly promptLogprobs: readonly (TokenLogprob | null)[] | null;
  readonly outputs: readonly CompletionOutput[];
  /** True once every sample of the request finished. */
  readonly finished: boolean;
  readonly metrics: RequestMetrics;
}

/** Engine-wide counters, for `/metrics`, benchmarks and tests. */
export interface EngineStats {
  readonly numRunning: number;
  readonly numWaiting: number;
  /** Fraction of KV blocks in use, 0..1. */
  readonly kvCacheUsage: number;
  readonly numBlocks: number;
  /** Tokens per KV block. */
  readonly blockSize: number;
  readonly numFreeBlocks: number;
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  readonly numPreemptions: number;
  readonly promptTokens: number;
  readonly generationTokens: number;
  /** Speculative decoding counters, when the engine speculates. */
  readonly specDecode?: SpecDecodeStats;
}
