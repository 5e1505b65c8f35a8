/**
 * Request bodies of the OpenAI API: JSON schemas that Fastify validates before a handler runs (types
 * and OpenAI's documented ranges; every field may be `null`, as the API allows), the matching
 * TypeScript shapes, and the conversion to the engine's `SamplingParamsInit`.
 * Union-typed fields (`prompt`, `stop`, message `content`) are checked by hand in the handlers, where
 * an error can say which of the accepted forms was expected.
 */
import type { SamplingParamsInit } from '../engine/sampling-params.js';
import { badParam } from './errors.js';

type Schema = Record<string, unknown>;

const nullable = (type: string, extra: Schema = {}): Schema => ({ type: [type, 'null'], ...extra });
const num = (extra: Schema = {}): Schema => nullable('number', extra);
const int = (extra: Schema = {}): Schema => nullable('integer', extra);
const bool = (): Schema => nullable('boolean');

/** Largest `logprobs` / `top_logprobs` accepted (vLLM's default `max_logprobs`). */
export const MAX_LOGPROBS = 20;
/** Largest `n` accepted, as in OpenAI's API. */
export const MAX_N = 128;

/** Fields shared by /v1/completions and /v1/chat/completions. */
const samplingProperties: Schema = {
  model: nullable('string'),
  max_tokens: int({ minimum: 1 }),
  temperature: num({ minimum: 0 }),
  top_p: num({ exclusiveMinimum: 0, maximum: 1 }),
  n: int({ minimum: 1, maximum: MAX_N }),
  stream: bool(),
  stream_options: { type: ['object', 'null'], properties: { include_usage: bool() } },
  stop: {},
  seed: int(),
  presence_penalty: num({ minimum: -2, maximum: 2 }),
  frequency_penalty: num({ minimum: -2, maximum: 2 }),
  logit_bias: {
    type: ['object', 'null'],
    propertyNames: { pattern: '^-?\\d+$' },
    additionalProperties: { type: 'number', minimum: -100, maximum: 100 },
  },
  user: nullable('string'),
  // vLLM extras.
  top_k: int({ minimum: -1 }),
  min_p: num({ minimum: 0, maximum: 1 }),
  repetition_penalty: num({ exclusiveMinimum: 0 }),
  min_tokens: int({ minimum: 0 }),
  ignore_eos: bool(),
  stop_token_ids: { type: ['array', 'null'], items: { type: 'integer', minimum: 0 } },
  include_stop_str_in_output: bool(),
  skip_special_tokens: bool(),
};

export const completionBodySchema: Schema = {
  type: 'object',
  required: ['prompt'],
  properties: {
    ...samplingProperties,
    prompt: {},
    echo: bool(),
    logprobs: int({ minimum: 0, maximum: MAX_LOGPROBS }),
    best_of: int({ minimum: 1 }),
    suffix: nullable('string'),
  },
};

const messagesSchema: Schema = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    required: ['role'],
    properties: { role: { type: 'string' }, content: {}, name: nullable('string') },
  },
};

export const chatBodySchema: Schema = {
  type: 'object',
  required: ['messages'],
  properties: {
    ...samplingProperties,
    messages: messagesSchema,
    max_completion_tokens: int({ minimum: 1 }),
    logprobs: bool(),
    top_logprobs: int({ minimum: 0, maximum: MAX_LOGPROBS }),
    add_generation_prompt: bool(),
    tools: nullable('array'),
  },
};

export const tokenizeBodySchema: Schema = {
  type: 'object',
  properties: {
    model: nullable('string'),
    prompt: { type: 'string' },
    messages: messagesSchema,
    add_generation_prompt: bool(),
    return_token_strs: bool(),
  },
};

export const detokenizeBodySchema: Schema = {
  type: 'object',
  required: ['tokens'],
  properties: { model: nullable('string'), tokens: { type: 'array', items: { type: 'integer', minimum: 0 } } },
};

/** Fields both endpoints accept, after schema validation. */
export interface SamplingRequest {
  model?: string | null;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  stop?: unknown;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  user?: string | null;
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  min_tokens?: number | null;
  ignore_eos?: boolean | null;
  stop_token_ids?: number[] | null;
  include_stop_str_in_output?: boolean | null;
  skip_special_tokens?: boolean | null;
}

export interface CompletionRequest extends SamplingRequest {
  prompt: unknown;
  echo?: boolean | null;
  logprobs?: number | null;
  best_of?: number | null;
  suffix?: string | null;
}

export interface ChatMessageIn {
  role: string;
  content?: unknown;
  name?: string | null;
}

export interface ChatRequest extends SamplingRequest {
  messages: ChatMessageIn[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  add_generation_prompt?: boolean | null;
  tools?: unknown[] | null;
}

export interface TokenizeRequest {
  model?: string | null;
  prompt?: string;
  messages?: ChatMessageIn[];
  add_generation_prompt?: boolean | null;
  /** Also return each token's own text (`token_strs`), e.g. to show token boundaries. */
  return_token_strs?: boolean | null;
}

export interface DetokenizeRequest {
  model?: string | null;
  tokens: number[];
}

/** `stop`: a string, an array of strings, or null. */
export function parseStop(stop: unknown): string[] {
  if (stop === undefined || stop === null) return [];
  if (typeof stop === 'string') return stop.length > 0 ? [stop] : [];
  if (Array.isArray(stop) && stop.every((s): s is string => typeof s === 'string')) {
    return stop.filter((s) => s.length > 0);
  }
  throw badParam('stop', "Invalid value for 'stop': must be a string or an array of strings.");
}

/** `null` and absent both mean "use the default". */
function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
}

/**
 * Sampling parameters common to both endpoints. `stop` must already be normalised, and the caller
 * sets `maxTokens` and the logprobs fields, whose defaults differ between the endpoints.
 */
export function toSamplingParams(req: SamplingRequest, stop: string[]): SamplingParamsInit {
  const bias = req.logit_bias;
  const init: SamplingParamsInit = {
    n: opt(req.n),
    temperature: opt(req.temperature),
    topP: opt(req.top_p),
    topK: opt(req.top_k),
    minP: opt(req.min_p),
    repetitionPenalty: opt(req.repetition_penalty),
    presencePenalty: opt(req.presence_penalty),
    frequencyPenalty: opt(req.frequency_penalty),
    seed: opt(req.seed),
    stop,
    stopTokenIds: opt(req.stop_token_ids),
    ignoreEos: opt(req.ignore_eos),
    minTokens: opt(req.min_tokens),
    includeStopStrInOutput: opt(req.include_stop_str_in_output),
    skipSpecialTokens: opt(req.skip_special_tokens),
    logitBias: bias ? Object.fromEntries(Object.entries(bias).map(([k, v]) => [Number(k), v])) : undefined,
  };
  // Drop unset keys so the engine's defaults apply.
  for (const k of Object.keys(init) as (keyof SamplingParamsInit)[]) if (init[k] === undefined) delete init[k];
  return init;
}
