/**
 * A minimal safetensors writer for building test files, written independently of the reader in
 * src/checkpoint so the two check each other. It can also emit deliberately broken files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TensorSpec {
  name: string;
  /** safetensors dtype name, e.g. F32, F16, BF16. */
  dtype: string;
  shape: number[];
  /** Raw little-endian bytes. */
  bytes: Uint8Array;
}

/** f32 values as little-endian bytes. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** 16-bit patterns (f16 or bf16 bits) as little-endian bytes. */
export function u16Bytes(bits: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bits.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i]!, true);
  return out;
}

/** bf16 bits of an f32 value that bf16 represents exactly (its upper 16 bits). */
export function bf16Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  return view.getUint32(0, true) >>> 16;
}

/** A whole file: header length, JSON header (optionally padded to 8 bytes), then the data. */
export function encodeSafetensors(
  tensors: TensorSpec[],
  opts: { metadata?: Record<string, string>; pad?: boolean } = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const data = new Uint8Array(offset);
  offset = 0;
  for (const t of tensors) {
    data.set(t.bytes, offset);
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  if (opts.pad ?? true) json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  return rawSafetensors(json, data);
}

/** A file from an arbitrary header (object or literal text) and data, for malformed cases. */
export function rawSafetensors(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

export interface TinyGpt2 {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nInner: number;
}

export const TINY: TinyGpt2 = { vocabSize: 16, nPositions: 8, nEmbd: 8, nLayer: 2, nHead: 2, nInner: 32 };

/** A Hugging Face style config.json for a tiny GPT-2. */
export function tinyConfigJson(c: TinyGpt2 = TINY, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: c.nInner === 4 * c.nEmbd ? null : c.nInner,
    layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new',
    bos_token_id: c.vocabSize - 1,
    eos_token_id: c.vocabSize - 1,
    torch_dtype: 'float32',
    ...extra,
  };
}

/**
 * Every tensor of a tiny GPT-2 as GPT2LMHeadModel.save_pretrained names them, filled with a
 * deterministic pattern. The shapes are written out here from the Hugging Face layout (Conv1D
 * weights are [in, out]) rather than taken from the loader.
 */
export function tinyGpt2Tensors(c: TinyGpt2 = TINY, dtype: 'F32' | 'F16' | 'BF16' = 'F32', prefix = 'transformer.'): TensorSpec[] {
  const C = c.nEmbd;
  const shapes: [string, number[]][] = [
    ['wte.weight', [c.vocabSize, C]],
    ['wpe.weight', [c.nPositions, C]],
  ];
  for (let i = 0; i < c.nLayer; i++) {
    shapes.push(
      [`h.${i}.ln_1.weight`, [C]], [`h.${i}.ln_1.bias`, [C]],
      [`h.${i}.attn.c_attn.weight`, [C, 3 * C]], [`h.${i}.attn.c_attn.bias`, [3 * C]],
      [`h.${i}.attn.c_proj.weight`, [C, C]], [`h.${i}.attn.c_proj.bias`, [C]],
      [`h.${i}.ln_2.weight`, [C]], [`h.${i}.ln_2.bias`, [C]],
      [`h.${i}.mlp.c_fc.weight`, [C, c.nInner]], [`h.${i}.mlp.c_fc.bias`, [c.nInner]],
      [`h.${i}.mlp.c_proj.weight`, [c.nInner, C]], [`h.${i}.mlp.c_proj.bias`, [C]],
    );
  }
  shapes.push(['ln_f.weight', [C]], ['ln_f.bias', [C]]);
  let seed = 1;
  return shapes.map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    // Multiples of 1/64 in [-2, 2): exact in f32, f16 and bf16 alike.
    const values = Array.from({ length: n }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return ((seed >>> 16) % 256) / 64 - 2;
    });
    const bytes = dtype === 'F32' ? f32Bytes(values) : u16Bytes(values.map(dtype === 'BF16' ? bf16Bits : f16BitsExact));
    return { name: prefix + name, dtype, shape, bytes };
  });
}

/** f16 bits of a value with |v| in [2^-14, 65504] and at most 11 significant bits, or zero. */
export function f16BitsExact(value: number): number {
  if (value === 0) return Object.is(value, -0) ? 0x8000 : 0;
  const sign = value < 0 ? 0x8000 : 0;
  let m = Math.abs(value);
  let e = 0;
  while (m >= 2) [m, e] = [m / 2, e + 1];
  while (m < 1) [m, e] = [m * 2, e - 1];
  const frac = (m - 1) * 1024;
  if (!Number.isInteger(frac) || e < -14 || e > 15) throw new Error(`${value} is not exactly representable as a normal f16`);
  return sign | ((e + 15) << 10) | frac;
}

/** Writes config.json and the weights (one file, or `shards` files plus an index) into `dir`. */
export function writeTinyCheckpoint(
  dir: string,
  opts: { tensors?: TensorSpec[]; config?: Record<string, unknown>; shards?: number } = {},
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(opts.config ?? tinyConfigJson(), null, 2));
  const tensors = opts.tensors ?? tinyGpt2Tensors();
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
    return;
  }
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(tensors.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(s * per, (s + 1) * per);
    for (const t of part) weightMap[t.name] = file;
    writeFileSync(join(dir, file), encodeSafetensors(part));
  }
  const totalSize = tensors.reduce((a, t) => a + t.bytes.length, 0);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }));
}
