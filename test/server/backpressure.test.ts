/**
 * A client that opens a stream and never reads it: once the stream's unsent bytes pass
 * `maxStreamBuffer`, the server drops the connection and aborts the request in the engine, so its
 * sequences stop generating; the drop is counted in /metrics and other clients are unaffected.
 * The stalled client talks HTTP over a Unix socket: the kernel holds a fixed ~200 KB there, while
 * TCP autotuning on loopback may buffer megabytes before the server's own buffer starts to grow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildApp, type ServerApp } from '../../src/server/app.js';
import { MODEL, parseMetrics, postJson, scrape, startTestServer, waitFor, type TestServer } from './harness.js';

const metricsOf = async (app: ServerApp): Promise<Map<string, number>> => {
  app.metrics.updateFromStats(await s.engine.stats(), 0);
  return parseMetrics(await app.metrics.render());
};

let s: TestServer;
let u: ServerApp;
const dir = mkdtempSync(join(tmpdir(), 'tinyvllm-backpressure-'));
const socketPath = join(dir, 'http.sock');
beforeAll(async () => {
  s = await startTestServer({ limits: { maxStreamBuffer: 64 * 1024 } });
  // A second app on the same engine, listening on a Unix socket.
  u = buildApp(s.engine, { modelName: MODEL, limits: { maxStreamBuffer: 64 * 1024 } });
  await u.fastify.listen({ path: socketPath });
});
afterAll(async () => {
  await u.close(1000);
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const PROMPTS = 16;
const MAX_TOKENS = 200;

/** Sends a streaming request on a raw socket that is never read from. */
function stalledStream(): Socket {
  const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(4);
  // echo + logprobs make each event large, so the unsent bytes grow fast.
  const body = JSON.stringify({
    model: MODEL, prompt: Array.from({ length: PROMPTS }, (_, i) => `${i} ${prompt}`),
    max_tokens: MAX_TOKENS, stream: true, echo: true, logprobs: 5, ignore_eos: true,
  });
  const sock = connect(socketPath);
  sock.on('error', () => {});
  sock.write(`POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  sock.pause();
  return sock;
}

test('a stream nobody reads is dropped and its request aborted in the engine', async () => {
  const before = await metricsOf(u);
  const sock = stalledStream();
  let closed = false;
  sock.on('close', () => (closed = true));
  const dropped = async (): Promise<boolean> => ((await metricsOf(u)).get('tinyvllm:stream_backpressure_aborts_total') ?? 0) >= 1;
  await waitFor(dropped, 30_000, 'the back-pressure abort');
  // The engine stopped: nothing runs, and far fewer tokens were generated than were asked for.
  await waitFor(async () => (await s.engine.stats()).numRunning === 0, 10_000, 'the engine to go idle');
  const after = await metricsOf(u);
  const generated = (after.get('tinyvllm:generation_tokens_total') ?? 0) - (before.get('tinyvllm:generation_tokens_total') ?? 0);

  expect(generated).toBeGreaterThan(0);
  expect(generated).toBeLessThan(PROMPTS * MAX_TOKENS);
  expect(after.get('tinyvllm:request_success_total{finished_reason="abort"}')).toBeGreaterThanOrEqual(PROMPTS);
  // The server closed the connection: reading now drains what was sent, then hits its end.
  sock.resume();
  await waitFor(() => closed, 10_000, 'the socket to close');
  sock.destroy();
  // Other clients are served normally.
  const res = await postJson(s.url, '/v1/completions', { model: MODEL, prompt: 'Hi', max_tokens: 2 });
  expect(res.status).toBe(200);
}, 60_000);

test('a client that reads slowly but keeps up is not dropped', async () => {
  const base = (await scrape(s.url)).get('tinyvllm:stream_backpressure_aborts_total') ?? 0;
  const stream = await s.client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 40, stream: true, logprobs: 5 });
  let text = '';
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? '';
    await new Promise((r) => setTimeout(r, 2));
  }
  expect(text.length).toBeGreaterThan(0);
  expect((await scrape(s.url)).get('tinyvllm:stream_backpressure_aborts_total')).toBe(base);
});
