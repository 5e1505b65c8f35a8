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

/** Below this temperature sampling is greedy (vLLM's `_SAMPLING_EPS`); dividing by it would overflow. */
export const SAMPLING_EPS = 1e-5;

/** A rejected parameter. `param` is the OpenAI / vLLM (snake_case) name, e.g. `top_p`. */
export class ParamError extends Error {
  readonly param: string;
  constructor(param: string, message: string) {
    super(message);
    this.name = 'ParamError';
    this.param = param;
  }
}

/** Engine-dependent bounds: ids must lie in the vocabulary, logprobs are capped (vLLM's `max_logprobs`). */
export interface SamplingLimits {
  vocabSize?: number;
  /** Default 20. */
  maxLogprobs?: number;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

function fail(param: string, expected: string, got: unknown): never {
  throw new ParamError(param, `Invalid '${param}': expected ${expected}, but got ${show(got)} instead.`);
}

/** Absent and null both mean "use the default" (OpenAI clients send explicit nulls). */
function given(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function num(param: string, v: unknown, dflt: number, lo: number, hi: number, what: string, loOpen = false): number {
  if (!given(v)) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (loOpen ? v <= lo : v < lo) || v > hi) fail(param, what, v);
  return v;
}

function int(param: string, v: unknown, dflt: number, lo: number, hi = Number.MAX_SAFE_INTEGER): number {
  if (!given(v)) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) {
    const range = lo === Number.MIN_SAFE_INTEGER ? '' : hi === Number.MAX_SAFE_INTEGER ? ` >= ${lo}` : ` between ${lo} and ${hi}`;
    fail(param, `an integer${range}`, v);
  }
  return v;
}

function bool(param: string, v: unknown, dflt: boolean): boolean {
  if (!given(v)) return dflt;
  if (typeof v !== 'boolean') fail(param, 'a boolean', v);
  return v;
}

function tokenId(param: string, v: unknown, vocabSize: number | undefined): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || (vocabSize !== undefined && v >= vocabSize)) {
    fail(param, vocabSize === undefined ? 'token ids >= 0' : `token ids between 0 and ${vocabSize - 1}`, v);
  }
  return v;
}

function stopStrings(v: unknown): string[] {
  if (!given(v)) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) fail('stop', 'a string or an array of strings', v);
  for (const s of list as unknown[]) {
    if (typeof s !== 'string' || s.length === 0) fail('stop', 'non-empty strings', s);
  }
  return [...(list as string[])];
}

function logitBias(v: unknown, vocabSize: number | undefined): Map<number, number> | null {
  if (!given(v)) return null;
  let entries: [unknown, unknown][];
  if (v instanceof Map) entries = [...(v as Map<unknown, unknown>).entries()];
  else if (typeof v === 'object' && !Array.isArray(v)) entries = Object.entries(v as object);
  else fail('logit_bias', 'an object mapping token ids to biases', v);
  const out = new Map<number, number>();
  for (const [k, b] of entries) {
    // JSON object keys are strings: accept "123" but not "1e2", "-1" or "0x10".
    const id = typeof k === 'string' && /^\d+$/.test(k) ? Number(k) : k;
    tokenId('logit_bias', id, vocabSize);
    out.set(id as number, num('logit_bias', b, 0, -100, 100, 'bias values between -100 and 100'));
  }
  return out.size > 0 ? out : null;
}

/** Validated sampling parameters with vLLM's defaults. Build with `SamplingParams.create`. */
export class SamplingParams {
  readonly n: number;
  readonly temperature: number;
  /** 0 = off (the `-1` of the API is normalised to 0). */
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  readonly seed: number | null;
  readonly stop: readonly string[];
  readonly stopTokenIds: readonly number[];
  readonly ignoreEos: boolean;
  /** null = up to the context length. The default is 16, as in vLLM and OpenAI completions. */
  readonly maxTokens: number | null;
  readonly minTokens: number;
  readonly logprobs: number | null;
  readonly promptLogprobs: number | null;
  readonly logitBias: ReadonlyMap<number, number> | null;
  readonly includeStopStrInOutput: boolean;
  readonly skipSpecialTokens: boolean;

