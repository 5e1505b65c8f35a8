/** `--kv-cache-dtype`: accepted by the engine commands, a bad value rejected naming the flag and the choices. */
import { describe, expect, it } from 'vitest';
import { fixtureModelDir } from '../helpers/fixtures.js';
import { expectOneLineError, runCli, runJson, runMany } from './run-cli.js';

const model = fixtureModelDir('tiny-gpt2-a');

interface InfoKv {
  kvCacheDtype: string;
  kvBytesPerToken: number;
  kvBytesPerTokenHalf: number;
  layers: number;
  hiddenSize: number;
}

describe('--kv-cache-dtype', () => {
  it('runs generate with a bf16 KV cache', async () => {
    const out = await runJson<{ outputs: { tokenIds: number[]; finishReason: string }[] }>(
      ['generate', 'Hello there', '--model', model, '--kv-cache-dtype', 'bf16', '--max-tokens', '4', '--ignore-eos'],
    );
    expect(out.outputs[0]!.tokenIds).toHaveLength(4);
    expect(out.outputs[0]!.finishReason).toBe('length');
  });

  it('rejects an unknown precision with the allowed choices', async () => {
    const [generate, bench] = await runMany([
      ['generate', 'Hello', '--model', model, '--kv-cache-dtype', 'fp8'],
      ['bench', 'throughput', '--kv-cache-dtype', 'int8'],
    ]);
    expect(expectOneLineError(generate!)).toMatch(/--kv-cache-dtype <dtype>.*'fp8' is invalid.*auto, f32, bf16, f16/);
    expect(expectOneLineError(bench!)).toMatch(/--kv-cache-dtype <dtype>.*'int8' is invalid.*auto, f32, bf16, f16/);
  });

  it('info reports KV bytes per token for f32 and for bf16/f16', async () => {
    const info = await runJson<InfoKv>(['info', '--model', model]);
    expect(info.kvCacheDtype).toBe('f32');
    expect(info.kvBytesPerToken).toBe(2 * info.layers * info.hiddenSize * 4);
    expect(info.kvBytesPerTokenHalf).toBe(2 * info.layers * info.hiddenSize * 2);
    const text = await runCli(['info', '--model', model]);
    expect(text.stdout).toMatch(/KV cache +1.00 KiB per token, 256.00 KiB per full context \(f32\)/);
    expect(text.stdout).toMatch(/KV bf16\/f16 +\d/);
  });

  it('info with bf16 weights reports the bf16 cache that auto picks, and follows --kv-cache-dtype', async () => {
    const [bf16, forced] = await Promise.all([
      runJson<InfoKv>(['info', '--model', model, '--dtype', 'bf16']),
      runJson<InfoKv>(['info', '--model', model, '--dtype', 'bf16', '--kv-cache-dtype', 'f32']),
    ]);
    expect([bf16.kvCacheDtype, bf16.kvBytesPerToken]).toEqual(['bf16', 2 * bf16.layers * bf16.hiddenSize * 2]);
    expect([forced.kvCacheDtype, forced.kvBytesPerToken]).toEqual(['f32', 2 * forced.layers * forced.hiddenSize * 4]);
    const text = await runCli(['info', '--model', model, '--dtype', 'bf16']);
    expect(text.stdout).toMatch(/KV cache +512 B per token, 128.00 KiB per full context \(bf16\)/);
    expect(text.stdout).toMatch(/KV f32 +1.00 KiB per token/);
  });
});
