import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectCheckpoint, loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { readSafetensorsHeader } from '../../src/checkpoint/safetensors.js';
import {
  TINY,
  type TensorSpec,
  encodeSafetensors,
  f32Bytes,
  tinyConfigJson,
  tinyGpt2Tensors,
  writeTinyCheckpoint,
} from '../helpers/safetensors-writer.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tinyvllm-ckpt-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
const newDir = () => join(root, `m${counter++}`);

/** Loads and returns the error message, failing the test if loading succeeds. */
function loadError(dir: string): string {
  try {
    loadCheckpoint(dir);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`expected loading ${dir} to fail`);
}

/** The values a spec holds, decoded the way the test writer encoded them (little-endian). */
function specWords(spec: TensorSpec): number[] {
  const view = new DataView(spec.bytes.buffer, spec.bytes.byteOffset, spec.bytes.byteLength);
  return spec.dtype === 'F32'
    ? Array.from({ length: spec.bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true))
    : Array.from({ length: spec.bytes.length / 2 }, (_, i) => view.getUint16(i * 2, true));
}

describe('loadCheckpoint', () => {
  it('loads a single-file F32 checkpoint, normalising names and skipping buffers', () => {
    const dir = newDir();
    const specs = tinyGpt2Tensors();
    // save_pretrained exports can carry the causal-mask buffers and the tied LM head.
    const extras: TensorSpec[] = [
      { name: 'transformer.h.0.attn.bias', dtype: 'F32', shape: [1, 1, 1, 1], bytes: f32Bytes([1]) },
      { name: 'transformer.h.1.attn.masked_bias', dtype: 'F32', shape: [], bytes: f32Bytes([-1e4]) },
      { name: 'lm_head.weight', dtype: 'F32', shape: [TINY.vocabSize, TINY.nEmbd], bytes: specs[0]!.bytes },
    ];
    writeTinyCheckpoint(dir, { tensors: [...specs, ...extras] });

    const progress: [number, number, string][] = [];
    const ckpt = loadCheckpoint(dir, { onProgress: (d, t, f) => progress.push([d, t, f]) });

    expect(ckpt.dir).toBe(dir);
    expect(ckpt.config).toMatchObject({ vocabSize: 16, nPositions: 8, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32 });
    expect(ckpt.dtype).toBe('f32');
    expect(ckpt.tensors.size).toBe(4 + 12 * TINY.nLayer);
    for (const spec of specs) {
      const name = spec.name.replace(/^transformer\./, '');
      const t = ckpt.tensors.get(name)!;
      expect(t, name).toBeDefined();
      expect(t.name).toBe(name);
      expect(t.shape).toEqual(spec.shape);
      expect(t.file).toBe(join(dir, 'model.safetensors'));
      expect(Array.from(t.data)).toEqual(specWords(spec));
    }
    const weightBytes = specs.reduce((a, s) => a + s.bytes.length, 0);
    expect(progress.length).toBe(specs.length);
    expect(progress.at(-1)).toEqual([weightBytes, weightBytes, join(dir, 'model.safetensors')]);
    expect(progress.every(([d], i) => i === 0 || d > progress[i - 1]![0])).toBe(true);
  });

  it('loads names without the transformer. prefix, and F16 / BF16 raw bits', () => {
    for (const dtype of ['F16', 'BF16'] as const) {
      const dir = newDir();
      const specs = tinyGpt2Tensors(TINY, dtype, '');
      writeTinyCheckpoint(dir, { tensors: specs });
      const ckpt = loadCheckpoint(dir);
      expect(ckpt.dtype).toBe(dtype.toLowerCase());
      const wte = ckpt.tensors.get('wte.weight')!;
      expect(wte.data).toBeInstanceOf(Uint16Array);
      expect(Array.from(wte.data)).toEqual(specWords(specs[0]!));
    }
  });

  it('reports the dtype that most weight elements use', () => {
    const dir = newDir();
    const f16 = tinyGpt2Tensors(TINY, 'F16');
    const f32 = tinyGpt2Tensors(TINY, 'F32');
    // F16 matrices, F32 vectors: there are more vectors than matrices, but far fewer elements.
    const mixed = f16.map((t, i) => (t.shape.length === 1 ? f32[i]! : t));
    expect(mixed.filter((t) => t.dtype === 'F32').length).toBeGreaterThan(mixed.length / 2);
    writeTinyCheckpoint(dir, { tensors: mixed });
    const ckpt = loadCheckpoint(dir);
    expect(ckpt.dtype).toBe('f16');
    expect(ckpt.tensors.get('ln_f.bias')!.dtype).toBe('f32');
  });

  it('loads a sharded checkpoint identically to a single file', () => {
    const single = newDir();
    const sharded = newDir();
    writeTinyCheckpoint(single);
    writeTinyCheckpoint(sharded, { shards: 3 });
    const a = loadCheckpoint(single);
    const b = loadCheckpoint(sharded);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const [name, t] of a.tensors) expect(Array.from(b.tensors.get(name)!.data), name).toEqual(Array.from(t.data));
    expect(new Set([...b.tensors.values()].map((t) => t.file)).size).toBe(3);
  });

  it('reads tensor data from disk on each access, holding none of it', () => {
    const dir = newDir();
    writeTinyCheckpoint(dir);
    const file = join(dir, 'model.safetensors');
    const ckpt = loadCheckpoint(dir);
    const t = ckpt.tensors.get('ln_f.bias')!;
    const before = t.data;
    expect(t.data).not.toBe(before);
    expect(Array.from(t.data)).toEqual(Array.from(before));

    // Overwrite the tensor's bytes in place: a held copy would not see the change.
    const { start } = readSafetensorsHeader(file).tensors.get('transformer.ln_f.bias')!;
    const fd = openSync(file, 'r+');
    writeSync(fd, f32Bytes([42]), 0, 4, start);
    closeSync(fd);
    expect(t.data[0]).toBe(42);
    expect(Array.from(t.data.subarray(1))).toEqual(Array.from(before.subarray(1)));

    truncateSync(file, start);
    expect(() => t.data).toThrow(/unexpected end of file while reading tensor "transformer\.ln_f\.bias"/);
  });

  it('summarises a checkpoint from its headers without reading weights', () => {
    const dir = newDir();
    writeTinyCheckpoint(dir, { tensors: tinyGpt2Tensors(TINY, 'BF16'), shards: 2 });
    const s = inspectCheckpoint(dir);
    const { vocabSize: V, nPositions: P, nEmbd: C, nInner: I, nLayer: L } = TINY;
    // GPT-2's parameter count: embeddings, per layer 2 LayerNorms + attention + MLP, final LayerNorm.
    const perLayer = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * I + I) + (I * C + C);
    expect(s.numParams).toBe(V * C + P * C + L * perLayer + 2 * C);
    expect(s.bytes).toBe(2 * s.numParams);
    expect(s.dtype).toBe('bf16');
    expect(s.files).toHaveLength(2);
    expect(s.tensors.get('h.1.mlp.c_proj.weight')).toMatchObject({ shape: [I, C], dtype: 'bf16' });
    expect(s.config.nLayer).toBe(L);
  });

  it('rejects a shard index that disagrees with the shards', () => {
    const dir = newDir();
    writeTinyCheckpoint(dir, { shards: 2 });
    const index = join(dir, 'model.safetensors.index.json');
    const first = 'model-00001-of-00002.safetensors';
    const second = 'model-00002-of-00002.safetensors';
    writeFileSync(index, JSON.stringify({ weight_map: { 'transformer.wte.weight': second, 'transformer.ln_f.bias': first } }));
    const msg = loadError(dir);
    expect(msg).toContain(`"transformer.wte.weight" in ${join(dir, first)} is listed under ${join(dir, second)}`);
    expect(msg).toContain(`"transformer.wte.weight" is listed in the shard index under ${join(dir, second)}`);
    expect(msg).toContain(`"transformer.wpe.weight" in ${join(dir, first)} is not listed`);

    writeFileSync(index, JSON.stringify({ weight_map: { 'transformer.wte.weight': 'gone.safetensors' } }));
    expect(loadError(dir)).toMatch(/shard .*gone\.safetensors \(holding tensor "transformer\.wte\.weight"\) does not exist/);
    writeFileSync(index, JSON.stringify({ weight_map: { 'transformer.wte.weight': '../../etc/passwd' } }));
    expect(loadError(dir)).toMatch(/"transformer\.wte\.weight" is not a file in/);
  });

  it('reports a missing tensor with its expected shape and the file searched', () => {
    const dir = newDir();
    writeTinyCheckpoint(dir, { tensors: tinyGpt2Tensors().filter((t) => t.name !== 'transformer.h.1.mlp.c_fc.weight') });
    expect(loadError(dir)).toContain(`missing tensor "h.1.mlp.c_fc.weight" (expected shape [8, 32]) in ${join(dir, 'model.safetensors')}`);
  });

  it('reports extra tensors, listing them all', () => {
    const dir = newDir();
    const extra = (name: string): TensorSpec => ({ name, dtype: 'F32', shape: [1], bytes: f32Bytes([0]) });
    writeTinyCheckpoint(dir, { tensors: [...tinyGpt2Tensors(), extra('transformer.h.2.ln_1.weight'), extra('score.weight')] });
    const msg = loadError(dir);
    const file = join(dir, 'model.safetensors');
    expect(msg).toContain(`unexpected tensors, not part of a GPT-2 with n_layer=2: "h.2.ln_1.weight" (${file}), "score.weight" (${file})`);
  });

  it('reports a wrong shape, one line per problem', () => {
    const dir = newDir();
    const specs = tinyGpt2Tensors().map((t): TensorSpec =>
      t.name.endsWith('c_attn.weight') ? { ...t, shape: [3 * TINY.nEmbd, TINY.nEmbd] } : t,
    );
    writeTinyCheckpoint(dir, { tensors: specs });
    const msg = loadError(dir);
    const file = join(dir, 'model.safetensors');
    expect(msg).toContain(`Invalid checkpoint ${dir}:`);
    for (let i = 0; i < TINY.nLayer; i++) {
      expect(msg).toContain(`  - tensor "h.${i}.attn.c_attn.weight" in ${file} has shape [24, 8], expected [8, 24]`);
    }
    expect(msg.split('\n')).toHaveLength(1 + TINY.nLayer);
  });

  it('reports a weight stored in a dtype tinyvllm cannot compute with', () => {
    const dir = newDir();
    const specs = tinyGpt2Tensors().map((t): TensorSpec => (t.name === 'transformer.ln_f.bias' ? { ...t, dtype: 'I32' } : t));
    writeTinyCheckpoint(dir, { tensors: specs });
    expect(loadError(dir)).toContain(`${join(dir, 'model.safetensors')}: tensor "transformer.ln_f.bias" has dtype I32`);
  });

  it('validates the config against the weights (config with a different width)', () => {
    const dir = newDir();
    writeTinyCheckpoint(dir, { config: tinyConfigJson({ ...TINY, nEmbd: 4, nInner: 16 }) });
    const msg = loadError(dir);
    const [config, weights] = [join(dir, 'config.json'), join(dir, 'model.safetensors')];
    expect(msg).toContain(`${config}: field "n_embd" is 4, but tensor "wte.weight" in ${weights} has 8 (shape [16, 8])`);
    expect(msg).toContain(`${config}: field "n_inner" is 16, but tensor "h.0.mlp.c_fc.weight" in ${weights} has 32 (shape [8, 32])`);
    // The fields are named instead of every tensor they mis-size.
    expect(msg.split('\n')).toHaveLength(3);
  });

  it('checks config sizes against the tensors before building anything of that size (n_layer: 1e9)', () => {
    const dir = newDir();
    writeTinyCheckpoint(dir, { config: { ...tinyConfigJson(), n_layer: 1e9, n_positions: 4096 } });
    const config = join(dir, 'config.json');
    const msg = loadError(dir);
    expect(msg).toContain(`${config}: field "n_layer" is 1000000000, but the weights hold 2 layers (indices 0 to 1)`);
    expect(msg).toContain(`${config}: field "n_positions" is 4096, but tensor "wpe.weight" in ${join(dir, 'model.safetensors')} has 8`);
    expect(() => inspectCheckpoint(dir)).toThrow(/field "n_layer" is 1000000000/);

    writeTinyCheckpoint(dir, { config: { ...tinyConfigJson(), vocab_size: 50257, n_layer: 3 } });
    const again = loadError(dir);
    expect(again).toContain(`${config}: field "n_layer" is 3, but the weights hold 2 layers`);
    expect(again).toContain(`${config}: field "vocab_size" is 50257, but tensor "wte.weight"`);
  });

  it('explains how to get safetensors when only pytorch_model.bin exists', () => {
    const dir = newDir();
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(tinyConfigJson()));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not really a pickle');
    const msg = loadError(dir);
    expect(msg).toContain(dir);
    expect(msg).toContain('pytorch_model.bin');
    expect(msg).toContain('tinyvllm download');
    expect(msg).toMatch(/convert/);
  });

  it('names a missing config.json, a missing directory, and an empty one', () => {
    const dir = newDir();
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tinyGpt2Tensors()));
    expect(loadError(dir)).toContain(`${join(dir, 'config.json')} not found`);
    expect(loadError(join(root, 'nowhere'))).toBe(`Model directory not found: ${join(root, 'nowhere')}`);
    const empty = newDir();
    mkdirSync(empty);
    writeFileSync(join(empty, 'config.json'), JSON.stringify(tinyConfigJson()));
    expect(loadError(empty)).toMatch(/no model weights found/);
    writeFileSync(join(empty, 'config.json'), '{"model_type": "gpt2",');
    expect(loadError(empty)).toContain(`${join(empty, 'config.json')}: invalid JSON`);
  });

  it('passes safetensors format errors through with the file and tensor', () => {
    const dir = newDir();
    writeTinyCheckpoint(dir);
    const file = join(dir, 'model.safetensors');
    const bytes = encodeSafetensors(tinyGpt2Tensors());
    writeFileSync(file, bytes.subarray(0, bytes.length - 4));
    expect(loadError(dir)).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}: tensor "transformer\\.ln_f\\.bias": data_offsets .* out of range`));
  });
});
