/**
 * The playground and the engine view in a real browser (Debian's Chromium via playwright-core)
 * against a real server on the fixture model: streamed chat equals the API's greedy output, Stop
 * aborts, the token view shows the API's probabilities, the tokenization view matches an
 * independent tokenizer, the block map follows the engine and shows shared prefix blocks, and the
 * snapshot stream needs the API key.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AsyncLLM } from '../../src/engine/async-llm.js';
import type { EngineClient } from '../../src/engine/engine-client.js';
import { createEngine, MODEL, startTestServer, tiktoken, waitFor, type TestServer } from '../server/harness.js';
import { haveChromium, launch } from './browser.js';

let engine: AsyncLLM;
let s: TestServer;
let browser: Browser;

beforeAll(async () => {
  if (!haveChromium) return;
  engine = await createEngine();
  s = await startTestServer({}, engine);
  browser = await launch();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.close();
  await engine?.shutdown();
});

async function open(path: string, url = s.url): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto(`${url}${path}`);
  return page;
}

async function playground(url = s.url): Promise<Page> {
  const page = await open('/', url);
  await page.waitForSelector('body[data-ready=true]');
  return page;
}

/**
 * The same engine with each streamed output held back `ms`: on a loaded machine the browser can
 * otherwise read a tiny model's whole reply in one network chunk, and a test of token-by-token
 * rendering would see a single update.
 */
