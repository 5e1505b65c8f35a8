import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { expectOneLineError, runJson, runMany, type CliResult } from './run-cli.js';

const context = loadReference('tiny-gpt2-a').spec.nPositions;
const LONG = 'hello '.repeat(context + 40);
const longTokens = getEncoding('r50k_base').encode(LONG).length;

let dir: string;
const results = new Map<string, CliResult>();

/** Every failing invocation runs once, up front, a few at a time. */
beforeAll(async () => {
  const model = fixtureModelDir('tiny-gpt2-a');
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-cli-errors-'));
  writeFileSync(join(dir, 'bad.jsonl'), '{"prompt": "fine"}\n{"prompt": "no closing brace"\n');
  const m = ['--model', model];
  const cases: Record<string, string[]> = {
    missingDir: ['info', '--model', join(dir, 'no-such-model')],
    offlineHub: ['tokenize', 'hi', '--model', 'gpt2'],
    topP: ['generate', 'Hello', '--top-p', '2', ...m],
    topPJson: ['generate', 'Hello', '--top-p', '2', '--json', ...m],
    longGenerate: ['generate', LONG, ...m],
    pastContext: ['generate', 'Hello', '--max-tokens', String(context), ...m],
    pastContextJson: ['generate', 'Hello', '--max-tokens', String(context), '--json', ...m],
    longPredict: ['predict', LONG, ...m],
    missingFile: ['generate', '--prompts-file', join(dir, 'nope.txt'), ...m],
    badJsonl: ['generate', '--prompts-file', join(dir, 'bad.jsonl'), ...m],
    noPrompt: ['generate', ...m],
    badInt: ['generate', 'Hello', '--top-k', 'abc', ...m],
    badIntJson: ['generate', 'Hello', '--top-k', 'abc', '--json', ...m],
    benchBadFlagJson: ['bench', 'latency', '--bogus', '--json'],
    kvTooSmall: ['generate', 'Hello', '--kv-cache-memory', '1KiB', '--max-tokens', '1', ...m],
    serveBadPort: ['serve', '--port', 'http'],
    benchBadFlag: ['bench', 'latency', '--bogus'],
    benchBadValue: ['bench', 'throughput', '--num-prompts', '0'],
    kernelsBadFlag: ['bench', 'kernels', '--model', 'gpt2'],
  };
  const names = Object.keys(cases);
  (await runMany(names.map((n) => cases[n]))).forEach((r, i) => results.set(names[i], r));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const error = (name: string): string => expectOneLineError(results.get(name)!);

describe('CLI errors: one line on stderr, exit code 1', () => {
  it('names a missing model directory', () => {
    expect(error('missingDir')).toContain(join(dir, 'no-such-model'));
  });

  it('names the hub model and offline mode when the cache lacks it', () => {
    expect(error('offlineHub')).toMatch(/"gpt2".*HF_HUB_OFFLINE/);
  });

  it('names an invalid sampling parameter, before echoing any prompt', () => {
    expect(error('topP')).toContain("'top_p'");
    expect(results.get('topP')!.stdout).toBe('');
    const json = results.get('topPJson')!;
    expect(error('topPJson')).toContain("'top_p'");
    expect((JSON.parse(json.stdout) as { error: { message: string } }).error.message).toContain("'top_p'");
  });

  it('gives the prompt length and the context length for an over-long prompt', () => {
    for (const name of ['longGenerate', 'longPredict']) {
      const line = error(name);
      expect(line).toContain(String(longTokens));
      expect(line).toContain(String(context));
      expect(results.get(name)!.stdout).toBe('');
    }
  });

  it('rejects --max-tokens past the context with the server message, before echoing the prompt', () => {
    const message = `This model's maximum context length is ${context} tokens. However, you requested ${context + 1} tokens (1 in the prompt, ${context} in the completion). Please reduce the length of the prompt or completion.`;
    expect(error('pastContext')).toBe(`error: ${message}`);
    expect(results.get('pastContext')!.stdout).toBe('');
    expect(error('pastContextJson')).toBe(`error: ${message}`);
    expect(JSON.parse(results.get('pastContextJson')!.stdout)).toEqual({ error: { message } });
  });

  it('names a missing prompts file and the line of malformed JSONL', () => {
    expect(error('missingFile')).toContain(join(dir, 'nope.txt'));
    expect(error('badJsonl')).toContain(`${join(dir, 'bad.jsonl')}:2: not valid JSON`);
    expect(error('noPrompt')).toContain('--prompts-file');
  });

  it('names the flag for bad flags and values, in every command', () => {
    expect(error('badInt')).toContain('--top-k');
    expect(error('serveBadPort')).toContain('--port');
    expect(error('benchBadFlag')).toContain("unknown option '--bogus'");
    expect(error('benchBadValue')).toContain('--num-prompts');
    expect(error('kernelsBadFlag')).toContain("unknown option '--model'");
  });

  it('prints usage errors as a JSON error object on stdout with --json', () => {
    for (const [name, flag] of [['badIntJson', '--top-k'], ['benchBadFlagJson', '--bogus']] as const) {
      const line = error(name);
      expect(line).toContain(flag);
      const json = JSON.parse(results.get(name)!.stdout) as { error: { message: string } };
      expect(Object.keys(json)).toEqual(['error']);
      expect(json.error.message).toContain(flag);
      expect(line).toContain(json.error.message);
    }
  });

  it('states the least --kv-cache-memory that works, and that amount works', async () => {
    // tiny-gpt2-a: 16-token blocks of 1 KiB tokens (f32); two blocks, one of them reserved.
    expect(error('kvTooSmall')).toContain('the minimum is 32.00 KiB (32768 bytes; f32)');
    const least = await runJson<{ outputs: { tokenIds: number[] }[] }>(['generate', 'Hello', '--kv-cache-memory', '32768', '--max-tokens', '1', '--model', fixtureModelDir('tiny-gpt2-a')]);
    expect(least.outputs[0]!.tokenIds).toHaveLength(1);
  });
});

describe('serve on a port in use', () => {
  let holder: Server;
  let port: number;

  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  it('says so and suggests --port 0 or another port, also as JSON', async () => {
    const [plain, json] = await runMany([
      ['serve', fixtureModelDir('tiny-gpt2-a'), '--port', String(port)],
      ['serve', fixtureModelDir('tiny-gpt2-a'), '--port', String(port), '--json'],
    ]);
    const message = `127.0.0.1:${port} is already in use (another server?): pass --port 0 to pick a free port, or choose another --port`;
    expect(expectOneLineError(plain!)).toBe(`error: ${message}`);
    expect(expectOneLineError(json!)).toBe(`error: ${message}`);
    expect(JSON.parse(json!.stdout)).toEqual({ error: { message } });
  });
});

describe('--help', () => {
  const commands = [['serve'], ['bench'], ['bench', 'latency'], ['bench', 'throughput'], ['bench', 'serve'], ['bench', 'kernels']];
  it('works for serve and every benchmark', async () => {
    const helps = await runMany(commands.map((c) => [...c, '--help']));
    helps.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: tinyvllm ${commands[i].join(' ')} [options]`);
      expect(r.stderr).toBe('');
    });
    expect(helps[1].stdout).toMatch(/latency[\s\S]*throughput[\s\S]*serve[\s\S]*kernels/);
  });
});
