/**
 * `startServer`: listen first, load the model behind it (so `/health` can say 503 while loading),
 * print a banner once ready, and shut down gracefully: on SIGTERM/SIGINT (or `close()`), refuse new
 * requests, give in-flight ones `gracePeriodMs` to finish, abort the rest, stop the engine, exit 0.
 */
import pc from 'picocolors';
import { AsyncLLM } from '../engine/async-llm.js';
import { ENGINE_DEFAULTS } from '../engine/config.js';
import type { EngineClient, EngineOptions } from '../engine/engine-client.js';
import { VERSION } from '../version.js';
import { buildApp, type ServerApp } from './app.js';
import { loadChatTemplate } from './chat-template.js';

export interface ServeOptions extends EngineOptions {
  /** Default 127.0.0.1; use 0.0.0.0 to accept remote clients. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  apiKey?: string;
  /** Name clients use in `model`; defaults to `model`. */
  servedModelName?: string;
  /** Path of a JSON chat template (see chat-template.ts). */
  chatTemplate?: string;
  maxWaiting?: number;
  /** Most prompts in one /v1/completions request (default 1024). */
  maxPromptsPerRequest?: number;
  /** Most characters of text one request may have tokenised (default 100,000). */
  maxInputChars?: number;
  /** Unsent bytes after which a stream is dropped and its request aborted (default 4 MiB). */
  maxStreamBuffer?: number;
  /** How long in-flight requests may run on after SIGTERM (default 30 s). */
  gracePeriodMs?: number;
  bodyLimit?: number;
  /** Per-request logging. */
  logRequests?: boolean;
  /** The playground and engine view (default true; `--no-ui` turns them off). */
  ui?: boolean;
  /** Install SIGTERM/SIGINT handlers that close and exit (default true). */
  handleSignals?: boolean;
  /** Where the banner and shutdown notes go (default stderr); pass `() => {}` to silence. */
  log?: (line: string) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly app: ServerApp;
  /** Resolves with the engine once the model is loaded; rejects (and closes the server) if loading fails. */
  readonly ready: Promise<EngineClient>;
  /** Graceful shutdown; resolves when the engine has stopped. Idempotent. */
  close(): Promise<void>;
}

const ENGINE_KEYS = [
  'model', 'backend', 'threads', 'simd', 'dtype', 'kvCacheMemory', 'kvCacheDtype', 'blockSize', 'maxNumSeqs',
  'maxNumBatchedTokens', 'enablePrefixCaching', 'maxModelLen', 'onProgress', 'quantization', 'quantizeLmHead', 'activationAware',
  'speculativeConfig', 'allowNonFiniteWeights',
] as const satisfies readonly (keyof EngineOptions)[];

/** Just the engine's settings (the rest are the server's). */
function engineOptionsOf(opts: ServeOptions): EngineOptions {
  const out: EngineOptions = { model: opts.model };
  for (const k of ENGINE_KEYS) if (opts[k] !== undefined) Object.assign(out, { [k]: opts[k] });
  return out;
}

function banner(url: string, name: string, engine: EngineClient, opts: ServeOptions): string[] {
  const c = engine.modelConfig;
  const row = (k: string, v: string): string => `  ${pc.dim(k.padEnd(11))}${v}`;
  return [
    '',
    `${pc.bold(pc.cyan('tinyvllm'))} ${pc.dim(`v${VERSION}`)} ${pc.dim('·')} OpenAI-compatible server`,
    row('model', `${opts.model} ${pc.dim(`(${c.nLayer} layers, ${c.nEmbd} dims, vocab ${c.vocabSize})`)}`),
    row('served as', name),
    row('context', `${engine.maxModelLen} tokens`),
    row('backend', (engine as { backendName?: string }).backendName ?? opts.backend ?? 'auto'),
    ...(opts.quantization ? [row('weights', `${opts.quantization}${opts.quantizeLmHead ? ', lm_head too' : ''}`)] : []),
    row('api key', opts.apiKey ? pc.yellow('required') : pc.dim('none')),
    row('listening', pc.green(url)),
    row('endpoints', '/v1/completions /v1/chat/completions /v1/models /tokenize /detokenize /health /metrics /version'),
    ...(opts.ui === false ? [] : [row('playground', pc.green(`${url}/`)), row('engine view', pc.green(`${url}/dashboard`))]),
    '',
  ];
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = opts.servedModelName ?? opts.model;
  const chatTemplate = opts.chatTemplate ? loadChatTemplate(opts.chatTemplate) : undefined;
  const enginePromise = AsyncLLM.create(engineOptionsOf(opts));
  enginePromise.catch(() => {});

  const app = buildApp(enginePromise, {
    modelName: name,
    apiKey: opts.apiKey,
    chatTemplate,
    maxWaiting: opts.maxWaiting,
    maxRunning: opts.maxNumSeqs ?? ENGINE_DEFAULTS.maxNumSeqs,
    limits: { maxPromptsPerRequest: opts.maxPromptsPerRequest, maxInputChars: opts.maxInputChars, maxStreamBuffer: opts.maxStreamBuffer },
    bodyLimit: opts.bodyLimit,
    logger: opts.logRequests,
    ui: opts.ui,
    // OpenAI's defaults, which the server applies to fields a request leaves unset.
    uiDefaults: { temperature: 1, top_p: 1, top_k: -1, min_p: 0, max_tokens: 64, presence_penalty: 0, frequency_penalty: 0, repetition_penalty: 1, n: 1 },
  });
  let address: string;
  try {
    address = await app.fastify.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8000 });
  } catch (err) {
    // e.g. the port is taken: stop the engine that is loading, or its worker keeps the process alive.
    await enginePromise.then((e) => e.shutdown(), () => {});
    throw err;
  }
  const url = address.replace('[::1]', 'localhost');

  let closing: Promise<void> | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    const grace = (opts.gracePeriodMs ?? 30_000) / 1000;
    log(pc.yellow(`${signal} received: finishing ${app.inFlight()} in-flight request(s) (grace ${grace} s)`));
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(pc.red(`shutdown failed: ${(err as Error).message}`));
        process.exit(1);
      },
    );
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (opts.handleSignals !== false) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
      const aborted = await app.close(opts.gracePeriodMs ?? 30_000);
      if (aborted > 0) log(pc.yellow(`grace period over: aborted ${aborted} request(s)`));
      await enginePromise.then((e) => e.shutdown(), () => {});
    })();
    return closing;
  };
  if (opts.handleSignals !== false) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  const ready = enginePromise.then(
    (e) => {
      for (const line of banner(url, name, e, opts)) log(line);
      return e;
    },
    async (err: unknown) => {
      log(pc.red(`failed to load ${opts.model}: ${(err as Error).message}`));
      await close();
      throw err;
    },
  );
  return { url, app, ready, close };
}
