import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { expectOneLineError, runMany, type CliResult } from './run-cli.js';

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
