/**
 * `--help` must stay fast: commands import their modules only when they run. Rather than time it
 * (figures in the README), this checks what a help invocation actually loads.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runMany, type CliResult } from './run-cli.js';

const RECORDER = pathToFileURL(join(ROOT, 'test/helpers/record-imports.mjs')).href;
const HELPS = [['--help'], ['generate', '--help'], ['serve', '--help'], ['bench', 'serve', '--help']];

/** What running a command loads, never what `--help` may: the server, engine, model, kernels, spinners. */
const HEAVY = [/\/src\/(server|engine|model|checkpoint|hub|kernels|bench|tokenizer)\//, /\/node_modules\/(fastify|ora|cli-progress|cli-table3)\//];
/** Leaf modules the flags need (the option vocabularies, memory sizes): they import nothing at run time. */
const LEAVES = ['src/kernels/backend.ts', 'src/engine/memory-size.ts'];
const isLeaf = (u: string): boolean => LEAVES.some((l) => u.endsWith(`/${l}`));

let dir: string;
let runs: { result: CliResult; loaded: string[] }[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-help-'));
  const logs = HELPS.map((_, i) => join(dir, `imports-${i}.log`));
  const results = await Promise.all(HELPS.map((args, i) => runMany([args], { RECORD_IMPORTS: logs[i], NODE_OPTIONS: `--import ${RECORDER}` }, 1)));
  runs = results.map(([result], i) => ({ result, loaded: readFileSync(logs[i], 'utf8').trim().split('\n') }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--help loads no command implementation', () => {
  it.each(HELPS.map((args, i) => [args.join(' '), i] as const))('tinyvllm %s', (_, i) => {
    const { result, loaded } = runs[i];
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Usage: tinyvllm/);
    // The recorder works: the CLI's own modules are in the list.
    expect(loaded.some((u) => u.endsWith('/src/cli/commands/bench.ts'))).toBe(true);
    expect(loaded.some((u) => u.includes('/node_modules/commander/'))).toBe(true);
    expect(loaded.filter((u) => HEAVY.some((re) => re.test(u)) && !isLeaf(u))).toEqual([]);
  });

  it('the leaf modules it may load import nothing at run time', () => {
    for (const leaf of LEAVES) expect(readFileSync(join(ROOT, leaf), 'utf8'), leaf).not.toMatch(/^import (?!type )/m);
  });
});