function paced(e: AsyncLLM, ms: number): EngineClient {
  return new Proxy(e, {
    get(target, prop) {
      if (prop === 'generate') {
        return async function* (...args: Parameters<EngineClient['generate']>) {
          for await (const out of target.generate(...args)) {
            await new Promise((r) => setTimeout(r, ms));
            yield out;
          }
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const chipsText = (page: Page, choice = 0): Promise<string> => page.locator(`[data-testid=choice-${choice}]`).evaluate((e) => e.textContent ?? '');

describe.skipIf(!haveChromium)('playground', () => {
  test('a chat reply streams token by token and equals the API greedy output', async () => {
    const slow = await startTestServer({}, paced(engine, 15));
    try {
      const page = await playground(slow.url);
      await page.fill('#ctl-temperature', '0');
      await page.fill('#ctl-max_tokens', '40');
      const message = 'Tell me about the harbour at dawn.';
      await page.fill('#input', message);
      // Count separate DOM updates of the reply: a streamed reply grows in many of them.
      // (Browser code as a string: these tests are compiled without the DOM types.)
      await page.evaluate(`
        window.updates = 0;
        new MutationObserver((records) => {
          if (records.some((r) => [...r.addedNodes].some((n) => n.dataset && n.dataset.testid === 'token'))) window.updates++;
        }).observe(document.getElementById('output'), { childList: true, subtree: true });
      `);
      await page.click('#send');
      await page.waitForSelector('[data-testid=finish-0]');
      const got = await chipsText(page);
      const api = await s.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: message }], temperature: 0, max_tokens: 40 });
      expect(got).toBe(api.choices[0]!.message.content);
      expect(await page.evaluate('window.updates')).toBeGreaterThan(3);
      expect(await page.textContent('[data-testid=finish-0]')).toContain(api.choices[0]!.finish_reason);
      await page.close();
    } finally {
      await slow.close();
    }
  });

  test('Stop aborts the generation in the engine', async () => {
    const page = await playground();
    await page.click('#mode-completion');
    await page.fill('#ctl-temperature', '0');
    await page.fill('#ctl-max_tokens', '240');
    await page.fill('#input', 'Once');
    // Press Stop the moment the first token shows: a tiny model can finish 240 tokens before a
    // click from outside the page lands (the growing output also keeps the button moving).
    await page.evaluate(`
      new MutationObserver((records, obs) => {
        if (records.some((r) => [...r.addedNodes].some((n) => n.dataset && n.dataset.testid === 'token'))) {
          obs.disconnect();
          document.getElementById('stop').click();
        }
      }).observe(document.getElementById('output'), { childList: true, subtree: true });
    `);
    await page.click('#send');
    await page.waitForSelector('[data-testid=finish-0]');
    expect(await page.textContent('[data-testid=finish-0]')).toContain('stopped');
    await waitFor(async () => (await engine.stats()).numRunning === 0, 5000, 'the aborted request to leave the engine');
    expect(await page.locator('[data-testid=token]').count()).toBeLessThan(240);
    expect(await page.isDisabled('#send')).toBe(false);
    await page.close();
  });

  test('token chips carry the API logprobs, and a click shows the top alternatives', async () => {
    const page = await playground();
    await page.click('#mode-completion');
    await page.fill('#ctl-temperature', '0');
    await page.fill('#ctl-max_tokens', '8');
    await page.fill('#ctl-logprobs', '5');
    const prompt = 'The library was quiet';
    await page.fill('#input', prompt);
    await page.click('#send');
    await page.waitForSelector('[data-testid=finish-0]');
    const api = await s.client.completions.create({ model: MODEL, prompt, temperature: 0, max_tokens: 8, logprobs: 5 });
    const lp = api.choices[0]!.logprobs!;
    const probs = await page.locator('[data-testid=token]').evaluateAll((els) => els.map((e) => Number((e as unknown as { dataset: Record<string, string> }).dataset.prob)));
    expect(probs).toHaveLength(8);
    probs.forEach((p, i) => expect(p).toBeCloseTo(Math.exp(lp.token_logprobs![i]!), 5));
    await page.locator('[data-testid=token]').nth(3).click();
    const rows = await page.locator('[data-testid=alternative]').allTextContents();
    const top = Object.entries(lp.top_logprobs![3]!).sort((a, b) => b[1] - a[1]);
    expect(rows).toHaveLength(top.length);
    rows.forEach((r, i) => expect(r).toContain(`${(100 * Math.exp(top[i]![1])).toFixed(2)}%`));
    await page.close();
  });

  test("the tokenization view shows the prompt's tokens as an independent GPT-2 tokenizer cuts them", async () => {
    const page = await playground();
    await page.click('#mode-completion');
    const prompt = "Hello world, it's 2024! naïve café";
    await page.fill('#input', prompt);
    await page.click('#tokenize');
    await page.waitForSelector('[data-testid=prompt-token]');
    const ids = await page.locator('[data-testid=prompt-token] sub').allTextContents();
    expect(ids.map(Number)).toEqual(tiktoken.encode(prompt));
    await page.close();
  });
});

/** The block map's counters, as the page drew them. */
const blockCounts = (page: Page): Promise<{ used: number; cached: number; free: number; shared: number }> =>
  page.locator('[data-testid=block-map]').evaluate((e) => {
    const d = (e as unknown as { dataset: Record<string, string> }).dataset;
    return { used: Number(d.used), cached: Number(d.cached), free: Number(d.free), shared: Number(d.shared) };
  });

async function dashboard(url = s.url, query = ''): Promise<Page> {
  const page = await open(`/dashboard${query}`, url);
  await page.waitForSelector('body[data-snapshots]');
  return page;
}

describe.skipIf(!haveChromium)('engine view', () => {
  const prompt = (i: number, len = 12): number[] => Array.from({ length: len }, (_, j) => (i * 7919 + j * 104729) % 50000);
  const generate = (p: number[], maxTokens: number) => s.client.completions.create({ model: MODEL, prompt: p, max_tokens: maxTokens, temperature: 0, ignore_eos: true } as never);

  test('the block map fills while 8 requests run and returns to free/cached after', async () => {
    const page = await dashboard(s.url, '?interval=100');
    await waitFor(async () => (await blockCounts(page)).used === 0, 5000, 'an idle engine');
    const before = await blockCounts(page);
    const runs = Array.from({ length: 8 }, (_, i) => generate(prompt(i + 1), 230));
    let busy = { used: 0, cached: 0, free: 0, shared: 0 };
    let running = 0;
    await waitFor(async () => {
      busy = await blockCounts(page);
      running = Number(await page.getAttribute('[data-testid=running]', 'data-count'));
      return busy.used >= 8 && running >= 2;
    }, 20_000, 'used blocks on the map');
    expect(busy.free).toBeLessThan(before.free);
    await Promise.all(runs);
    await waitFor(async () => (await blockCounts(page)).used === 0, 5000, 'the map to empty');
    const after = await blockCounts(page);
    // Everything is free again; the requests' full blocks stay cached for reuse.
    expect(after.cached).toBeGreaterThan(before.cached);
    expect(after.cached + after.free).toBe(before.cached + before.free);
    expect(Number(await page.getAttribute('[data-testid=running]', 'data-count'))).toBe(0);
    await page.close();
  });

  test('two requests sharing a long prefix show shared blocks', async () => {
    const page = await dashboard(s.url, '?interval=100');
    // The map is sampled 10 times a second and a tiny model decodes fast, so the window in which both
    // sharers run may fall between two snapshots: busy the engine with other traffic, and try again
    // (with a new prefix) if a round ends before the map caught it.
    let seen = 0;
    for (let round = 0; round < 3 && seen < 4; round++) {
      const shared = prompt(77 + round, 64);
      const load = Array.from({ length: 32 }, (_, i) => generate(prompt(200 + 40 * round + i), 180));
      // The first sharer streams: its first token means its prompt, four full blocks, is cached.
      const first = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: [...shared, 11], max_tokens: 180, temperature: 0, ignore_eos: true, stream: true }),
      });
      const reader = first.body!.getReader();
      await reader.read();
      let done = false;
      const both = Promise.all([generate([...shared, 12], 180), (async () => { while (!(await reader.read()).done); })()]).then(() => (done = true));
      await waitFor(async () => done || (seen = Math.max(seen, (await blockCounts(page)).shared)) >= 4, 20_000, 'the sharers to finish');
      await Promise.all([both, ...load]);
    }
    expect(seen).toBeGreaterThanOrEqual(4);
    await page.close();
  });

  test('the snapshot stream needs the API key when the server has one', async () => {
    const secured = await startTestServer({ apiKey: 'sekret' }, engine);
    try {
      expect((await fetch(`${secured.url}/engine/snapshots`)).status).toBe(401);
      const bad = await fetch(`${secured.url}/engine/snapshots`, { headers: { authorization: 'Bearer nope' } });
      expect(bad.status).toBe(401);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      // The pages themselves are public; without the key the view says so and draws nothing.
      const page = await open('/dashboard', secured.url);
      await page.waitForSelector('body[data-unauthorized=true]');
      expect(await page.textContent('#error')).toMatch(/API key/);
      // With the key in the tab's session storage, snapshots flow.
      await page.evaluate("sessionStorage.setItem('tinyvllm.apiKey', 'sekret')");
      await page.reload();
      await page.waitForSelector('body[data-snapshots]');
      await page.close();
    } finally {
      await secured.close();
    }
  });

  test('--no-ui serves no pages and no snapshot stream', async () => {
    const bare = await startTestServer({ ui: false }, engine);
    try {
      for (const path of ['/', '/dashboard', '/ui/playground.js', '/engine/snapshots']) expect((await fetch(`${bare.url}${path}`)).status, path).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
