/**
 * Memory soak for the HTTP server: starts `tinyvllm`'s server in a child process on a small synthetic
 * GPT-2 model (tiny-gpt2-a, real vocabulary) on loopback, sends bounded requests of every kind
 * (completions and chat, streamed and not, multi-prompt, /tokenize, rejected ones, clients that leave
 * mid-stream) and prints the server's RSS after every 1,000. Not part of the test suite.
 *
 *   nice -n 5 npx tsx scripts/soak-serve.ts [--requests 10000] [--concurrency 8] [--json out.json]
 *
 * With `--health-probe 256,1024` it instead measures /health latency while one /v1/completions
 * request with that many prompts runs (`--max-prompts N` raises the server's cap for this).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fixtureModelDir } from '../test/helpers/fixtures.js';

const { values } = parseArgs({
  options: {
    serve: { type: 'string' },
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '8' },
    every: { type: 'string', default: '1000' },
    json: { type: 'string' },
    'health-probe': { type: 'string' },
    'max-prompts': { type: 'string' },
  },
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const post = (url: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

/** `count` pseudo-random lower-case words, different for every `seed`: user text never repeats. */
function words(seed: number, count: number): string {
  let a = seed * 2654435761;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: string[] = [];
  for (let w = 0; w < count; w++) {
    const len = 6 + Math.floor(rand() * 8);
    out.push(Array.from({ length: len }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join(''));
  }
  return out.join(' ');
}

/** Request number `i`: a fixed rotation of kinds, each bounded (at most 8 tokens per sequence). */
async function one(url: string, i: number): Promise<void> {
  const word = `soak ${i} ${words(i, 20)}`;
  const kind = i % 10;
  let res: Response;
  if (kind === 0) res = await post(url, '/v1/completions', { prompt: `Once upon a time ${word}`, max_tokens: 8, stream: true });
  else if (kind === 1) res = await post(url, '/v1/chat/completions', { messages: [{ role: 'user', content: word }], max_tokens: 8 });
  else if (kind === 2) res = await post(url, '/v1/chat/completions', { messages: [{ role: 'user', content: word }], max_tokens: 8, stream: true, stream_options: { include_usage: true } });
  else if (kind === 3) res = await post(url, '/v1/completions', { prompt: [word, `${word} again`, 'x'], max_tokens: 4, n: 2, logprobs: 2 });
  else if (kind === 4) res = await post(url, '/tokenize', { prompt: word });
  else if (kind === 5) res = await post(url, '/v1/completions', { prompt: word, max_tokens: 4, stop: [`${i}`, 'the'], seed: i });
  else if (kind === 6) res = await post(url, '/v1/completions', { prompt: word, max_tokens: -1 }); // 400
  else if (kind === 7) {
    // A client that leaves after the first chunk.
    const ac = new AbortController();
    res = await post(url, '/v1/completions', { prompt: word, max_tokens: 8, stream: true }, ac.signal);
    const reader = res.body!.getReader();
    await reader.read().catch(() => {});
    ac.abort();
    await reader.cancel().catch(() => {});
    return;
  } else if (kind === 8) res = await fetch(`${url}/metrics`);
  else res = await post(url, '/v1/completions', { prompt: word, max_tokens: 8, echo: true, logprobs: 1 });
  await res.arrayBuffer();
  if (res.status >= 500) throw new Error(`request ${i} (kind ${kind}): HTTP ${res.status}`);
}

/** The server in a child process (so its RSS and event loop are its own). */
async function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const model = fixtureModelDir('tiny-gpt2-a', 'f32');
  const extra = values['max-prompts'] ? ['--max-prompts', values['max-prompts']] : [];
  const script = new URL(import.meta.url).pathname;
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, '--serve', model, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n')[0];
      if (buf.includes('\n') && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, url };
}

