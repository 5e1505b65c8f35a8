/**
 * The activation-aware scale search for the weight-only schemes: its error model against the real
 * quantizers, its choice judged by the real output error x·W of inputs with outlier channels, and
 * whole GPT-2 and Llama loads whose norms take the scales (9x and 14x nearer f32 logits here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSyntheticCheckpoint } from '../../src/bench/synthetic.js';
import { writeLlamaSyntheticCheckpoint } from '../../src/bench/synthetic-llama.js';
import { nativeAvailable } from '../../src/kernels/native.js';
import { loadModel } from '../../src/model/load.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { dequantizeQ4Column, quantizeInt8Columns, quantizeQ4, toNk } from '../../src/kernels/quant.js';
import { scaleInputChannels } from '../../src/model/smoothquant.js';
import { ALPHAS, MIN_GAIN, QUIET_FLOOR, rmsScales, searchWeightScales, weightedQuantError } from '../../src/model/weight-scales.js';
import { FIXTURES_DIR } from '../helpers/fixtures.js';
import { mulberry32 } from '../helpers/random.js';

const k = 128;
const n = 96;
const OUTLIERS = [5, 40, 77, 120];

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** `[k, n]` weights; outlier rows divided by 64 when `compensated` (as the synthetic outlier model). */
function weights(seed: number, compensated: boolean): Float32Array {
  const rand = mulberry32(seed);
  const w = Float32Array.from({ length: k * n }, () => 0.05 * gaussian(rand));
  if (compensated) for (const j of OUTLIERS) for (let c = j * n; c < (j + 1) * n; c++) w[c] /= 64;
  return w;
}

/** Per-channel RMS of the inputs: 1, and 64 in the outlier channels when `outliers`. */
function channelRms(outliers: boolean): Float32Array {
  const r = new Float32Array(k).fill(1);
  if (outliers) for (const j of OUTLIERS) r[j] = 64;
  return r;
}

/** `[k, n]` values of the matrix as the scheme stores it (scaled by s, quantized, divided by s). */
function dequantized(w: Float32Array, scheme: 'int8-wo' | 'q4', s: Float32Array): Float32Array {
  const nk = toNk(scaleInputChannels(w, k, n, 'kn', s), k, n, 'kn');
  const out = new Float32Array(k * n);
  const col = new Float32Array(k);
  if (scheme === 'int8-wo') {
    const q = quantizeInt8Columns(nk, k, n);
    for (let c = 0; c < n; c++) for (let j = 0; j < k; j++) out[j * n + c] = (q.q[c * k + j]! * q.scale[c]!) / s[j]!;
  } else {
    const q = quantizeQ4(nk, k, n);
    for (let c = 0; c < n; c++) {
      dequantizeQ4Column(q, c, col);
      for (let j = 0; j < k; j++) out[j * n + c] = col[j]! / s[j]!;
    }
  }
  return out;
}

/** Mean squared error of x·W over `t` random rows x whose channel j has RMS rms[j] (float64). */
function outputError(w: Float32Array, wq: Float32Array, rms: Float32Array, t = 64): number {
  const rand = mulberry32(99);
  let err = 0;
  for (let i = 0; i < t; i++) {
    const x = Array.from(rms, (r) => r * gaussian(rand));
    for (let c = 0; c < n; c++) {
      let d = 0;
      for (let j = 0; j < k; j++) d += x[j]! * (w[j * n + c]! - wq[j * n + c]!);
      err += d * d;
    }
  }
  return err / t;
}

