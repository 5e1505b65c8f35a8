import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile, readSafetensorsHeader } from '../../src/checkpoint/safetensors.js';
import { bf16Bits, encodeSafetensors, f32Bytes, rawSafetensors, u16Bytes } from '../helpers/safetensors-writer.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-st-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function writeFile(bytes: Uint8Array): string {
  const file = join(dir, `t${counter++}.safetensors`);
  writeFileSync(file, bytes);
  return file;
}

function readAll(file: string): Map<string, ReturnType<SafetensorsFile['read']>> {
  const st = new SafetensorsFile(file);
  try {
    return new Map([...st.header.tensors.keys()].map((n) => [n, st.read(n)]));
  } finally {
    st.close();
  }
}

/** Decodes f16 bits by the IEEE 754 binary16 definition (normal and subnormal numbers). */
function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  return exp === 0 ? sign * frac * 2 ** -24 : sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

describe('safetensors round trip', () => {
  it('reads F32 tensors, metadata, scalars and empty tensors', () => {
    const a = [1.5, -2.25, 3e-8, 1e30, 0, -0];
    const b = [7];
    const file = writeFile(
      encodeSafetensors(
        [
          { name: 'a', dtype: 'F32', shape: [2, 3], bytes: f32Bytes(a) },
          { name: 'scalar', dtype: 'F32', shape: [], bytes: f32Bytes(b) },
          { name: 'empty', dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) },
        ],
        { metadata: { format: 'pt' } },
      ),
    );
    const header = readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect([...header.tensors.keys()]).toEqual(['a', 'scalar', 'empty']);
    expect(header.tensors.get('a')).toMatchObject({ dtype: 'F32', shape: [2, 3] });

    const t = readAll(file);
    const ta = t.get('a')!;
    expect(ta.dtype).toBe('f32');
    expect(ta.shape).toEqual([2, 3]);
    expect(ta.file).toBe(file);
    expect(ta.data).toBeInstanceOf(Float32Array);
    expect(Array.from(ta.data)).toEqual(a.map(Math.fround));
    expect(Object.is(ta.data[5], -0)).toBe(true);
    expect(Array.from(t.get('scalar')!.data)).toEqual([7]);
    expect(t.get('empty')!.data.length).toBe(0);
  });

  it('returns F16 as raw bits', () => {
    // Bit patterns from the binary16 layout: 1.0, -2.0, 0.5, 65504 (max), smallest subnormal, 1/3 rounded
    // down (exponent 13 - 15 = -2, fraction 0x155 = 341: (1 + 341/1024) / 4).
    const bits = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x3555];
    const file = writeFile(encodeSafetensors([{ name: 'h', dtype: 'F16', shape: [3, 2], bytes: u16Bytes(bits) }]));
    const h = readAll(file).get('h')!;
    expect(h.dtype).toBe('f16');
    expect(h.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(h.data)).toEqual(bits);
    expect(Array.from(h.data, f16Value)).toEqual([1, -2, 0.5, 65504, 2 ** -24, 0.333251953125]);
  });

  it('returns BF16 as raw bits', () => {
    const values = [1, -3.5, 0.15625, 2 ** 100, -(2 ** -100)];
    const bits = values.map(bf16Bits);
    const file = writeFile(encodeSafetensors([{ name: 'b', dtype: 'BF16', shape: [5], bytes: u16Bytes(bits) }]));
    const b = readAll(file).get('b')!;
    expect(b.dtype).toBe('bf16');
    expect(b.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(b.data)).toEqual(bits);
    // Widening bf16 bits to f32 by a 16-bit shift gives back the values.
    expect(Array.from(new Float32Array(new Uint32Array(Array.from(b.data, (x) => x << 16)).buffer))).toEqual(values);
  });

  it('reads tensors at unaligned file offsets into aligned arrays', () => {
    const file = writeFile(
      encodeSafetensors(
        [
          { name: 'odd', dtype: 'BF16', shape: [1], bytes: u16Bytes([bf16Bits(2)]) },
          { name: 'f', dtype: 'F32', shape: [3], bytes: f32Bytes([1, 2, 3]) },
        ],
        { pad: false },
      ),
    );
    expect(readSafetensorsHeader(file).tensors.get('f')!.start % 4).not.toBe(0);
    const f = readAll(file).get('f')!;
    expect(f.data.byteOffset).toBe(0);
    expect(Array.from(f.data)).toEqual([1, 2, 3]);
  });

  it('reads a tensor past 4 GiB in a file larger than any Buffer, without reading the rest', () => {
    // A sparse file: a 5 GiB tensor that is never read, then a small one after it.
    const big = 5 * 2 ** 30;
    const header = rawSafetensors(
      {
        big: { dtype: 'F16', shape: [big / 2], data_offsets: [0, big] },
        tail: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] },
      },
      new Uint8Array(0),
    );
    const file = join(dir, 'sparse.safetensors');
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, header);
      ftruncateSync(fd, header.length + big);
      writeSync(fd, f32Bytes([3.5, -1]), 0, 8, header.length + big);
    } finally {
      closeSync(fd);
    }
    const st = new SafetensorsFile(file);
    try {
      expect(st.header.fileSize).toBe(header.length + big + 8);
      expect(Array.from(st.read('tail').data)).toEqual([3.5, -1]);
    } finally {
      st.close();
    }
  });
});

