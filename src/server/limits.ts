/**
 * Per-request limits that keep one request from taking the server over: prompts per request (each
 * becomes engine work and event-loop work), characters of text to tokenise (BPE runs on the event
 * loop, and a long unbroken word is slow to merge), and the unsent bytes of a stream (see sse.ts).
 */
import { ApiError } from './errors.js';
import { DEFAULT_MAX_STREAM_BUFFER } from './sse.js';

export interface ServerLimits {
  /** Most prompts in one `/v1/completions` request. */
  readonly maxPromptsPerRequest: number;
  /** Most characters of text one request may ask to tokenise (prompts and messages together). */
  readonly maxInputChars: number;
  /** A stream whose unsent bytes pass this is dropped and its request aborted in the engine. */
  readonly maxStreamBuffer: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxPromptsPerRequest: 1024,
  maxInputChars: 100_000,
  maxStreamBuffer: DEFAULT_MAX_STREAM_BUFFER,
};

export function checkPromptCount(count: number, limits: ServerLimits): void {
  if (count <= limits.maxPromptsPerRequest) return;
  throw new ApiError(
    400,
    `Too many prompts: this request has ${count}, and the server accepts at most ${limits.maxPromptsPerRequest} per request (--max-prompts-per-request). Split it into several requests.`,
    'invalid_request_error',
    'prompt',
    'too_many_prompts',
  );
}

/** `chars`: characters of text the request asks to tokenise; `param` names the field. */
export function checkInputChars(chars: number, limits: ServerLimits, param: string): void {
  if (chars <= limits.maxInputChars) return;
  throw new ApiError(
    400,
    `The input is too long: ${chars} characters, and the server tokenises at most ${limits.maxInputChars} per request (--max-input-chars).`,
    'invalid_request_error',
    param,
    'input_too_long',
  );
}
