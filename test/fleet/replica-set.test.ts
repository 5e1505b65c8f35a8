/**
 * Three `tinyvllm serve` replicas behind a real HAProxy (deploy/haproxy/haproxy.cfg) on loopback:
 * load spreads over all of them with exact outputs, a killed replica drops out and traffic carries
 * on, a replica started later joins, and SIGTERM drains a replica's streams through the balancer.
 * HAProxy comes from Debian (.ci/run installs it); without it, outside CI, the file is skipped.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { parseFamilies, readValue } from '../helpers/prometheus.js';
import { runOffline } from '../server/harness.js';
import { Balancer, freePort, haproxyAvailable, Replica, SLOTS, waitUntil } from './fleet.js';

const have = haproxyAvailable();
if (!have && process.env.CI) throw new Error('haproxy is not installed: .ci/run installs it with apt-get install -y haproxy');
if (!have) console.warn('fleet test skipped: haproxy is not installed (apt-get install haproxy)');

const MODEL = fixtureModelDir('tiny-gpt2-a', 'f32');
const prompt = (i: number): number[] => Array.from({ length: 4 + (i % 9) }, (_, j) => (i * 7919 + j * 104729) % 50000);

let ports: number[];
const replicas = new Map<number, Replica>();
let lb: Balancer;

/** Finished requests a replica has served (its vllm:request_success_total over all reasons). */
async function served(r: Replica): Promise<number> {
  const f = parseFamilies(await (await fetch(`${r.url}/metrics`)).text());
  return f.get('vllm:request_success_total')!.samples.reduce((a, s) => a + s.value, 0);
}

async function running(r: Replica): Promise<number> {
  return readValue(parseFamilies(await (await fetch(`${r.url}/metrics`)).text()), 'vllm:num_requests_running', 'gauge', { model_name: 'tiny' });
}

/** One streaming completion through the balancer: its text and token count, or the error. */
async function stream(i: number, maxTokens: number, onFirst?: () => void): Promise<{ text: string; tokens: number } | Error> {
  try {
    const res = await fetch(`${lb.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: prompt(i), max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
    });
    if (res.status !== 200) return new Error(`status ${res.status}`);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let raw = '';
    let first = true;
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      raw += dec.decode(r.value, { stream: true });
      if (first) onFirst?.();
      first = false;
    }
    const events = raw.split('\n\n').filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]').map((e) => JSON.parse(e.slice(6)) as {
      choices: { text: string }[];
      usage?: { completion_tokens: number } | null;
    });
    if (!raw.includes('data: [DONE]')) return new Error('stream ended without [DONE]');
    return { text: events.map((e) => e.choices[0]?.text ?? '').join(''), tokens: events.at(-1)?.usage?.completion_tokens ?? -1 };
  } catch (e) {
    return e as Error;
  }
}

const expected = async (i: number, maxTokens: number): Promise<string> => (await runOffline({ promptTokenIds: prompt(i) }, { temperature: 0, maxTokens, ignoreEos: true }))[0]!.text;

describe.skipIf(!have)('a load-balanced replica set', () => {
  beforeAll(async () => {
    ports = [];
    for (let i = 0; i < SLOTS; i++) ports.push(await freePort());
    const started = await Promise.all(ports.slice(0, 3).map((p) => Replica.start(MODEL, p, ['--grace-period', '20'])));
    started.forEach((r, i) => replicas.set(i + 1, r));
    lb = await Balancer.start(ports);
    // HAProxy starts every slot UP; the empty slot r4 goes DOWN after its first failed checks.
    await waitUntil(async () => {
      const states = await lb.servers();
      return states.filter((x) => x.status === 'UP').length === 3 && states.find((x) => x.name === 'r4')!.status.startsWith('DOWN');
    }, 10_000, 'r1-r3 UP and the empty slot r4 DOWN');
  }, 120_000);

  afterAll(async () => {
    await lb?.stop();
    await Promise.all([...replicas.values()].map((r) => r.stop('SIGKILL')));
  });

  test('64 concurrent streams spread over every replica, each with the exact greedy output', async () => {
    const N = 64;
    const want = await Promise.all(Array.from({ length: N }, (_, i) => expected(i, 16)));
    const got = await Promise.all(Array.from({ length: N }, (_, i) => stream(i, 16)));
    expect(got.map((g) => (g instanceof Error ? g.message : g.text))).toEqual(want);
    expect(got.every((g) => !(g instanceof Error) && g.tokens === 16)).toBe(true);
    const counts = await Promise.all([1, 2, 3].map((k) => served(replicas.get(k)!)));
    for (const c of counts) expect(c).toBeGreaterThan(0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(N);
  }, 120_000);

  test('a replica killed mid-run drops out, and new requests keep succeeding', async () => {
    const victim = replicas.get(2)!;
    let firsts = 0;
    const inflight = Array.from({ length: 12 }, (_, i) => stream(100 + i, 200, () => firsts++));
    await waitUntil(async () => firsts >= 6, 20_000, 'streams to start');
    const killedAt = Date.now();
    await victim.stop('SIGKILL');
    replicas.delete(2);
    await waitUntil(async () => (await lb.status('r2')).startsWith('DOWN'), 5000, 'HAProxy to mark r2 DOWN');
    const detectMs = Date.now() - killedAt;
    // Streams on the killed replica fail; the others finish whole.
    const results = await Promise.all(inflight);
    for (const r of results) if (!(r instanceof Error)) expect(r.tokens).toBe(200);
    const after = await Promise.all(Array.from({ length: 24 }, (_, i) => stream(200 + i, 8)));
    const want = await Promise.all(Array.from({ length: 24 }, (_, i) => expected(200 + i, 8)));
    expect(after.map((g) => (g instanceof Error ? g.message : g.text))).toEqual(want);
    console.log(`fleet: r2 marked DOWN ${detectMs} ms after SIGKILL; ${results.filter((r) => r instanceof Error).length}/12 in-flight streams were on it`);
  }, 120_000);

  test('a replica started later joins the set and takes traffic', async () => {
    const late = await Replica.start(MODEL, ports[3]!);
    replicas.set(4, late);
    await waitUntil(async () => (await lb.status('r4')) === 'UP', 5000, 'r4 UP');
    const got = await Promise.all(Array.from({ length: 24 }, (_, i) => stream(300 + i, 24)));
    expect(got.filter((g) => g instanceof Error)).toEqual([]);
    expect(await served(late)).toBeGreaterThan(0);
  }, 120_000);

  test('SIGTERM drains a replica: its in-flight streams finish through the balancer, then it leaves', async () => {
    const r1 = replicas.get(1)!;
    const N = 9;
    let firsts = 0;
    const inflight = Array.from({ length: N }, (_, i) => stream(400 + i, 220, () => firsts++));
    await waitUntil(async () => firsts === N && (await running(r1)) >= 1, 20_000, 'streams running on r1');
    const exit = r1.stop('SIGTERM');
    const results = await Promise.all(inflight);
    const want = await Promise.all(Array.from({ length: N }, (_, i) => expected(400 + i, 220)));
    expect(results.map((g) => (g instanceof Error ? g.message : g.text))).toEqual(want);
    expect(await exit).toBe(0);
    replicas.delete(1);
    await waitUntil(async () => (await lb.status('r1')).startsWith('DOWN'), 5000, 'r1 DOWN');
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => stream(500 + i, 4)));
    expect(after.filter((g) => g instanceof Error)).toEqual([]);
  }, 120_000);
});