describe('activation-aware weight scales', () => {
  it('scales are (rms / geometric mean)^alpha: ones at alpha 0, product one', () => {
    const rms = Float32Array.of(1, 4, 16, 0.25);
    expect(Array.from(rmsScales(rms, 0))).toEqual([1, 1, 1, 1]);
    const s = rmsScales(rms, 0.5);
    expect(s.reduce((p, v) => p * v, 1)).toBeCloseTo(1, 5);
    expect(s[2]! / s[0]!).toBeCloseTo(4, 5);
    expect(s[1]! / s[3]!).toBeCloseTo(4, 5);
    // A channel quiet in calibration is scaled as if at QUIET_FLOOR of the mean RMS (0.75 here).
    const quiet = rmsScales(Float32Array.of(1, 1, 1, 1e-6), 1);
    expect(quiet[3]! / quiet[0]!).toBeCloseTo(QUIET_FLOOR * 0.75, 6);
    expect(quiet.reduce((p, v) => p * v, 1)).toBeCloseTo(1, 5);
    // No signal, or a NaN: no scaling.
    expect(Array.from(rmsScales(new Float32Array(4), 1))).toEqual([1, 1, 1, 1]);
    expect(Array.from(rmsScales(Float32Array.of(1, NaN, 2, 3), 1))).toEqual([1, 1, 1, 1]);
  });

  it('the error model matches the real quantizers at alpha 0 (int8-wo exactly, q4 within the f16 scale rounding)', () => {
    const w = weights(1, true);
    const rms = channelRms(true);
    const ones = rmsScales(rms, 0);
    for (const scheme of ['int8-wo', 'q4'] as const) {
      const real = dequantized(w, scheme, ones);
      let oracle = 0;
      for (let j = 0; j < k; j++) for (let c = 0; c < n; c++) oracle += rms[j]! ** 2 * (w[j * n + c]! - real[j * n + c]!) ** 2;
      const model = weightedQuantError(toNk(w, k, n, 'kn'), k, n, scheme, rms, ones);
      expect(Math.abs(model / oracle - 1)).toBeLessThan(scheme === 'int8-wo' ? 1e-4 : 0.02);
    }
  });

  for (const scheme of ['int8-wo', 'q4'] as const) {
    // q4 gains less: each 32-value group holds one outlier row, which its scaled rows then dominate.
    it(`${scheme}: on rows that compensate 64x outlier inputs, the chosen scales cut the real output error (int8-wo 50x, q4 3x)`, () => {
      const w = weights(2, true);
      const rms = channelRms(true);
      const choice = searchWeightScales(w, k, n, 'kn', scheme, rms);
      expect(choice.errors).toHaveLength(ALPHAS.length);
      expect(choice.alpha).toBeGreaterThan(0);
      const plain = outputError(w, dequantized(w, scheme, rmsScales(rms, 0)), rms);
      const scaled = outputError(w, dequantized(w, scheme, choice.s), rms);
      expect(scaled * (scheme === 'int8-wo' ? 50 : 3)).toBeLessThan(plain);
      // The same choice in the other layout.
      const nk = toNk(w, k, n, 'kn');
      expect(searchWeightScales(nk, k, n, 'nk', scheme, rms).alpha).toBe(choice.alpha);
    });

    it(`${scheme}: without outliers, the matrix stays as stored (no candidate gains ${100 * MIN_GAIN} %)`, () => {
      const choice = searchWeightScales(weights(3, false), k, n, 'kn', scheme, channelRms(false));
      expect(choice.alpha).toBe(0);
      expect(Array.from(choice.s).every((v) => v === 1)).toBe(true);
    });
  }

  it('refuses W8A8 int8, which SmoothQuant scales', () => {
    expect(() => searchWeightScales(weights(1, false), k, n, 'kn', 'int8', channelRms(false))).toThrow(/SmoothQuant/);
  });
});

describe('activation-aware scales at load, GPT-2 and Llama with 64x outlier channels', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const backend = nativeAvailable() ? 'native' : 'reference';
  const tokenizerDir = join(FIXTURES_DIR, 'gpt2-tokenizer');
  const outliers = { channels: 4, factor: 64 };
  const write = (arch: 'gpt2' | 'llama'): string => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyvllm-ws-'));
    dirs.push(dir);
    if (arch === 'gpt2') writeSyntheticCheckpoint(dir, { nLayer: 2, nHead: 2, nEmbd: 64, nPositions: 128, dtype: 'f32', seed: 5, tokenizerDir, outliers });
    else writeLlamaSyntheticCheckpoint(dir, { architecture: 'LlamaForCausalLM', nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 64, nInner: 128, nPositions: 128, tieWordEmbeddings: true, dtype: 'f32', seed: 5, tokenizerDir, outliers });
    return dir;
  };
  const prompt = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13];
  const logits = async (dir: string, opts: Parameters<typeof loadModel>[1]) => {
    const m = await loadModel(dir, { backend, threads: 1, ...opts });
    try {
      return { out: Float32Array.from(new SingleSequence(m.model).prefill(prompt)), scaling: m.model.inputScaling };
    } finally {
      m.backend.dispose();
    }
  };
  const rms = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0) / a.length);

  for (const arch of ['gpt2', 'llama'] as const) {
    it(`${arch}: every matrix after a norm is rescaled into its norm, and int8-wo's logits come 5x nearer f32`, async () => {
      const dir = write(arch);
      const ref = await logits(dir, {});
      const stored = await logits(dir, { quantization: 'int8-wo', activationAware: false });
      const aware = await logits(dir, { quantization: 'int8-wo' });
      expect(stored.scaling).toEqual([]);
      expect(aware.scaling).toHaveLength(4);
      expect(aware.scaling.every((s) => s.method === 'activation-aware' && s.alpha > 0)).toBe(true);
      expect(rms(aware.out, ref.out) * 5).toBeLessThan(rms(stored.out, ref.out));
    });
  }
});
