/** SIGTERM: stop accepting, let in-flight streams finish within the grace period, exit 0. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { fixtureModelDir } from '../helpers/fixtures.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/serve-main.ts', import.meta.url));

async function spawnServer(graceMs: number): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, fixtureModelDir('tiny-gpt2-a', 'f32'), String(graceMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${err}`)));
  });
  return { child, url, stderr: () => err };
}

/** Starts a streaming completion and returns a reader of its SSE events. */
async function openStream(url: string, maxTokens: number): Promise<() => Promise<string[]>> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value); // the first chunk has arrived: the request is in flight
  return async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value, { stream: true });
    return text.split('\n\n').filter(Boolean);
  };
}

// The two servers are independent processes: run them side by side.
describe.concurrent('graceful shutdown', () => {
  test('SIGTERM during a stream: the stream completes, new requests are refused, exit code 0', async () => {
    const { child, url, stderr } = await spawnServer(10_000);
    const exited = once(child, 'exit');
    const rest = await openStream(url, 200);
    child.kill('SIGTERM');
    const events = await rest();
    expect(events.at(-1)).toBe('data: [DONE]');
    const usage = JSON.parse(events.at(-2)!.slice(6)) as { usage: { completion_tokens: number } };
    expect(usage.usage.completion_tokens).toBe(200);
    const finish = JSON.parse(events.at(-3)!.slice(6)) as { choices: { finish_reason: string }[] };
    expect(finish.choices[0]!.finish_reason).toBe('length');
    // No longer accepting: the listener is closed (or a straggler gets 503).
    const late = await fetch(`${url}/v1/models`).then((r) => r.status, () => 'refused');
    expect([503, 'refused']).toContain(late);
    const [code] = (await exited) as [number];
    expect(code, stderr()).toBe(0);
    // The signal arrived while the stream was in flight.
    expect(stderr()).toContain('SIGTERM received: finishing 1 in-flight request(s)');
  });

  test('past the grace period, in-flight requests are aborted and the process still exits 0', async () => {
    const { child, url, stderr } = await spawnServer(1);
    const exited = once(child, 'exit');
    const rest = await openStream(url, 240);
    child.kill('SIGTERM');
    const events = await rest();
    expect(events.at(-1)).toBe('data: [DONE]');
    const [code] = (await exited) as [number];
    expect(code, stderr()).toBe(0);
    // Cut short by the grace period (not timed: a loaded machine may be slow to get there), so the
    // stream never reached its 240 tokens and finish reason 'length'.
    const reasons = events
      .filter((e) => e.startsWith('data: {'))
      .flatMap((e) => (JSON.parse(e.slice(6)) as { choices: { finish_reason: string | null }[] }).choices.map((c) => c.finish_reason));
    expect(reasons).not.toContain('length');
    expect(stderr()).toContain('grace period over: aborted 1 request(s)');
  });
});