describe('safetensors validation', () => {
  const good = () => [
    { name: 'first', dtype: 'F32', shape: [2], bytes: f32Bytes([1, 2]) },
    { name: 'second', dtype: 'F32', shape: [2, 2], bytes: f32Bytes([1, 2, 3, 4]) },
  ];

  function expectError(bytes: Uint8Array, ...parts: (string | RegExp)[]): void {
    const file = writeFile(bytes);
    let message = '';
    try {
      readSafetensorsHeader(file);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message, 'expected an error').not.toBe('');
    expect(message).toContain(file);
    for (const p of parts) expect(message).toMatch(p);
  }

  it('rejects a truncated file, naming the tensor that no longer fits', () => {
    const bytes = encodeSafetensors(good());
    expectError(bytes.subarray(0, bytes.length - 3), '"second"', /out of range/);
  });

  it('rejects a file shorter than the length prefix', () => {
    expectError(new Uint8Array([1, 2, 3]), /too short/);
  });

  it('rejects a header length larger than the file', () => {
    expectError(rawSafetensors({}, new Uint8Array(16), 1000n), /header length 1000 exceeds/);
    expectError(rawSafetensors({}, new Uint8Array(0), 2n ** 63n), /header length \d+ exceeds/);
  });

  it('rejects a header that is not JSON or not an object', () => {
    expectError(rawSafetensors('{"a": {"dtype": ', new Uint8Array(0)), /not valid JSON/);
    expectError(rawSafetensors('[1,2]', new Uint8Array(0)), /must be a JSON object/);
  });

  it('rejects malformed entries, naming the tensor', () => {
    expectError(rawSafetensors({ w: 5 }, new Uint8Array(0)), '"w"', /entry must be an object/);
    expectError(rawSafetensors({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, new Uint8Array(0)), '"w"', /shape/);
    expectError(rawSafetensors({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)), '"w"', /data_offsets/);
    expectError(rawSafetensors({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), '"w"', /end before/);
    expectError(rawSafetensors({ __metadata__: { n: 1 } }, new Uint8Array(0)), /__metadata__\.n/);
  });

  it('rejects offsets out of range', () => {
    const header = { w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    expectError(rawSafetensors(header, new Uint8Array(8)), '"w"', /\[4, 12\] are out of range.*8 bytes/);
  });

  it('rejects overlapping tensors, naming both', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expectError(rawSafetensors(header, new Uint8Array(12)), '"b" overlaps tensor "a"');
  });

  it('rejects a byte count that does not match the shape', () => {
    const header = { w: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 8] } };
    expectError(rawSafetensors(header, new Uint8Array(8)), '"w"', /holds 8 bytes but shape \[2, 3\] of BF16 needs 12/);
  });

  it('rejects an unknown dtype at header time', () => {
    const header = { q: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 1] } };
    expectError(rawSafetensors(header, new Uint8Array(1)), '"q"', /unknown dtype "Q4_K"/);
  });

  it('rejects unused bytes between tensors and after the last one', () => {
    const gap = {
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    };
    expectError(rawSafetensors(gap, new Uint8Array(12)), /4 unused bytes at data offset 4, before tensor "b"/);
    expectError(
      rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(7)),
      /3 trailing bytes after the last tensor \("a"\)/,
    );
  });

  it('validates a format dtype it cannot compute with only when that tensor is read', () => {
    const file = writeFile(
      encodeSafetensors([
        { name: 'ids', dtype: 'I64', shape: [2], bytes: new Uint8Array(16) },
        { name: 'w', dtype: 'F32', shape: [1], bytes: f32Bytes([4]) },
      ]),
    );
    const st = new SafetensorsFile(file);
    try {
      expect(Array.from(st.read('w').data)).toEqual([4]);
      expect(() => st.read('ids')).toThrow(new RegExp(`${file}.*"ids" has dtype I64`));
      expect(() => st.read('nope')).toThrow(/no tensor named "nope"/);
    } finally {
      st.close();
    }
  });

  it('names a missing file', () => {
    expect(() => readSafetensorsHeader(join(dir, 'absent.safetensors'))).toThrow(/cannot open .*absent\.safetensors/);
  });
});
