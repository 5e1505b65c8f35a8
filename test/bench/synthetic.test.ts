/**
 * The synthetic checkpoints against the PyTorch oracle: the TypeScript generator must reproduce the
 * weights scripts/make_fixtures.py used (per-tensor SHA-256), BF16/F16 copies must hold the same
 * values, and a small float64 forward pass written here must agree with the committed logits.
 * Files are parsed by hand below so that nothing under test checks itself.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { afterAll, describe, expect, it } from 'vitest';
import { f32ArrayToBf16, f32ArrayToF16, f32ToBf16Bits, f32ToF16Bits } from '../../src/kernels/half.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors-writer.js';
import { writeSyntheticCheckpoint } from '../../src/bench/synthetic.js';
import { loadModel } from '../../src/model/load.js';
import { FIXTURE_NAMES, type Reference, fixtureModelDir, loadReference } from '../helpers/fixtures.js';
import { yieldToEventLoop } from '../helpers/yield.js';

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Minimal safetensors reader: header entries and each tensor's raw bytes. */
function readSafetensors(file: string): { headerLen: number; header: Buffer; tensors: Map<string, Entry & { bytes: Buffer }> } {
  const buf = readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = buf.subarray(8, 8 + headerLen);
  const json = JSON.parse(header.toString('utf8')) as Record<string, Entry>;
  const tensors = new Map<string, Entry & { bytes: Buffer }>();
  for (const [name, e] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(8 + headerLen + e.data_offsets[0], 8 + headerLen + e.data_offsets[1]);
    tensors.set(name, { ...e, bytes });
  }
  return { headerLen, header, tensors };
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** IEEE half decoded from the definition (sign, 5-bit exponent, 10-bit fraction). */
function decodeF16(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  if (e === 31) return f ? NaN : s * Infinity;
  return e === 0 ? s * f * 2 ** -24 : s * (1 + f / 1024) * 2 ** (e - 15);
}

function decodeBf16(h: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, h << 16);
  return v.getFloat32(0);
}

/** Values of a 16-bit tensor widened to little-endian f32 bytes (through a lookup table: fast). */
function widen(bytes: Buffer, decode: (h: number) => number): Uint8Array {
  const table = Float32Array.from({ length: 65536 }, (_, h) => decode(h));
  const bits = new Uint16Array(new Uint8Array(bytes).buffer);
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return new Uint8Array(out.buffer);
}

