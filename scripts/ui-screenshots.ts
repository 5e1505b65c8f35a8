/**
 * Screenshots of the playground and the engine view for the README (docs/playground.png,
 * docs/dashboard.png), taken in Debian's Chromium against a real server:
 *
 *   npx tsx scripts/ui-screenshots.ts --model kjv-mini
 */
import { parseArgs } from 'node:util';
import { startServer } from '../src/server/serve.js';
import { launch } from '../test/ui/browser.js';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'kjv-mini' }, out: { type: 'string', default: 'docs' } } });
const server = await startServer({ model: values.model!, port: 0, threads: 1, kvCacheMemory: '64MiB', log: () => {}, handleSignals: false });
await server.ready;
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#mode-completion');
  await page.fill('#ctl-temperature', '0.8');
  await page.fill('#ctl-seed', '7');
  await page.fill('#ctl-max_tokens', '60');
  await page.fill('#input', 'In the beginning God created');
  await page.click('#send');
  await page.waitForSelector('[data-testid=finish-0]');
  await page.click('#tokenize');
  await page.waitForSelector('[data-testid=prompt-token]');
  await page.locator('[data-testid=token]').nth(4).click();
  await page.screenshot({ path: `${values.out}/playground.png` });

  const dash = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await dash.goto(`${server.url}/dashboard`);
  await dash.waitForSelector('body[data-snapshots]');
  // Load with a shared prefix, so the map shows requests, shared blocks and the cache.
  const prefix = 'And God said, Let there be light: and there was light. And God saw the light, that it was good: ';
  const load = Array.from({ length: 24 }, (_, i) =>
    fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `${prefix}${['and', 'but', 'for', 'then', 'so'][i % 5]} ${i}`, max_tokens: 440, ignore_eos: true, temperature: 0.7, seed: i }),
    }),
  );
  await dash.waitForFunction("Number(document.querySelector('[data-testid=running]')?.getAttribute('data-count') ?? 0) >= 8");
  await new Promise((r) => setTimeout(r, 600));
  await dash.screenshot({ path: `${values.out}/dashboard.png` });
  await Promise.all(load);
} finally {
  await browser.close();
  await server.close();
}
console.log(`wrote ${values.out}/playground.png and ${values.out}/dashboard.png`);
