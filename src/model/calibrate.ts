/**
 * Calibration: runs the built-in text through the model unquantized and records, per hidden
 * channel, the largest |value| (for SmoothQuant) and the RMS (for the weight-only scale search) of
 * what each norm hands to the matmul after it.
 *
 * Memory: the unquantized model is prepared in half precision, without its lm_head (calibration
 * reads no logits), on a backend of its own, which is disposed (releasing every matrix) before the
 * quantized model is prepared, so no f32 copy of all weights is ever held beside the checkpoint.
 */
import type { Backend } from '../kernels/backend.js';
import { createBackend } from '../kernels/index.js';
import type { Checkpoint } from '../checkpoint/tensor.js';
import { CALIBRATION_TEXTS } from './calibration-text.js';
import { createModel } from './model.js';
import type { ActivationStats, ChannelStats } from './quantization.js';
import { lmHeadDType } from './quantization.js';
import { SingleSequence } from './single-sequence.js';

/** Longest piece fed in one forward pass. */
const CHUNK = 256;

/**
 * Tokens kept of each passage: about 500 in all whatever the tokenizer (a byte-level stand-in
 * vocabulary makes one token per character), so calibration stays a second or two for 124M.
 */
const PER_PASSAGE = 48;

/** The calibration text as one token stream, each passage ended by `separator` (e.g. the EOS id). */
export function calibrationTokens(encode: (text: string) => number[], separator: number | null): number[] {
  const out: number[] = [];
  for (const t of CALIBRATION_TEXTS) {
    out.push(...encode(t).slice(0, PER_PASSAGE));
    if (separator !== null) out.push(separator);
  }
  return out;
}

/** Running per-channel max |x| and sum of x^2 at one norm, over `rows` rows. */
interface Site {
  max: Float32Array;
  sumSq: Float64Array;
  rows: number;
}

/**
 * A backend that forwards every call to `inner` and records each norm call's output per channel:
 * norm calls are numbered in forward order (two per layer, then the final one).
 */
function observingBackend(inner: Backend, width: number, sites: Site[]): { backend: Backend; reset: () => void } {
  let call = 0;
  const record = (out: Float32Array, t: number): void => {
    const site = sites[call++];
    if (!site) throw new Error('calibration: more norm calls than the model has norms');
    const { max, sumSq } = site;
    for (let i = 0; i < t; i++) {
      for (let j = 0, c = i * width; j < width; j++, c++) {
        const v = out[c];
        const a = Math.abs(v);
        if (a > max[j]) max[j] = a;
        sumSq[j] += v * v;
      }
    }
    site.rows += t;
  };
  const backend = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'layerNorm') {
        return (...a: Parameters<Backend['layerNorm']>) => (target.layerNorm(...a), record(a[0], a[2]));
      }
      if (prop === 'rmsNorm') return (...a: Parameters<Backend['rmsNorm']>) => (target.rmsNorm(...a), record(a[0], a[2]));
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { backend, reset: () => void (call = 0) };
}

/**
 * Per-channel activation statistics of the checkpoint's model over `tokens`, computed on a fresh
 * backend like `like` (same kind and threads) that is disposed before returning.
 */
export function calibrate(ckpt: Checkpoint, like: Backend, tokens: readonly number[]): ActivationStats {
  const cfg = ckpt.config;
  const C = cfg.nEmbd;
  const sites: Site[] = Array.from({ length: 2 * cfg.nLayer + 1 }, () => ({ max: new Float32Array(C), sumSq: new Float64Array(C), rows: 0 }));
  const inner = createBackend({ backend: like.name, threads: like.name === 'native' ? like.threads : undefined });
  try {
    const { backend, reset } = observingBackend(inner, C, sites);
    // No lm_head: its logits are never read, and it is the model's largest matrix.
    const model = createModel(ckpt, backend, { dtype: lmHeadDType(ckpt.dtype), logits: false });
    const chunk = Math.min(CHUNK, cfg.nPositions);
    const seq = new SingleSequence(model, { maxLen: chunk });
    for (let at = 0; at < tokens.length; at += chunk) {
      seq.reset();
      reset();
      seq.prefill(tokens.slice(at, at + chunk), true); // every row through the final norm: the lm_head's statistics
    }
  } finally {
    inner.dispose();
  }
  const stats = (s: Site): ChannelStats => ({ max: s.max, rms: Float32Array.from(s.sumSq, (q) => Math.sqrt(q / Math.max(1, s.rows))) });
  const layers = Array.from({ length: cfg.nLayer }, (_, l) => ({ attnIn: stats(sites[2 * l]), mlpIn: stats(sites[2 * l + 1]) }));
  return { layers, final: stats(sites[2 * cfg.nLayer]) };
}