  private constructor(init: SamplingParamsInit, limits: SamplingLimits) {
    if (typeof init !== 'object' || init === null) throw new ParamError('sampling_params', 'Invalid sampling parameters: expected an object.');
    const vocab = limits.vocabSize;
    const maxLogprobs = limits.maxLogprobs ?? 20;
    this.n = int('n', init.n, 1, 1);
    this.temperature = num('temperature', init.temperature, 1, 0, Infinity, 'a number >= 0');
    const topK = int('top_k', init.topK, 0, -1);
    this.topP = num('top_p', init.topP, 1, 0, 1, 'a number > 0 and <= 1', true);
    this.minP = num('min_p', init.minP, 0, 0, 1, 'a number between 0 and 1');
    this.repetitionPenalty = num('repetition_penalty', init.repetitionPenalty, 1, 0, Infinity, 'a number > 0', true);
    this.presencePenalty = num('presence_penalty', init.presencePenalty, 0, -2, 2, 'a number between -2 and 2');
    this.frequencyPenalty = num('frequency_penalty', init.frequencyPenalty, 0, -2, 2, 'a number between -2 and 2');
    this.seed = given(init.seed) ? int('seed', init.seed, 0, Number.MIN_SAFE_INTEGER) : null;
    this.stop = Object.freeze(stopStrings(init.stop));
    if (given(init.stopTokenIds) && !Array.isArray(init.stopTokenIds)) fail('stop_token_ids', 'an array of token ids', init.stopTokenIds);
    this.stopTokenIds = Object.freeze((init.stopTokenIds ?? []).map((id) => tokenId('stop_token_ids', id, vocab)));
    this.ignoreEos = bool('ignore_eos', init.ignoreEos, false);
    this.maxTokens = init.maxTokens === null ? null : int('max_tokens', init.maxTokens, 16, 1);
    this.minTokens = int('min_tokens', init.minTokens, 0, 0);
    if (this.maxTokens !== null && this.minTokens > this.maxTokens) {
      fail('min_tokens', `a value <= max_tokens (${this.maxTokens})`, this.minTokens);
    }
    this.logprobs = given(init.logprobs) ? int('logprobs', init.logprobs, 0, 0, maxLogprobs) : null;
    this.promptLogprobs = given(init.promptLogprobs) ? int('prompt_logprobs', init.promptLogprobs, 0, 0, maxLogprobs) : null;
    this.logitBias = logitBias(init.logitBias, vocab);
    this.includeStopStrInOutput = bool('include_stop_str_in_output', init.includeStopStrInOutput, false);
    this.skipSpecialTokens = bool('skip_special_tokens', init.skipSpecialTokens, true);
    // Greedy ignores the truncation knobs (as vLLM does), so they cannot change the argmax.
    this.topK = this.temperature < SAMPLING_EPS ? 0 : Math.max(topK, 0);
    if (this.temperature < SAMPLING_EPS) {
      this.topP = 1;
      this.minP = 0;
    }
    Object.freeze(this);
  }

  /** Greedy decoding: temperature below 1e-5 (vLLM's threshold, which includes 0) or top_k = 1. */
  get greedy(): boolean {
    return this.temperature < SAMPLING_EPS || this.topK === 1;
  }

  /**
   * Validates `init` (or re-validates existing params against new limits) and fills in defaults.
   * Throws a `ParamError` naming the first bad parameter.
   */
  static create(init: SamplingParamsInit | SamplingParams = {}, limits: SamplingLimits = {}): SamplingParams {
    return new SamplingParams(init instanceof SamplingParams ? init.toInit() : init, limits);
  }

  /** The parameters as a plain init object (e.g. to derive a variant with a spread). */
  toInit(): SamplingParamsInit {
    return {
      n: this.n, temperature: this.temperature, topK: this.topK, topP: this.topP, minP: this.minP,
      repetitionPenalty: this.repetitionPenalty, presencePenalty: this.presencePenalty,
      frequencyPenalty: this.frequencyPenalty, seed: this.seed, stop: this.stop, stopTokenIds: this.stopTokenIds,
      ignoreEos: this.ignoreEos, maxTokens: this.maxTokens, minTokens: this.minTokens, logprobs: this.logprobs,
      promptLogprobs: this.promptLogprobs, logitBias: this.logitBias ? Object.fromEntries(this.logitBias) : null,
      includeStopStrInOutput: this.includeStopStrInOutput, skipSpecialTokens: this.skipSpecialTokens,
    };
  }
}
