/** `generate` on a checkpoint with a NaN weight: a one-line error, or a warning with --allow-non-finite-weights. */
import { copyFileSync, mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader } from '../../src/checkpoint/safetensors.js';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { expectOneLineError, runMany, type CliResult } from './run-cli.js';

let dir: string;
let refused: CliResult;
let allowed: CliResult;

beforeAll(async () => {
  const src = fixtureModelDir('tiny-gpt2-a');
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-cli-nan-'));
  for (const f of ['config.json', 'vocab.json', 'merges.txt', 'model.safetensors']) copyFileSync(join(src, f), join(dir, f));
  const weights = join(dir, 'model.safetensors');
  const entry = readSafetensorsHeader(weights).tensors.get('h.0.mlp.c_fc.weight')!;
  const fd = openSync(weights, 'r+');
  writeSync(fd, new Uint8Array(new Float32Array([NaN]).buffer), 0, 4, entry.start + 4 * 3);
  closeSync(fd);
  const args = ['generate', 'Hello', '--max-tokens', '2', '--model', dir];
  [refused, allowed] = await runMany([args, [...args, '--allow-non-finite-weights']]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('non-finite weights on the command line', () => {
  it('refuses to load, naming the tensor and the flag', () => {
    const line = expectOneLineError(refused);
    expect(line).toContain(`tensor "h.0.mlp.c_fc.weight" in ${join(dir, 'model.safetensors')} holds 1 non-finite value`);
    expect(line).toContain('--allow-non-finite-weights');
  });

  it('loads with --allow-non-finite-weights and warns on stderr', () => {
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain('NonFiniteWeights');
    expect(allowed.stderr).toContain('tensor "h.0.mlp.c_fc.weight"');
  });
});
