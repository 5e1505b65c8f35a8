#!/usr/bin/env node
// Bundles the browser pages (web/) into dist/web/ with esbuild: one script and one stylesheet per
// page, plus the HTML. Runs at `npm install` (prepare) and `npm run build`; no network.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
const t0 = performance.now();
await build({
  entryPoints: { playground: join(root, 'web/src/playground.ts'), dashboard: join(root, 'web/src/dashboard.ts') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const page of ['index.html', 'dashboard.html']) copyFileSync(join(root, 'web', page), join(out, page));
console.log(`tinyvllm: web pages built in ${((performance.now() - t0) / 1000).toFixed(1)} s (dist/web)`);
