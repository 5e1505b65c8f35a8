/**
 * Caller-side request preparation, run by the engine client (`AsyncLLM`, `LLM`): tokenises text prompts, checks
 * token-id prompts and the context length, and validates sampling parameters, so that every bad
 * input fails at once with a `ParamError` naming the culprit, before the engine sees it.
 */
import type { GPT2Tokenizer } from '../tokenizer/index.js';
import type { PromptInput } from './engine-client.js';
import { ParamError, SamplingParams, type SamplingParamsInit } from './sampling-params.js';

export interface PreparedRequest {
  readonly prompt: string | null;
  readonly promptTokenIds: number[];
  readonly params: SamplingParams;
}

export function prepareRequest(
  tokenizer: GPT2Tokenizer,
  vocabSize: number,
  maxModelLen: number,
  input: PromptInput,
  init: SamplingParamsInit | SamplingParams = {},
): PreparedRequest {
  const params = SamplingParams.create(init, { vocabSize });
  let prompt: string | null = null;
  let ids: number[];
  if (typeof input === 'string') {
    prompt = input;
    ids = tokenizer.encode(input);
  } else if (input && typeof input === 'object' && Array.isArray(input.promptTokenIds)) {
    ids = [...input.promptTokenIds];
    for (const id of ids) {
      if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
        throw new ParamError('prompt_token_ids', `Invalid 'prompt_token_ids': token id ${String(id)} is outside the vocabulary (0..${vocabSize - 1}).`);
      }
    }
  } else {
    throw new ParamError('prompt', "Invalid 'prompt': expected a string or { promptTokenIds: number[] }.");
  }
  if (ids.length === 0) throw new ParamError('prompt', "Invalid 'prompt': the prompt is empty (it must contain at least one token).");
  // The last prompt position must leave room for one generated token.
  if (ids.length >= maxModelLen) {
    throw new ParamError(
      'prompt',
      `This model's maximum context length is ${maxModelLen} tokens. However, your prompt has ${ids.length} tokens, which leaves no room to generate.`,
    );
  }
  // An explicit maxTokens past the context is an error, in the server's words (vLLM's); a default
  // one (16) is clamped to the room the prompt leaves, by the engine core.
  const explicit = init instanceof SamplingParams || (init.maxTokens !== undefined && init.maxTokens !== null);
  if (explicit && params.maxTokens !== null && ids.length + params.maxTokens > maxModelLen) {
    const requested = ids.length + params.maxTokens;
    throw new ParamError(
      'max_tokens',
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${requested} tokens (${ids.length} in the prompt, ${params.maxTokens} in the completion). Please reduce the length of the prompt or completion.`,
    );
  }
  return { prompt, promptTokenIds: ids, params };
}
