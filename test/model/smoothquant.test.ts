/**
 * SmoothQuant's pieces against float64 oracles: the factors, the folding (x / s) · (s W) = x W, the
 * synthetic outlier channels (the same function, 64x activations) and the calibration that finds them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSyntheticCheckpoint } from '../../src/bench/synthetic.js';
import { outlierChannels } from '../../src/bench/synthetic-outliers.js';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { calibrate, calibrationTokens } from '../../src/model/calibrate.js';
import { loadModel } from '../../src/model/load.js';
import { createModel } from '../../src/model/model.js';
import { parseQuantization, parseSmoothQuantAlpha } from '../../src/model/quantization.js';
import { SingleSequence } from '../../src/model/single-sequence.js';
import { divideBy, inputChannelMax, scaleInputChannels, smoothingFactors } from '../../src/model/smoothquant.js';
import { FIXTURES_DIR } from '../helpers/fixtures.js';
import { mulberry32 } from '../helpers/random.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A 2-layer, 64-wide GPT-2 with the real vocabulary, with or without outliers in 4 channels. */
function syntheticGpt2(outliers: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'tinyvllm-sq-'));
  dirs.push(dir);
  writeSyntheticCheckpoint(dir, {
    nLayer: 2, nHead: 2, nEmbd: 64, nPositions: 128, dtype: 'f32', seed: 2, tokenizerDir: join(FIXTURES_DIR, 'gpt2-tokenizer'),
    outliers: outliers ? { channels: 4, factor: 64 } : undefined,
  });
  return dir;
}

describe('SmoothQuant factors and folding', () => {
  const rand = mulberry32(7);
  const k = 12;
  const n = 5;
  const w = Float32Array.from({ length: k * n }, () => rand() * 2 - 1);

  it('takes per-input-channel maxima in either layout', () => {
    const nk = new Float32Array(k * n);
    for (let j = 0; j < k; j++) for (let c = 0; c < n; c++) nk[c * k + j] = w[j * n + c]!;
    const want = Array.from({ length: k }, (_, j) => Math.max(...Array.from({ length: n }, (_, c) => Math.abs(w[j * n + c]!))));
    expect(Array.from(inputChannelMax(w, k, n, 'kn'))).toEqual(want.map(Math.fround));
    expect(Array.from(inputChannelMax(nk, k, n, 'nk'))).toEqual(want.map(Math.fround));
  });

  it('computes s = xmax^a / wmax^(1-a), 1 where a side is silent', () => {
    const s = smoothingFactors(Float32Array.of(64, 1, 0, 9), Float32Array.of(0.25, 1, 2, 0), 0.5);
    expect(s[0]).toBeCloseTo(Math.sqrt(64) / Math.sqrt(0.25), 5);
    expect(s[1]).toBeCloseTo(1, 6);
    expect([s[2], s[3]]).toEqual([1, 1]);
  });

  it('leaves x·W unchanged when x is divided by s and W multiplied (float64 oracle)', () => {
    const x = Float32Array.from({ length: k }, () => (rand() * 2 - 1) * 10);
    const s = smoothingFactors(x.map(Math.abs), inputChannelMax(w, k, n, 'kn'), 0.5);
    const ws = scaleInputChannels(w, k, n, 'kn', s);
    const xs = divideBy(x, s);
    for (let c = 0; c < n; c++) {
      let want = 0;
      let got = 0;
      for (let j = 0; j < k; j++) {
        want += x[j]! * w[j * n + c]!;
        got += xs[j]! * ws[j * n + c]!;
      }
      expect(got).toBeCloseTo(want, 4);
    }
    // The smoothed activations have a flatter range than the originals.
    const spread = (v: Float32Array) => Math.max(...v.map(Math.abs)) / Math.min(...v.map(Math.abs));
    expect(spread(xs)).toBeLessThan(spread(x));
  });
});

describe('options', () => {
  it('rejects an unknown scheme, listing the choices', () => {
    expect(() => parseQuantization('fp8')).toThrow(/unknown scheme "fp8" \(choices: int8, int8-wo, q4, or none\)/);
    expect(parseQuantization('none')).toBeNull();
    expect(parseQuantization('q4')).toBe('q4');
    expect(() => parseSmoothQuantAlpha(1.5)).toThrow(/\[0, 1\]/);
    expect(parseSmoothQuantAlpha(undefined)).toBe(0.5);
  });

  it('fails before loading on a bad scheme or --quantize-lm-head alone', async () => {
    const dir = syntheticGpt2(false);
    await expect(loadModel(dir, { backend: 'reference', quantization: 'int4' as never })).rejects.toThrow(/choices: int8, int8-wo, q4/);
    await expect(loadModel(dir, { backend: 'reference', quantizeLmHead: true })).rejects.toThrow(/needs a quantization scheme/);
  });
});