function f32Values(bytes: Buffer): Float64Array {
  const out = new Float64Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** GPT-2 in float64 from the formulas (tied lm_head): the logits of the last position. */
function lastLogitsF64(file: string, ref: Reference, tokens: readonly number[]): Float64Array {
  const { tensors } = readSafetensors(file);
  const w = (n: string): Float64Array => f32Values(tensors.get(n)!.bytes);
  const { nEmbd: E, nHead: H, nLayer, vocabSize: V } = ref.spec;
  const D = E / H;
  const T = tokens.length;
  const matmul = (x: Float64Array[], W: Float64Array, b: Float64Array, n: number) =>
    x.map((row) => {
      const out = Float64Array.from(b);
      for (let k = 0; k < row.length; k++) for (let j = 0; j < n; j++) out[j] += row[k] * W[k * n + j];
      return out;
    });
  const ln = (x: Float64Array[], g: Float64Array, b: Float64Array) =>
    x.map((row) => {
      const mu = row.reduce((a, v) => a + v, 0) / E;
      const va = row.reduce((a, v) => a + (v - mu) ** 2, 0) / E;
      return row.map((v, i) => ((v - mu) / Math.sqrt(va + 1e-5)) * g[i] + b[i]);
    });
  const wte = w('wte.weight');
  const wpe = w('wpe.weight');
  let x = tokens.map((t, p) => Float64Array.from({ length: E }, (_, i) => wte[t * E + i] + wpe[p * E + i]));
  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    const qkv = matmul(ln(x, w(p + 'ln_1.weight'), w(p + 'ln_1.bias')), w(p + 'attn.c_attn.weight'), w(p + 'attn.c_attn.bias'), 3 * E);
    const y = qkv.map(() => new Float64Array(E));
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const s = Array.from({ length: i + 1 }, (_, j) => {
          let d = 0;
          for (let c = 0; c < D; c++) d += qkv[i][h * D + c] * qkv[j][E + h * D + c];
          return d / Math.sqrt(D);
        });
        const mx = Math.max(...s);
        const e = s.map((v) => Math.exp(v - mx));
        const z = e.reduce((a, v) => a + v, 0);
        for (let j = 0; j <= i; j++) for (let c = 0; c < D; c++) y[i][h * D + c] += (e[j] / z) * qkv[j][2 * E + h * D + c];
      }
    }
    const attn = matmul(y, w(p + 'attn.c_proj.weight'), w(p + 'attn.c_proj.bias'), E);
    x = x.map((row, i) => row.map((v, c) => v + attn[i][c]));
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const hid = matmul(ln(x, w(p + 'ln_2.weight'), w(p + 'ln_2.bias')), w(p + 'mlp.c_fc.weight'), w(p + 'mlp.c_fc.bias'), 4 * E).map((r) => r.map(gelu));
    const mlp = matmul(hid, w(p + 'mlp.c_proj.weight'), w(p + 'mlp.c_proj.bias'), E);
    x = x.map((row, i) => row.map((v, c) => v + mlp[i][c]));
  }
  const last = ln([x[T - 1]], w('ln_f.weight'), w('ln_f.bias'))[0];
  const logits = new Float64Array(V);
  for (let t = 0; t < V; t++) for (let c = 0; c < E; c++) logits[t] += last[c] * wte[t * E + c];
  return logits;
}

