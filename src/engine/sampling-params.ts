/**
 * Sampling parameters with vLLM / OpenAI semantics.
 * Validation lives here so every front end (LLM API, CLI, HTTP server) rejects the same things.
 */
export interface SamplingParamsInit {
  n?: number;
  /** 0 means greedy. */
  temperature?: number;
  /** 0 or -1 disables. */
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number | null;
  stop?: string | readonly string[] | null;
  stopTokenIds?: readonly number[] | null;
  ignoreEos?: boolean;
  /** null means "up to the context length". */
  maxTokens?: number | null;
  minTokens?: number;
  /** Number of top logprobs per generated token; null disables. 0 returns only the chosen token's. */
  logprobs?: number | null;
  promptLogprobs?: number | null;
  logitBias?: Readonly<Record<number, number>> | null;
  includeStopStrInOutput?: boolean;
  skipSpecialTokens?: boolean;
}

// class SamplingParams (validated, with defaults) is implemented below by the engine work.
