/**
 * Debian's Chromium driven by playwright-core (its own browser downloads cannot work offline).
 * .ci/run installs chromium; without it, outside CI, the browser tests are skipped with a warning.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.TINYVLLM_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

if (!haveChromium && process.env.CI) throw new Error(`Chromium is not installed at ${CHROMIUM}: .ci/run installs it with apt-get install -y chromium`);
if (!haveChromium) console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // No sandbox as root; no background traffic to hosts this machine cannot reach.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}