/** /health latency, polled back to back, while one request with `prompts` prompts runs. */
async function healthProbe(prompts: number): Promise<void> {
  const { child, url } = await startChild();
  try {
    const t0 = performance.now();
    let finished = 0;
    const big = post(url, '/v1/completions', { prompt: Array.from({ length: prompts }, (_, i) => `Prompt number ${i}:`), max_tokens: 1 })
      .then(async (r) => {
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      })
      .finally(() => (finished = performance.now()));
    const lat: number[] = [];
    while (!finished) {
      const t = performance.now();
      await (await fetch(`${url}/health`)).arrayBuffer();
      if (!finished) lat.push(performance.now() - t);
    }
    await big;
    lat.sort((a, b) => a - b);
    const q = (p: number): string => (lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN).toFixed(1);
    console.log(`${prompts} prompts × max_tokens 1: request ${((finished - t0) / 1000).toFixed(2)} s; /health answered ${lat.length} times meanwhile, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`);
  } finally {
    child.kill('SIGTERM');
  }
}

async function soak(total: number, concurrency: number, every: number): Promise<void> {
  const { child, url } = await startChild();
  const pid = child.pid!;
  /** RSS after a full collection in the server (requests keep flowing from the other workers). */
  const settled = async (): Promise<number> => {
    child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 300));
    return rssMiB(pid);
  };
  const rows: { requests: number; rssMiB: number; settledMiB: number; seconds: number }[] = [{ requests: 0, rssMiB: rssMiB(pid), settledMiB: await settled(), seconds: 0 }];
  console.log(`server pid ${pid} at ${url}; RSS at start ${rows[0]!.rssMiB.toFixed(1)} MiB, after GC ${rows[0]!.settledMiB.toFixed(1)} MiB`);
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      await one(url, i);
      done++;
      if (done % every === 0) {
        const row = { requests: done, rssMiB: rssMiB(pid), settledMiB: 0, seconds: (performance.now() - t0) / 1000 };
        row.settledMiB = await settled();
        rows.push(row);
        console.log(`${String(row.requests).padStart(6)} requests  RSS ${row.rssMiB.toFixed(1).padStart(7)} MiB  after GC ${row.settledMiB.toFixed(1).padStart(7)} MiB  ${row.seconds.toFixed(1)} s`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    child.kill('SIGTERM');
  }
  const from = rows.find((r) => r.requests === every);
  const last = rows[rows.length - 1]!;
  if (from) {
    const span = rows.filter((r) => r.requests >= every).map((r) => r.settledMiB);
    console.log(`RSS change from request ${every} to ${last.requests}: ${(last.rssMiB - from.rssMiB).toFixed(1)} MiB raw, ${(last.settledMiB - from.settledMiB).toFixed(1)} MiB after GC (range ${(Math.max(...span) - Math.min(...span)).toFixed(1)} MiB)`);
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ concurrency, rows }, null, 2));
}

if (values.serve !== undefined) {
  // Child: the server alone, so its RSS is what we measure.
  const { startServer } = await import('../src/server/serve.js');
  const maxPromptsPerRequest = values['max-prompts'] ? Number(values['max-prompts']) : undefined;
  // 16 MiB of KV cache is 1,024 blocks on this model: the block count GPT-2 124M gets from the default
  // 1 GiB. The prefix cache keeps one hash per block it has filled, so with the default 1 GiB (65,536
  // blocks here) its index would keep growing through the whole soak, bounded but not by much.
  const server = await startServer({
    model: values.serve, port: 0, threads: 1, maxNumSeqs: 16, kvCacheMemory: '16MiB', maxPromptsPerRequest, handleSignals: true, log: () => {},
  });
  await server.ready;
  // The soak asks for a full collection before each settled sample (SIGUSR2), so garbage that V8
  // has not yet collected does not pass for growth, nor hide it.
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    if (process.env.SOAK_HEAP) {
      const m = process.memoryUsage();
      process.stderr.write(`  server main thread: heap ${(m.heapUsed / 1048576).toFixed(1)} MiB, external ${(m.external / 1048576).toFixed(1)} MiB, array buffers ${(m.arrayBuffers / 1048576).toFixed(1)} MiB\n`);
    }
  });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
} else if (values['health-probe'] !== undefined) {
  for (const n of values['health-probe'].split(',')) await healthProbe(Number(n));
} else {
  await soak(Number(values.requests), Number(values.concurrency), Number(values.every));
}
