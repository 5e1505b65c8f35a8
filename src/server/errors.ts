/**
 * Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
 * Every failure path of the server ends here, so clients (the `openai` SDK included) always get the
 * same JSON whatever went wrong: schema violations, engine `ParamError`s, limits or internal bugs.
 */
import type { FastifyError } from 'fastify';
import { ParamError } from '../engine/sampling-params.js';

export type ErrorType = 'invalid_request_error' | 'server_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

/** An error that carries its HTTP status and OpenAI error fields. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** The client went away before its answer was ready (nginx's 499: nobody will read this). */
export function clientClosed(): ApiError {
  return new ApiError(499, 'The client closed the request.', 'invalid_request_error', null, 'client_closed');
}

/** 400 naming the offending request field. */
export function badParam(param: string, message: string): ApiError {
  return new ApiError(400, message, 'invalid_request_error', param, 'invalid_parameter');
}

/** Engine parameter names that differ from the request field a client sent. */
const PARAM_NAMES: Record<string, string> = { prompt_logprobs: 'logprobs' };

/**
 * Maps a `ParamError`'s parameter (snake_case, maybe with a suffix such as `logit_bias[5]`) to the
 * request field; `renames` covers per-endpoint aliases (chat's `max_completion_tokens`).
 */
export function requestParamName(param: string, renames: Readonly<Record<string, string>> = {}): string {
  const m = /^([A-Za-z_]+)(.*)$/.exec(param);
  if (!m) return param;
  const [, head = param, rest = ''] = m;
  const snake = head.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return (renames[snake] ?? PARAM_NAMES[snake] ?? snake) + rest;
}

/** Turns an Ajv error path (`/messages/0/content`) into a field name (`messages[0].content`). */
export function fieldFromPath(instancePath: string, missing?: string): string | null {
  const parts = instancePath.split('/').filter((p) => p.length > 0);
  if (missing !== undefined) parts.push(missing);
  if (parts.length === 0) return null;
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function fromValidation(issues: readonly AjvIssue[]): ApiError {
  // With anyOf/oneOf, Ajv lists each branch's failure before the summary; the summary reads best.
  const issue = issues.find((i) => i.keyword === 'anyOf' || i.keyword === 'oneOf') ?? issues[0];
  if (!issue) return new ApiError(400, 'Invalid request body');
  const missing = issue.keyword === 'required' ? String(issue.params.missingProperty) : undefined;
  const param = fieldFromPath(issue.instancePath, missing);
  if (missing !== undefined) return badParam(param ?? missing, `Missing required parameter '${param}'.`);
  if (param === null) return new ApiError(400, `Invalid request body: ${issue.message ?? 'invalid'}.`);
  if (issue.keyword === 'type') {
    const types = ([] as unknown[]).concat(issue.params.type).map(String);
    return badParam(param, `Invalid type for '${param}': expected ${types.join(' or ')}.`);
  }
  return badParam(param, `Invalid value for '${param}': ${issue.message ?? 'invalid'}.`);
}

/** Converts anything thrown while handling a request into an ApiError. */
export function toApiError(err: unknown, renames: Readonly<Record<string, string>> = {}): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ParamError) {
    const param = requestParamName(err.param, renames);
    return badParam(param, err.message);
  }
  const fe = err as Partial<FastifyError> & { validation?: AjvIssue[] };
  if (Array.isArray(fe.validation)) return fromValidation(fe.validation);
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request_too_large' : null;
    return new ApiError(status, fe.message ?? 'Bad request', 'invalid_request_error', null, code);
  }
  return new ApiError(500, 'The server had an error while processing your request.', 'server_error', null, 'internal_error');
}

/** Unexpected failures are answered with a bare 500, so their details go to stderr instead. */
export function reportInternal(err: unknown, where: string): void {
  if (err instanceof ApiError || (err as { name?: string })?.name === 'ParamError') return;
  const status = (err as Partial<FastifyError>)?.statusCode;
  if (typeof status === 'number' && status < 500) return;
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`tinyvllm server: internal error in ${where}: ${text}\n`);
}
