/**
 * The Fastify application: routes, API-key check, model-name check, error mapping, and the
 * bookkeeping that ties each HTTP request to its engine requests (abort when the client goes away,
 * wait for in-flight requests on shutdown). The engine may still be loading when the app starts
 * listening: until it is ready `/health` answers 503, and so do the engine-backed routes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { EngineClient } from '../engine/engine-client.js';
import { VERSION } from '../version.js';
import { Admission } from './admission.js';
import { resolveChatFormat, type ChatTemplateOption } from './chat-template.js';
import { chatPromptIds, handleChat, type ChatContext } from './chat.js';
import { handleCompletion } from './completions.js';
import { ApiError, badParam, reportInternal, toApiError } from './errors.js';
import { bearerToken, checkCharset, clientError } from './http-guards.js';
import { checkInputChars, DEFAULT_LIMITS, type ServerLimits } from './limits.js';
import { ServerMetrics } from './metrics.js';
import { isUiPath, registerUi } from './ui.js';
import {
  chatBodySchema,
  completionBodySchema,
  detokenizeBodySchema,
  tokenizeBodySchema,
  type ChatRequest,
  type CompletionRequest,
  type DetokenizeRequest,
  type TokenizeRequest,
} from './openai-schema.js';

export interface AppOptions {
  /** The name clients must use in `model` (and that responses report). */
  modelName: string;
  /** When set, `/v1/*`, `/tokenize` and `/detokenize` require `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  chatTemplate?: ChatTemplateOption;
  /** Bound on requests queued in the server; beyond it new requests get 503. Unbounded when unset. */
  maxWaiting?: number;
  /** Sequences the engine runs at once (its `maxNumSeqs`), used with `maxWaiting`. */
  maxRunning?: number;
  /** Largest request body in bytes (default 4 MiB); larger ones get 413. */
  bodyLimit?: number;
  /** Per-request limits (prompts per request, input characters, unsent stream bytes); see limits.ts. */
  limits?: Partial<ServerLimits>;
  /** Fastify's request logging (off by default). */
  logger?: boolean;
  /** Serve the playground (`/`), the engine view (`/dashboard`) and `/engine/snapshots` (default true). */
  ui?: boolean;
  /** Sampling defaults shown in the playground. */
  uiDefaults?: Record<string, unknown>;
}

