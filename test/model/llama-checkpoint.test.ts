/**
 * Llama-family checkpoints on disk: the synthetic weights equal PyTorch's bit for bit, sharded
 * checkpoints load like single files, a tied head saved anyway is ignored, and what does not fit
 * the config is named.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { createModel } from '../../src/model/model.js';
import { writeSafetensors, type TensorToWrite } from '../../src/checkpoint/safetensors-writer.js';
import { syntheticTensor } from '../../src/bench/synthetic.js';
import type { Tensor } from '../../src/checkpoint/tensor.js';
import { LLAMA_FIXTURE_NAMES, fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { Pager } from '../helpers/pager.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function newDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tinyvllm-llama-ckpt-'));
  dirs.push(d);
  return d;
}

const sha256 = (v: Float32Array) => createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex');

/** Writes `tensors` (HF names) as `shards` safetensors files plus an index, next to the source's config. */
function writeCheckpoint(from: string, tensors: readonly Tensor[], shards: number): string {
  const dir = newDir();
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(from, f), join(dir, f));
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = shards === 1 ? 'model.safetensors' : `model-0000${s + 1}-of-0000${shards}.safetensors`;
    const part = tensors.filter((_, i) => i % shards === s);
    const entries: TensorToWrite[] = part.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype === 'f32' ? 'F32' : t.dtype === 'bf16' ? 'BF16' : 'F16', data: t.data }));
    writeSafetensors(join(dir, file), entries);
    for (const t of part) weightMap[t.name] = file;
  }
  if (shards > 1) writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

function lastLogits(dir: string, tokens: readonly number[]): Float32Array {
  const model = createModel(loadCheckpoint(dir), createReferenceBackend());
  const pager = new Pager(8, 8, 1);
  const seq = pager.addSequence();
  const { batch } = pager.batch([{ seq, tokens }], (_s, pos) => pos === tokens.length - 1);
  return Float32Array.from(model.forward(batch, model.createKVCache(8, 8)));
}

describe('Llama-family synthetic weights', () => {
  for (const name of LLAMA_FIXTURE_NAMES) {
    it(`${name}: every tensor equals PyTorch's (SHA-256 of the f32 data)`, () => {
      const ref = loadReference(name);
      const f32 = loadCheckpoint(fixtureModelDir(name, 'f32'));
      const names = Object.keys(ref.tensorSha256);
      expect([...f32.tensors.keys()].sort()).toEqual([...names].sort());
      for (const n of names) {
        const t = f32.tensors.get(n)!;
        expect(sha256(syntheticTensor(n, t.shape, ref.spec.seed)), n).toBe(ref.tensorSha256[n]);
        expect(sha256(t.data as Float32Array), n).toBe(ref.tensorSha256[n]);
      }
    });
  }
});

describe('Llama-family checkpoint files', () => {
  const name = 'tiny-llama-b';
  const src = fixtureModelDir(name, 'f32');
  const tensors = [...loadCheckpoint(src).tensors.values()];
  const prompt = loadReference(name).prompts[2]!;

  it('loads a sharded checkpoint (model.safetensors.index.json) like the single file', () => {
    const sharded = writeCheckpoint(src, tensors, 3);
    expect(loadCheckpoint(sharded).tensors.size).toBe(tensors.length);
    expect(Array.from(lastLogits(sharded, prompt.tokens))).toEqual(Array.from(lastLogits(src, prompt.tokens)));
  });

  it('ignores an lm_head.weight saved beside tied embeddings, and rotary buffers', () => {
    const tied = 'tiny-llama-a';
    const tiedSrc = fixtureModelDir(tied, 'f32');
    const own = [...loadCheckpoint(tiedSrc).tensors.values()];
    const embed = own.find((t) => t.name === 'model.embed_tokens.weight')!;
    const extra: Tensor[] = [
      { ...embed, name: 'lm_head.weight', data: new Float32Array(embed.data.length) },
      { ...embed, name: 'model.layers.0.self_attn.rotary_emb.inv_freq', shape: [8], data: new Float32Array(8) },
    ];
    const dir = writeCheckpoint(tiedSrc, [...own, ...extra], 1);
    const p = loadReference(tied).prompts[2]!;
    const logits = lastLogits(dir, p.tokens);
    let worst = 0;
    logits.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - p.lastLogits[i]))));
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('names missing, misshapen and foreign tensors', () => {
    const drop = writeCheckpoint(src, tensors.filter((t) => t.name !== 'lm_head.weight' && t.name !== 'model.layers.1.self_attn.k_proj.bias'), 1);
    expect(() => loadCheckpoint(drop)).toThrow(/missing tensor "model\.layers\.1\.self_attn\.k_proj\.bias" \(expected shape \[64\]\)/);
    expect(() => loadCheckpoint(drop)).toThrow(/missing tensor "lm_head\.weight" \(expected shape \[128256, 64\]\)/);
    // q_proj is [heads * head_dim, hidden] = [128, 64] (nn.Linear's [out, in]); the transpose is named.
    const bad = tensors.map((t) => (t.name === 'model.layers.0.self_attn.q_proj.weight' ? { ...t, shape: [64, 128] } : t));
    expect(() => loadCheckpoint(writeCheckpoint(src, bad, 1))).toThrow(/"model\.layers\.0\.self_attn\.q_proj\.weight" in .* has shape \[64, 128\], expected \[128, 64\]/);
    const norm = tensors.find((t) => t.name === 'model.norm.weight')!;
    const foreign = writeCheckpoint(src, [...tensors, { ...norm, name: 'model.layers.2.input_layernorm.weight' }], 1);
    expect(() => loadCheckpoint(foreign)).toThrow(/unexpected tensors, not part of a LlamaForCausalLM with num_hidden_layers=2: "model\.layers\.2\.input_layernorm\.weight"/);
  });
});
