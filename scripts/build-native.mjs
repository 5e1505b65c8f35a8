#!/usr/bin/env node
// Builds the native backend (build/Release/tinyvllm.node) with node-gyp. A failed build is not an
// install failure: it prints one warning line and exits 0, and the engine uses the TypeScript
// backend. Never downloads anything: Node's headers come from the local installation. Prints its
// own wall time either way (CI logs it as a figure to watch).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const started = process.hrtime.bigint();
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** node-gyp: the one npm runs scripts with, a local install, or the copy bundled with npm. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((p) => p && existsSync(p));
}

/** Headers of the running Node (e.g. /usr with /usr/include/node), so node-gyp never downloads them. */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** Seconds since this script started, e.g. "23.4 s". */
function elapsed() {
  return `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`;
}

function warn(reason) {
  console.warn(`tinyvllm: native backend not built (${reason}; ${elapsed()}); using the TypeScript backend.`);
  process.exit(0);
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) warn('node-gyp not found');
const args = [nodeGyp, 'rebuild', '--jobs', 'max'];
const nodedir = findNodeDir();
if (nodedir) args.push(`--nodedir=${nodedir}`);
const verbose = process.argv.includes('--verbose');
const res = spawnSync(process.execPath, args, { cwd: root, stdio: verbose ? 'inherit' : 'pipe', encoding: 'utf8' });
if (res.status !== 0) {
  const log = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  const firstError = log.split('\n').find((l) => /error/i.test(l))?.trim();
  warn(firstError ? `node-gyp failed: ${firstError.slice(0, 200)}` : `node-gyp exited with ${res.status ?? res.signal}`);
}
console.log(`tinyvllm: native backend built in ${elapsed()} (build/Release/tinyvllm.node)`);
