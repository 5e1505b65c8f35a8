/** `tinyvllm info` and `generate` on Llama-family checkpoint directories. */
import { describe, expect, it } from 'vitest';
import { fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { runCli, runJson } from './run-cli.js';

interface LlamaInfoJson {
  architecture: string;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rope: { theta: number; scaling: { type: string; factor: number } | null } | null;
  kvBytesPerToken: number;
  kvBytesPerTokenHalf: number;
}

describe('tinyvllm info on Llama-family models', () => {
  it('shows the architecture, K/V heads, head size, rope settings and the GQA KV bytes per token', async () => {
    const info = await runJson<LlamaInfoJson>(['info', '--model', fixtureModelDir('tiny-llama-b'), '--backend', 'reference']);
    expect(info).toMatchObject({ architecture: 'LlamaForCausalLM', layers: 2, heads: 4, kvHeads: 2, headDim: 32 });
    expect(info.rope).toEqual({ theta: 10000, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } });
    // 2 layers x (K + V) x 2 K/V heads x 32 values.
    expect([info.kvBytesPerToken, info.kvBytesPerTokenHalf]).toEqual([2 * 2 * 2 * 32 * 4, 2 * 2 * 2 * 32 * 2]);
    const text = await runCli(['info', '--model', fixtureModelDir('tiny-qwen3'), '--backend', 'reference']);
    expect(text.stdout).toMatch(/architecture\s+Qwen3ForCausalLM/);
    expect(text.stdout).toMatch(/heads\s+4 query, 1 KV \(groups of 4\) × 32 dims/);
    expect(text.stdout).toMatch(/rope\s+theta 1000000/);
  });

  it('generates the PyTorch greedy continuation from a Qwen2-shaped checkpoint directory', async () => {
    const ref = loadReference('tiny-qwen2');
    const p = ref.prompts[3]!;
    const out = await runJson<{ promptTokenIds: number[]; outputs: { tokenIds: number[] }[] }>(
      ['generate', p.text, '--model', fixtureModelDir('tiny-qwen2'), '--backend', 'reference', '--temperature', '0', '--max-tokens', '8', '--ignore-eos', '--json'],
    );
    expect(out.promptTokenIds).toEqual(p.tokens);
    expect(out.outputs[0]!.tokenIds).toEqual(p.greedy.tokens.slice(0, 8));
  });
});
