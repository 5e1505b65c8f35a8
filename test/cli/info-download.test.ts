import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureName, type FixtureSpec, fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { startFakeHub, type FakeHub } from '../helpers/fake-hub.js';
import { expectOneLineError, expectPlain, runCli, runJson, type CliResult } from './run-cli.js';

interface InfoJson {
  dir: string;
  parameters: number;
  layers: number;
  heads: number;
  hiddenSize: number;
  vocabSize: number;
  contextLength: number;
  dtype: string;
  weightBytes: number;
  kvCacheDtype: string;
  kvBytesPerToken: number;
  backend: string;
  simd: string;
  threads: number;
}

/** GPT-2 with a tied lm_head and a 4x MLP: embeddings, 12C² + 13C per block, and the final LayerNorm. */
function gpt2Params(s: FixtureSpec): number {
  const C = s.nEmbd;
  return (s.vocabSize + s.nPositions) * C + s.nLayer * (12 * C * C + 13 * C) + 2 * C;
}

function expectShape(info: InfoJson, name: FixtureName): void {
  const { spec } = loadReference(name);
  expect(info.parameters).toBe(gpt2Params(spec));
  expect([info.layers, info.heads, info.hiddenSize, info.vocabSize, info.contextLength]).toEqual([spec.nLayer, spec.nHead, spec.nEmbd, spec.vocabSize, spec.nPositions]);
  // K and V for every layer, in the cache 'auto' picks: the weights' compute dtype.
  expect(info.kvCacheDtype).toBe(info.dtype);
  expect(info.kvBytesPerToken).toBe(2 * spec.nLayer * spec.nEmbd * (info.dtype === 'f32' ? 4 : 2));
}

describe('tinyvllm info', () => {
  let a: InfoJson;
  let b: InfoJson;
  let text: CliResult;
  beforeAll(async () => {
    [a, b, text] = await Promise.all([
      runJson<InfoJson>(['info', '--model', fixtureModelDir('tiny-gpt2-a')]),
      runJson<InfoJson>(['info', '--model', fixtureModelDir('tiny-gpt2-b', 'bf16'), '--backend', 'reference']),
      runCli(['info', '--model', fixtureModelDir('tiny-gpt2-a')]),
    ]);
  });

  it('--json reports shape, parameter count, dtype, memory and backend', () => {
    expectShape(a, 'tiny-gpt2-a');
    expectShape(b, 'tiny-gpt2-b');
    expect(a.dir).toBe(fixtureModelDir('tiny-gpt2-a'));
    expect(a.dtype).toBe('f32');
    expect(b.dtype).toBe('bf16');
    // f32 weights hold at least 4 bytes per parameter; bf16 at least 2.
    expect(a.weightBytes).toBeGreaterThanOrEqual(4 * a.parameters);
    expect(b.weightBytes).toBeGreaterThanOrEqual(2 * b.parameters);
    expect(['native', 'reference']).toContain(a.backend);
    expect(b.backend).toBe('reference');
    for (const i of [a, b]) {
      expect(i.simd.length).toBeGreaterThan(0);
      expect(i.threads).toBeGreaterThanOrEqual(1);
    }
  });

  it('prints aligned key/value lines', () => {
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    expectPlain(text.stdout);
    const rows = new Map(text.stdout.trimEnd().split('\n').map((l) => [l.slice(0, 15).trim(), l.slice(15)]));
    expect(rows.get('parameters')).toBe(`3.3M (${a.parameters.toLocaleString('en-US')})`);
    expect(rows.get('layers')).toBe(String(a.layers));
    expect(rows.get('heads')).toBe(`${a.heads} × ${a.hiddenSize / a.heads} dims`);
    expect(rows.get('backend')).toBe(`${a.backend} ${a.simd}, ${a.threads} thread${a.threads === 1 ? '' : 's'}`);
  });
});

describe('tinyvllm download', () => {
  const repo = 'tiny-org/tiny-gpt2';
  const files = ['config.json', 'vocab.json', 'merges.txt', 'model.safetensors'];
  let hub: FakeHub;
  let cache: string;
  beforeAll(async () => {
    const src = fixtureModelDir('tiny-gpt2-a');
    const repoFiles = new Map(files.map((f) => [f, readFileSync(join(src, f))]));
    repoFiles.set('README.md', Buffer.from('# not fetched'));
    hub = await startFakeHub(new Map([[repo, repoFiles]]));
    cache = mkdtempSync(join(tmpdir(), 'tinyvllm-cli-hub-'));
  });
  afterAll(async () => {
    await hub.close();
    rmSync(cache, { recursive: true, force: true });
  });

  it('fetches a repo into HF_HUB_CACHE, after which the hub name loads offline', async () => {
    const online = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: undefined };
    const [got, missing] = await Promise.all([
      runJson<{ repo: string; dir: string }>(['download', repo], online),
      runCli(['download', 'tiny-org/missing'], online),
    ]);
    expect(got.repo).toBe(repo);
    expect(got.dir.startsWith(join(cache, 'models--tiny-org--tiny-gpt2', 'snapshots'))).toBe(true);
    const src = fixtureModelDir('tiny-gpt2-a');
    for (const f of files) expect(readFileSync(join(got.dir, f)).equals(readFileSync(join(src, f))), f).toBe(true);
    expect(expectOneLineError(missing)).toContain('tiny-org/missing');

    const info = await runJson<InfoJson>(['info', '--model', repo], { HF_HUB_CACHE: cache });
    expect(info.dir).toBe(got.dir);
    expectShape(info, 'tiny-gpt2-a');
  });
});
