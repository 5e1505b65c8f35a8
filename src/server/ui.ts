/**
 * The browser pages: the playground at `/`, the live engine view at `/dashboard`, their bundled
 * assets under `/ui/` (built from web/ into dist/web/ by scripts/build-web.mjs; no CDN), and the
 * engine-snapshot stream `/engine/snapshots` that the engine view reads. The pages are public; the
 * stream is behind the API key like /v1/*. Snapshots are taken only while a viewer is connected,
 * at most every 100 ms, so an unwatched server pays nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { EngineClient } from '../engine/engine-client.js';
import { ApiError } from './errors.js';

/** dist/web/ beside src/ and dist/ (this file is src/server/ui.ts or dist/server/ui.js). */
export const WEB_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'dist', 'web');

const PAGES: Record<string, string> = { '/': 'index.html', '/dashboard': 'dashboard.html' };
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.map': 'application/json' };

/** Paths served without the API key: the pages and their assets hold nothing secret. */
export function isUiPath(path: string): boolean {
  return path in PAGES || path === '/ui-config' || path.startsWith('/ui/');
}

export interface UiOptions {
  /** The server's defaults, shown in the playground's controls. */
  defaults: Record<string, unknown>;
  modelName: string;
}

export function registerUi(fastify: FastifyInstance, getEngine: () => EngineClient, opts: UiOptions): void {
  const files = new Map<string, Buffer>();
  const read = (name: string): Buffer => {
    let b = files.get(name);
    if (!b) {
      const path = join(WEB_DIR, name);
      if (!existsSync(path)) throw new ApiError(404, `The web UI is not built (${path} is missing): run \`npm run build\`.`, 'invalid_request_error', null, 'not_found');
      b = readFileSync(path);
      files.set(name, b);
    }
    return b;
  };
  const send = (reply: FastifyReply, name: string): FastifyReply => {
    const ext = name.slice(name.lastIndexOf('.'));
    return reply.type(TYPES[ext] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(read(name));
  };
  for (const [path, file] of Object.entries(PAGES)) fastify.get(path, async (_req, reply) => send(reply, file));
  fastify.get<{ Params: { file: string } }>('/ui/:file', async (req, reply) => {
    const file = req.params.file;
    if (!/^[a-z0-9-]+\.(js|css|map)$/.test(file)) throw new ApiError(404, `No UI asset ${file}.`, 'invalid_request_error', null, 'not_found');
    return send(reply, file);
  });
  // The model's generation_config.json sampling values win over the API's defaults, as in requests.
  fastify.get('/ui-config', async () => {
    const g = getEngine().generationConfig.defaults;
    const model = { temperature: g.temperature, top_p: g.topP, top_k: g.topK, min_p: g.minP, repetition_penalty: g.repetitionPenalty, max_tokens: g.maxTokens };
    const defaults = { ...opts.defaults };
    for (const [k, v] of Object.entries(model)) if (v !== undefined && v !== null) defaults[k] = v;
    return { model: opts.modelName, defaults };
  });

  fastify.get<{ Querystring: { interval?: string } }>('/engine/snapshots', async (req, reply) => {
    const engine = getEngine();
    const interval = Math.min(5000, Math.max(100, Number(req.query.interval ?? 250) || 250));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let open = true;
    res.on('close', () => (open = false));
    let since = 0;
    while (open) {
      const started = Date.now();
      try {
        const snap = await engine.snapshot(since);
        since = snap.nextStep;
        if (!open) break;
        // A slow viewer waits for its socket to drain instead of queueing snapshots.
        if (!res.write(`data: ${JSON.stringify(snap)}\n\n`)) await new Promise((r) => res.once('drain', r).once('close', r));
      } catch (e) {
        if (open) res.write(`data: ${JSON.stringify({ error: { message: (e as Error).message, type: 'server_error', param: null, code: null } })}\n\n`);
        break;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - started))));
    }
    if (!res.writableEnded) res.end();
  });
}
