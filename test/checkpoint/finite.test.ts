/**
 * Non-finite weights: the bit-level scan against Number.isFinite on decoded values, then loading
 * a checkpoint whose weights hold a NaN / ±Inf (an error naming the tensor, or a warning when allowed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { findNonFinite, unflatten } from '../../src/checkpoint/finite.js';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../src/kernels/half.js';
import type { Tensor } from '../../src/checkpoint/tensor.js';
import { type TensorSpec, f32Bytes, tinyGpt2Tensors, u16Bytes, writeTinyCheckpoint } from '../helpers/safetensors-writer.js';

const tensor = (dtype: Tensor['dtype'], data: Float32Array | Uint16Array): Tensor => ({ name: 't', dtype, shape: [data.length], data, file: 'f' });

/** The oracle: decode every element and ask Number.isFinite. */
function oracle(t: Tensor): { count: number; first: number } | null {
  const decode = (v: number) => (t.dtype === 'f32' ? v : t.dtype === 'bf16' ? bf16BitsToF32(v) : f16BitsToF32(v));
  const bad = Array.from(t.data, decode).flatMap((v, i) => (Number.isFinite(v) ? [] : [i]));
  return bad.length === 0 ? null : { count: bad.length, first: bad[0]! };
}

const SPECIALS = [NaN, Infinity, -Infinity];
/** Finite values at the edges: largest, smallest subnormal, signed zeros. */
const EDGES = [3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -0, 0, 1, -2.5];

describe('findNonFinite', () => {
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    const encode = (v: number) => (dtype === 'bf16' ? f32ToBf16Bits(v) : f32ToF16Bits(v));
    const make = (values: number[]) => (dtype === 'f32' ? Float32Array.from(values) : Uint16Array.from(values, encode));

    it(`${dtype}: finds NaN and ±Inf at every position of odd and even lengths, and agrees with Number.isFinite`, () => {
      // The largest finite value of each format, and its smallest subnormal.
      const edges = dtype === 'f16' ? [65504, -65504, 2 ** -24, -0, 0, 1] : dtype === 'bf16' ? [3.3895313892515355e38, -(2 ** -133), -0, 0, 1] : EDGES;
      // Lengths below, at and past the 64-byte blocks the SIMD loop takes, and their tails.
      for (const length of [1, 2, 3, 5, 9, 17, 31, 32, 33, 47, 64, 100]) {
        const finite = Array.from({ length }, (_, i) => edges[i % edges.length]!);
        expect(findNonFinite(tensor(dtype, make(finite))), `${length}`).toBeNull();
        for (let at = 0; at < length; at++) {
          for (const special of SPECIALS) {
            const values = finite.slice();
            values[at] = special;
            if (at + 2 < length) values[at + 2] = special;
            const t = tensor(dtype, make(values));
            expect(findNonFinite(t), `${dtype} len ${length} at ${at} ${special}`).toEqual(oracle(t));
            expect(findNonFinite(t)!.first).toBe(at);
          }
        }
      }
    });
  }

  it('finds a value in a later chunk and in the last element of a tensor larger than one chunk', () => {
    const n = 700_000; // 2.8 MB of f32, 1.4 MB of bf16: past the 1 MiB scan chunk
    for (const dtype of ['f32', 'bf16'] as const) {
      const data = dtype === 'f32' ? new Float32Array(n).fill(0.5) : new Uint16Array(n).fill(f32ToBf16Bits(0.5));
      expect(findNonFinite(tensor(dtype, data))).toBeNull();
      for (const at of [n - 1, 400_000, 0]) {
        const copy = data.slice();
        copy[at] = dtype === 'f32' ? NaN : f32ToBf16Bits(-Infinity);
        expect(findNonFinite(tensor(dtype, copy)), `${dtype} at ${at}`).toEqual({ count: 1, first: at });
      }
    }
  });

  it('handles a view that does not start on a 4-byte boundary', () => {
    const bits = Uint16Array.from([0x3f80, 0x3f80, 0x7fc0, 0x3f80]);
    expect(findNonFinite(tensor('bf16', bits.subarray(1)))).toEqual({ count: 1, first: 1 });
    expect(findNonFinite(tensor('bf16', bits.subarray(3)))).toBeNull();
  });

  it('maps a flat index to coordinates', () => {
    expect(unflatten(0, [4, 5])).toEqual([0, 0]);
    expect(unflatten(13, [4, 5])).toEqual([2, 3]);
    expect(unflatten(7, [8])).toEqual([7]);
  });
});

describe('loading weights that hold NaN / Inf', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'tinyvllm-finite-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A tiny checkpoint with `value` written at flat `index` of `name`. */
  function poisoned(dir: string, dtype: 'F32' | 'BF16' | 'F16', name: string, index: number, value: number): void {
    const specs = tinyGpt2Tensors(undefined, dtype).map((t): TensorSpec => {
      if (t.name !== name) return t;
      if (dtype === 'F32') {
        const v = new Float32Array(t.bytes.slice().buffer);
        v[index] = value;
        return { ...t, bytes: f32Bytes(v) };
      }
      const bits = new Uint16Array(t.bytes.slice().buffer);
      bits[index] = dtype === 'BF16' ? f32ToBf16Bits(value) : f32ToF16Bits(value);
      return { ...t, bytes: u16Bytes(bits) };
    });
    writeTinyCheckpoint(dir, { tensors: specs });
  }

  it('fails naming the tensor, its file, the count and the first position', () => {
    for (const [dtype, value] of [['F32', NaN], ['BF16', Infinity], ['F16', -Infinity]] as const) {
      const dir = join(root, `bad-${dtype}`);
      // [8, 8] c_proj weight: flat 19 is row 2, column 3.
      poisoned(dir, dtype, 'transformer.h.1.attn.c_proj.weight', 19, value);
      const file = join(dir, 'model.safetensors');
      expect(() => loadCheckpoint(dir), dtype).toThrow(
        `tensor "transformer.h.1.attn.c_proj.weight" in ${file} holds 1 non-finite value (NaN or ±Inf), the first at [2, 3]`,
      );
      expect(() => loadCheckpoint(dir)).toThrow(/--allow-non-finite-weights/);
    }
  });

  it('loads with allowNonFiniteWeights, warning once with every such tensor', () => {
    const dir = join(root, 'allowed');
    poisoned(dir, 'F32', 'transformer.wte.weight', 5, NaN);
    const warnings: string[] = [];
    const ckpt = loadCheckpoint(dir, { allowNonFiniteWeights: true, onWarning: (m) => warnings.push(m) });
    expect(Number.isNaN(ckpt.tensors.get('wte.weight')!.data[5])).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('loaded 1 tensor with non-finite weights');
    expect(warnings[0]).toContain('tensor "transformer.wte.weight"');
    expect(warnings[0]).toContain('the first at [0, 5]');

    // A clean checkpoint loads without a warning.
    const clean = join(root, 'clean');
    writeTinyCheckpoint(clean);
    const none: string[] = [];
    loadCheckpoint(clean, { onWarning: (m) => none.push(m) });
    expect(none).toEqual([]);
  });
});
