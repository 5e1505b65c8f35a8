/** Runs the real `tinyvllm` CLI as a child process, as a user would, without colour or network. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'src/cli/index.ts');
/** The command line that runs the CLI from source. */
export const CLI_ARGV: readonly string[] = [process.execPath, '--import', 'tsx', CLI];

/** An empty hub cache, so a hub name can never resolve to a model someone downloaded. */
const EMPTY_CACHE = mkdtempSync(join(tmpdir(), 'tinyvllm-cli-cache-'));
process.on('exit', () => rmSync(EMPTY_CACHE, { recursive: true, force: true }));

/**
 * `--backend auto` warns when the native addon is not built (no compiler, or a rebuild under way);
 * the output under test is the same either way, so that one line is dropped.
 */
const NATIVE_FALLBACK = /^tinyvllm: native backend unavailable: .* Falling back to the slow reference backend\.\n/m;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `env` entries set to undefined are removed from the child's environment. */
export function runCli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, HF_HUB_OFFLINE: '1', HF_HUB_CACHE: EMPTY_CACHE, ...env };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(CLI_ARGV[0], [...CLI_ARGV.slice(1), ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr: stderr.replace(NATIVE_FALLBACK, '') }));
  });
}

/** Runs with --json, expects success with nothing on stderr (no spinner, no log) and parses stdout. */
export async function runJson<T>(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<T> {
  const r = await runCli([...args, '--json'], env);
  expect(r.stderr, `stderr of tinyvllm ${args.join(' ')}`).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** Expects exit code 1 and exactly one `error: ...` line on stderr; returns that line. */
export function expectOneLineError(r: CliResult): string {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: \S/);
  return lines[0];
}

/** No escape sequences: colour stays off with NO_COLOR and off a terminal. */
export function expectPlain(s: string): void {
  expect(s.includes('\u001b[')).toBe(false);
}

/** Runs many invocations two at a time (each spawn costs about a second of CPU; CI has 2 cores). */
export async function runMany(invocations: readonly (readonly string[])[], env: Record<string, string | undefined> = {}, parallel = 2): Promise<CliResult[]> {
  const results: CliResult[] = new Array(invocations.length);
  let next = 0;
  const worker = async () => {
    while (next < invocations.length) {
      const i = next++;
      results[i] = await runCli(invocations[i], env);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, invocations.length) }, worker));
  return results;
}