export interface ServerApp {
  readonly fastify: FastifyInstance;
  readonly metrics: ServerMetrics;
  isReady(): boolean;
  /** HTTP requests still being answered. */
  inFlight(): number;
  /**
   * Graceful close: stop listening and answer new requests on open connections with 503, give
   * in-flight requests `gracePeriodMs` to finish, abort the rest, then drop every connection.
   * Resolves with the number of requests aborted. Does not stop the engine.
   */
  close(gracePeriodMs: number): Promise<number>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const OPEN_ROUTES = new Set(['/health', '/metrics', '/version']);
const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

/** `opts` without its undefined entries, so they do not override defaults. */
const definedOnly = <T extends object>(opts: T): Partial<T> =>
  Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as Partial<T>;

export function buildApp(engineOrPromise: EngineClient | Promise<EngineClient>, opts: AppOptions): ServerApp {
  const fastify = Fastify({
    bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024,
    logger: opts.logger ?? false,
    return503OnClosing: false,
    // No type coercion: "0.5" is not a number, and a wrong type must be a 400.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, strictNumbers: true } },
    // Errors Fastify and Node raise before a route runs (a bad URL, oversized headers) in OpenAI's shape too.
    frameworkErrors: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const e = toApiError(err);
      void reply.status(e.status).send(e.toBody());
    },
    clientErrorHandler: clientError,
  });
  // JSON only: any other content type is a 415 (Fastify would otherwise take text/plain as a string).
  fastify.removeContentTypeParser('text/plain');
  const metrics = new ServerMetrics(opts.modelName);
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...definedOnly(opts.limits ?? {}) };
  const admission = new Admission(opts.maxRunning ?? 256, opts.maxWaiting);
  const inflight = new Set<AbortController>();
  let ctx: ChatContext | null = null;
  let accepting = true;
  const ready = (engine: EngineClient): void => {
    ctx = { engine, metrics, admission, limits, chatFormat: resolveChatFormat(opts.chatTemplate, engine.tokenizer) };
  };
  if ('then' in engineOrPromise) engineOrPromise.then(ready, () => {});
  else ready(engineOrPromise);

  const requireCtx = (): ChatContext => {
    if (!ctx) throw new ApiError(503, 'The model is still loading; retry when /health returns 200.', 'server_error', null, 'model_loading');
    return ctx;
  };
  const checkModel = (model: string | null | undefined): void => {
    if (model !== undefined && model !== null && model !== opts.modelName) {
      throw new ApiError(404, `The model \`${model}\` does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
    }
  };
  /** An AbortSignal that fires if the client disconnects before the response is complete. */
  const track = (reply: FastifyReply): AbortSignal => {
    const ac = new AbortController();
    inflight.add(ac);
    reply.raw.on('close', () => {
      inflight.delete(ac);
      if (!reply.raw.writableFinished) ac.abort();
    });
    return ac.signal;
  };
  /** Runs a generation handler; `null` means it streamed (or the client left) and the reply is done. */
  const generate = async (
    reply: FastifyReply,
    run: (signal: AbortSignal, stream: () => FastifyReply['raw']) => Promise<object | null>,
  ): Promise<object | undefined> => {
    const result = await run(track(reply), () => {
      reply.hijack();
      return reply.raw;
    });
    if (result !== null) return result;
    if (!reply.sent) reply.hijack();
    if (!reply.raw.writableEnded) reply.raw.end();
    return undefined;
  };

  fastify.addHook('onRequest', async (request: FastifyRequest) => {
    const path = request.url.split('?')[0] ?? '';
    if (OPEN_ROUTES.has(path) || (opts.ui !== false && isUiPath(path))) return;
    if (!accepting) throw new ApiError(503, 'The server is shutting down.', 'server_error', null, 'shutting_down');
    if (opts.apiKey !== undefined) {
      const given = bearerToken(request.headers.authorization);
      if (!given || !timingSafeEqual(sha(given), sha(opts.apiKey))) {
        throw new ApiError(401, 'Incorrect API key provided. Pass it as "Authorization: Bearer <key>".', 'invalid_request_error', null, 'invalid_api_key');
      }
    }
    checkCharset(request.headers['content-type']);
  });
  fastify.setErrorHandler((err, request, reply) => {
    const e = toApiError(err);
    if (e.status >= 500) reportInternal(err, `${request.method} ${request.url}`);
    void reply.status(e.status).send(e.toBody());
  });
  fastify.setNotFoundHandler((request, reply) => {
    const e = new ApiError(404, `Route ${request.method} ${request.url.split('?')[0]} not found.`, 'invalid_request_error', null, 'not_found');
    void reply.status(404).send(e.toBody());
  });

  if (opts.ui !== false) registerUi(fastify, () => requireCtx().engine, { modelName: opts.modelName, defaults: opts.uiDefaults ?? {} });

  fastify.get('/health', async (_request, reply) => {
    if (!ctx) return reply.status(503).send(new ApiError(503, 'The model is still loading.', 'server_error', null, 'model_loading').toBody());
    return reply.status(200).send('');
  });
  fastify.get('/version', async () => ({ version: VERSION }));
  fastify.get('/metrics', async (_request, reply) => {
    if (ctx) metrics.updateFromStats(await ctx.engine.stats(), admission.waiting);
    return reply.type(metrics.contentType).send(await metrics.render());
  });

  const modelCard = (c: ChatContext): object => ({
    id: opts.modelName,
    object: 'model',
    created: Math.floor(Date.now() / 1000),
    owned_by: 'tinyvllm',
    root: opts.modelName,
    parent: null,
    max_model_len: c.engine.maxModelLen,
  });
  fastify.get('/v1/models', async () => ({ object: 'list', data: [modelCard(requireCtx())] }));
  fastify.get<{ Params: { '*': string } }>('/v1/models/*', async (request) => {
    const c = requireCtx();
    checkModel(request.params['*']);
    return modelCard(c);
  });

  fastify.post('/v1/completions', { schema: { body: completionBodySchema } }, async (request, reply) => {
    const body = request.body as CompletionRequest;
    const c = requireCtx();
    checkModel(body.model);
    return generate(reply, (signal, stream) => handleCompletion(c, body, opts.modelName, signal, stream));
  });
  fastify.post('/v1/chat/completions', { schema: { body: chatBodySchema } }, async (request, reply) => {
    const body = request.body as ChatRequest;
    const c = requireCtx();
    checkModel(body.model);
    return generate(reply, (signal, stream) => handleChat(c, body, opts.modelName, signal, stream));
  });

  fastify.post('/tokenize', { schema: { body: tokenizeBodySchema } }, async (request) => {
    const body = request.body as TokenizeRequest;
    const c = requireCtx();
    checkModel(body.model);
    if ((body.prompt === undefined) === (body.messages === undefined)) {
      throw badParam('prompt', "Give exactly one of 'prompt' or 'messages'.");
    }
    if (body.prompt !== undefined) checkInputChars(body.prompt.length, limits, 'prompt');
    const tokens = body.prompt !== undefined ? c.engine.encode(body.prompt) : chatPromptIds(c, { messages: body.messages ?? [], add_generation_prompt: body.add_generation_prompt });
    const out = { tokens, count: tokens.length, max_model_len: c.engine.maxModelLen };
    return body.return_token_strs ? { ...out, token_strs: tokens.map((t) => c.engine.decode([t])) } : out;
  });
  fastify.post('/detokenize', { schema: { body: detokenizeBodySchema } }, async (request) => {
    const body = request.body as DetokenizeRequest;
    const c = requireCtx();
    checkModel(body.model);
    const vocab = c.engine.modelConfig.vocabSize;
    const bad = body.tokens.findIndex((t) => t >= vocab);
    if (bad >= 0) throw badParam(`tokens[${bad}]`, `Token id ${body.tokens[bad]} is not in the vocabulary (0..${vocab - 1}).`);
    return { prompt: c.engine.decode(body.tokens) };
  });

  return {
    fastify,
    metrics,
    isReady: () => ctx !== null,
    inFlight: () => inflight.size,
    close: async (gracePeriodMs) => {
      accepting = false;
      const closed = fastify.close();
      const deadline = performance.now() + gracePeriodMs;
      while (inflight.size > 0 && performance.now() < deadline) await sleep(10);
      const aborted = inflight.size;
      for (const ac of inflight) ac.abort();
      // Let aborted streams write their last bytes, then drop keep-alive and never-used
      // connections, which would otherwise hold close() open until they time out.
      await sleep(aborted > 0 ? 20 : 0);
      fastify.server.closeAllConnections();
      await closed;
      return aborted;
    },
  };
}