describe.each(FIXTURE_NAMES)('%s', (name) => {
  const ref = loadReference(name);
  const f32File = (): string => join(fixtureModelDir(name, 'f32'), 'model.safetensors');

  it('reproduces every PyTorch tensor bit for bit (SHA-256 of the f32 data)', () => {
    const { tensors } = readSafetensors(f32File());
    expect([...tensors.keys()].sort()).toEqual(Object.keys(ref.tensorSha256).sort());
    expect(tensors.size).toBe(2 + 12 * ref.spec.nLayer + 2);
    for (const [n, t] of tensors) {
      expect(t.dtype, n).toBe('F32');
      expect(sha256(t.bytes), n).toBe(ref.tensorSha256[n]);
    }
    const wte = tensors.get('wte.weight')!;
    expect(wte.shape).toEqual([50257, ref.spec.nEmbd]);
    expect(tensors.get('h.0.attn.c_attn.weight')!.shape).toEqual([ref.spec.nEmbd, 3 * ref.spec.nEmbd]);
  });

  it.each([
    ['bf16', 'BF16', decodeBf16],
    ['f16', 'F16', decodeF16],
  ] as const)('the %s checkpoint decodes to the same values', async (dtype, stDtype, decode) => {
    const { tensors } = readSafetensors(join(fixtureModelDir(name, dtype), 'model.safetensors'));
    expect(tensors.size).toBe(Object.keys(ref.tensorSha256).length);
    for (const [n, t] of tensors) {
      await yieldToEventLoop();
      expect(t.dtype, n).toBe(stDtype);
      expect(sha256(widen(t.bytes, decode)), n).toBe(ref.tensorSha256[n]);
    }
  });

  it('writes an HF GPT-2 config, an aligned header and the real vocabulary', () => {
    const dir = fixtureModelDir(name, 'bf16');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({
      model_type: 'gpt2',
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      n_inner: null,
      n_layer: ref.spec.nLayer,
      n_head: ref.spec.nHead,
      n_embd: ref.spec.nEmbd,
      n_positions: ref.spec.nPositions,
      vocab_size: 50257,
      bos_token_id: 50256,
      eos_token_id: 50256,
      torch_dtype: 'bfloat16',
    });
    const { headerLen, header, tensors } = readSafetensors(join(dir, 'model.safetensors'));
    expect((8 + headerLen) % 8).toBe(0);
    expect(header.toString('utf8')).toMatch(/} *$/);
    let end = 0;
    for (const t of tensors.values()) {
      expect(t.data_offsets[0]).toBe(end);
      end = t.data_offsets[1];
    }
    const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
    expect(Object.keys(vocab)).toHaveLength(50257);
    expect(vocab['<|endoftext|>']).toBe(50256);
    expect(readFileSync(join(dir, 'merges.txt'), 'utf8').split('\n')[0]).toMatch(/^#version/);
  });

  it('has self-consistent reference data', () => {
    const enc = getEncoding('gpt2');
    for (const p of ref.prompts) {
      expect(enc.encode(p.text, 'all'), p.name).toEqual([...p.tokens]);
      const T = p.tokens.length;
      expect(p.sampledLogits).toHaveLength(T);
      expect(p.top5).toHaveLength(T);
      expect(T + ref.greedySteps).toBeLessThanOrEqual(ref.spec.nPositions);
      let best = 0;
      for (let i = 1; i < p.lastLogits.length; i++) if (p.lastLogits[i] > p.lastLogits[best]) best = i;
      expect(p.top5[T - 1][0]).toBe(best);
      expect(p.greedy.tokens[0]).toBe(best);
      ref.sampledIds.forEach((id, j) => expect(p.sampledLogits[T - 1][j]).toBeCloseTo(p.lastLogits[id], 5));
      expect(p.greedy.tokens).toHaveLength(ref.greedySteps);
      // No near-ties anywhere a float32 engine is asked to reproduce the top-1.
      expect(Math.min(...p.greedy.gaps)).toBeGreaterThanOrEqual(1e-3);
      expect(Math.min(...p.top5Logits.map((l) => l[0] - l[1]))).toBeGreaterThanOrEqual(1e-3 - 1e-6);
    }
    expect(ref.sampledIds).toContain(0);
    expect(ref.sampledIds).toContain(50256);
  });

  it('agrees with an independent float64 forward pass over the generated weights', () => {
    for (const p of ref.prompts.filter((q) => q.tokens.length <= 12)) {
      const logits = lastLogitsF64(f32File(), ref, p.tokens);
      let maxErr = 0;
      for (let i = 0; i < logits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i] - p.lastLogits[i]));
      expect(maxErr, p.name).toBeLessThan(1e-6); // f32 rounding of the stored logits
    }
  });
});