describe('synthetic outlier channels and calibration', () => {
  const plain = syntheticGpt2(false);
  const outl = syntheticGpt2(true);

  it('compute the same function as the model without them', async () => {
    const a = await loadModel(plain, { backend: 'reference' });
    const b = await loadModel(outl, { backend: 'reference' });
    const prompt = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13];
    const la = Float32Array.from(new SingleSequence(a.model).prefill(prompt));
    const lb = Float32Array.from(new SingleSequence(b.model).prefill(prompt));
    let maxDiff = 0;
    for (let i = 0; i < la.length; i++) maxDiff = Math.max(maxDiff, Math.abs(la[i]! - lb[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it("calibration's final-norm statistics cover every token, not just each chunk's last", () => {
    const tok = GPT2Tokenizer.fromDir(plain);
    const tokens = calibrationTokens((t) => tok.encode(t), 50256);
    const ckpt = loadCheckpoint(plain);
    const got = calibrate(ckpt, createReferenceBackend(), tokens).final;
    // Independently: the full model (with its lm_head) over the same 128-token chunks (calibration's
    // chunk is the model's 128 positions), every row's
    // final-norm output recorded (the last layerNorm call of each forward).
    const inner = createReferenceBackend();
    let last: Float32Array = new Float32Array(0);
    const be = { ...inner, layerNorm: (...a: Parameters<typeof inner.layerNorm>) => (inner.layerNorm(...a), void (last = a[0].slice(0, a[2] * a[3]))) };
    const model = createModel(ckpt, be);
    const C = ckpt.config.nEmbd;
    const max = new Float64Array(C);
    const sq = new Float64Array(C);
    let rows = 0;
    const seq = new SingleSequence(model, { maxLen: 128 });
    for (let at = 0; at < tokens.length; at += 128) {
      seq.reset();
      seq.prefill(tokens.slice(at, at + 128), true);
      for (let i = 0; i < last.length; i++) {
        max[i % C] = Math.max(max[i % C]!, Math.abs(last[i]!));
        sq[i % C] += last[i]! ** 2;
      }
      rows += last.length / C;
    }
    expect(rows).toBe(tokens.length);
    for (let j = 0; j < C; j++) {
      expect(got.max[j]).toBeCloseTo(max[j]!, 5);
      expect(got.rms[j]).toBeCloseTo(Math.sqrt(sq[j]! / rows), 5);
    }
  });

  it('calibration finds the outlier channels at 64x the others', () => {
    const tok = GPT2Tokenizer.fromDir(outl);
    const tokens = calibrationTokens((t) => tok.encode(t), 50256);
    expect(tokens.length).toBeGreaterThan(300);
    const m = (dir: string) => calibrate(loadCheckpoint(dir), createReferenceBackend(), tokens);
    const [base, withOutliers] = [m(plain), m(outl)];
    const ch = outlierChannels(64, { channels: 4 });
    for (let l = 0; l < 2; l++) {
      for (const site of ['attnIn', 'mlpIn'] as const) {
        const a = base.layers[l]![site];
        const b = withOutliers.layers[l]![site];
        for (let j = 0; j < 64; j++) {
          // LayerNorm output scales with gamma and beta exactly, so the maxima and RMS scale too.
          expect(b.max[j]! / a.max[j]!).toBeCloseTo(ch.includes(j) ? 64 : 1, 3);
          expect(b.rms[j]! / a.rms[j]!).toBeCloseTo(ch.includes(j) ? 64 : 1, 3);
          expect(a.rms[j]!).toBeGreaterThan(0);
          expect(a.rms[j]!).toBeLessThanOrEqual(a.max[j]!);
        }
      }
    }
    // The final norm is untouched.
    expect(Array.from(withOutliers.final.max)).toEqual(Array.from(base.final.max));
    expect(Array.from(withOutliers.final.rms)).toEqual(Array.from(base.final.rms));
  });
});