describe('half-precision encoding', () => {
  // Every finite non-negative f16, indexed by its bits (monotonic in the bits).
  const f16Values = Float64Array.from({ length: 0x7c00 }, (_, h) => decodeF16(h));

  /** Nearest by exhaustive search, ties to the even bit pattern. */
  function nearestF16(x: number): number {
    const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
    const a = Math.abs(x);
    if (a >= 65520) return sign | 0x7c00; // max finite 65504 plus half an ulp rounds to infinity
    let lo = 0;
    let hi = 0x7bff;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (f16Values[mid] <= a) lo = mid;
      else hi = mid - 1;
    }
    if (lo === 0x7bff) return sign | lo;
    const dLo = a - f16Values[lo];
    const dHi = f16Values[lo + 1] - a;
    return sign | (dLo < dHi || (dLo === dHi && lo % 2 === 0) ? lo : lo + 1);
  }

  function nearestBf16(x: number): number {
    const v = new DataView(new ArrayBuffer(4));
    v.setFloat32(0, x);
    const lo = v.getUint32(0) >>> 16;
    const [dLo, dHi] = [Math.abs(x - decodeBf16(lo)), Math.abs(decodeBf16(lo + 1) - x)];
    return dLo < dHi || (dLo === dHi && lo % 2 === 0) ? lo : lo + 1;
  }

  // Random f32 bit patterns from a fixed LCG, plus exact ties and edge cases.
  const samples: number[] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e-8, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8];
  const view = new DataView(new ArrayBuffer(4));
  let s = 12345;
  for (let i = 0; i < 20000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    view.setUint32(0, s);
    const x = view.getFloat32(0);
    if (Number.isFinite(x)) samples.push(x, x / 2 ** 100, x * 2 ** -120);
  }

  it('rounds f32 to the nearest f16, ties to even, with subnormals and overflow', () => {
    const arr = Float32Array.from(samples);
    const bulk = f32ArrayToF16(arr);
    const wrong = [...arr].filter((x, i) => f32ToF16Bits(x) !== nearestF16(x) || bulk[i] !== nearestF16(x));
    expect(wrong).toEqual([]);
    expect(arr.length).toBeGreaterThan(50000);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(decodeF16(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('rounds f32 to the nearest bf16, ties to even', () => {
    const arr = Float32Array.from(samples.filter((x) => Math.abs(x) < 3e38));
    const bulk = f32ArrayToBf16(arr);
    const wrong = [...arr].filter((x, i) => f32ToBf16Bits(x) !== nearestBf16(x) || bulk[i] !== nearestBf16(x));
    expect(wrong).toEqual([]);
    expect(arr.length).toBeGreaterThan(50000);
    expect(Number.isNaN(decodeBf16(f32ToBf16Bits(NaN)))).toBe(true);
  });
});

describe('writers reject bad input by name', () => {
  const root = mkdtempSync(join(tmpdir(), 'tinyvllm-synthetic-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('safetensors: wrong element count or array type names the tensor, and leaves no file', () => {
    const file = join(root, 'bad.safetensors');
    expect(() => writeSafetensors(file, [{ name: 'w', dtype: 'F32', shape: [2, 3], data: new Float32Array(5) }])).toThrow(
      /tensor w has shape \[2, 3\] but 5 elements/,
    );
    expect(() => writeSafetensors(file, [{ name: 'w', dtype: 'BF16', shape: [2], data: new Float32Array(2) }])).toThrow(
      /tensor w is BF16 and needs a Uint16Array/,
    );
    expect(existsSync(file)).toBe(false);
  });

  it('synthetic checkpoint: inconsistent spec names the parameter', () => {
    const dir = join(root, 'bad');
    expect(() => writeSyntheticCheckpoint(dir, { nLayer: 1, nHead: 3, nEmbd: 64, nPositions: 8, dtype: 'f32' })).toThrow(
      /nEmbd \(64\) must be divisible by nHead \(3\)/,
    );
    expect(() => writeSyntheticCheckpoint(dir, { nLayer: 0, nHead: 1, nEmbd: 8, nPositions: 8, dtype: 'f32' })).toThrow(/nLayer/);
    expect(() => writeSyntheticCheckpoint(dir, { nLayer: 1, nHead: 1, nEmbd: 8, nPositions: 8, vocabSize: 100, dtype: 'f32' })).toThrow(/vocabSize >= 258/);
  });

  it('synthetic checkpoint without a tokenizer: a stand-in byte-level vocabulary that loads and runs', async () => {
    const dir = join(root, 'stand-in');
    writeSyntheticCheckpoint(dir, { nLayer: 1, nHead: 2, nEmbd: 16, nPositions: 16, vocabSize: 300, dtype: 'f32' });
    const { model, tokenizer, backend } = await loadModel(dir, { backend: 'reference' });
    try {
      expect(tokenizer.vocabSize).toBe(300);
      expect(tokenizer.eosTokenId).toBe(299);
      expect(model.config.vocabSize).toBe(300);
      const ids = tokenizer.encode('Hi there');
      expect(ids).toEqual([72, 105, 256, 104, 101, 114, 101]); // byte b is token b; " t" is the one merge
      expect(tokenizer.decode(ids)).toBe('Hi there');
      expect(tokenizer.decode([257, 298])).toBe(' t257 t298');
    } finally {
      backend.dispose();
    }
  });
});
