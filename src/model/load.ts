/** One call from a model name or directory to a ready model: resolve, tokenizer, backend, weights. */
import type { Backend, DType, Quantization } from '../kernels/backend.js';
import { createBackend, type BackendChoice, type CreateBackendOptions } from '../kernels/index.js';
import { GPT2Tokenizer } from '../tokenizer/index.js';
import { loadCheckpoint } from '../checkpoint/checkpoint.js';
import { createModel, type CausalLM } from './model.js';
import { resolveModel } from '../hub/hub.js';
import { calibrate, calibrationTokens } from './calibrate.js';
import { parseQuantization, parseSmoothQuantAlpha, type WeightQuantization } from './quantization.js';

export interface LoadProgress {
  phase: 'resolve' | 'download' | 'load';
  message: string;
  done?: number;
  total?: number;
}

export interface LoadModelOptions {
  backend?: BackendChoice;
  threads?: number;
  simd?: CreateBackendOptions['simd'];
  /**
   * Weight precision to compute from. 'auto' (default) keeps the checkpoint's dtype. A backend may
   * still compute half weights from f32 copies if it has no kernel for them; `model.dtype` reports
   * what it actually uses.
   */
  dtype?: 'auto' | DType;
  /** Load weights holding NaN/±Inf with a warning instead of failing (see LoadCheckpointOptions). */
  allowNonFiniteWeights?: boolean;
  /** Store the layer weights quantized (vLLM's `--quantization`); default none. */
  quantization?: Quantization | null;
  /** Quantize the lm_head too (default: it stays bf16, or f16 for an f16 model). */
  quantizeLmHead?: boolean;
  /**
   * SmoothQuant migration strength for 'int8' (default 0.5), calibrated at load time on built-in
   * text; null turns smoothing off (a plain per-token W8A8, for comparison).
   */
  smoothQuantAlpha?: number | null;
  /**
   * For 'int8-wo' and 'q4': rescale input channels by activation-aware scales searched against
   * calibration on built-in text (default true; weight-scales.ts); false quantizes as stored.
   */
  activationAware?: boolean;
  onProgress?: (e: LoadProgress) => void;
}

export interface LoadedModel {
  /** The resolved checkpoint directory. */
  dir: string;
  model: CausalLM;
  tokenizer: GPT2Tokenizer;
  backend: Backend;
}

export async function loadModel(nameOrDir: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const progress = opts.onProgress;
  progress?.({ phase: 'resolve', message: `resolving ${nameOrDir}` });
  const dir = await resolveModel(nameOrDir, {
    onProgress: (e) => progress?.({ phase: 'download', message: e.file, done: e.downloaded, total: e.total ?? undefined }),
  });
  // Bad settings fail before anything is read.
  const scheme = parseQuantization(opts.quantization);
  const alpha = parseSmoothQuantAlpha(opts.smoothQuantAlpha);
  if (opts.quantizeLmHead && scheme === null) throw new Error('quantizeLmHead needs a quantization scheme (int8, int8-wo or q4)');
  const tokenizer = GPT2Tokenizer.fromDir(dir);
  // The backend comes before the weights so a missing native build fails before a long load.
  const backend = createBackend({ backend: opts.backend ?? 'auto', threads: opts.threads, simd: opts.simd });
  try {
    const ckpt = loadCheckpoint(dir, {
      onProgress: (done, total, file) => progress?.({ phase: 'load', message: file, done, total }),
      allowNonFiniteWeights: opts.allowNonFiniteWeights,
    });
    const dtype = opts.dtype === undefined || opts.dtype === 'auto' ? ckpt.dtype : opts.dtype;
    let quant: WeightQuantization | null = null;
    if (scheme !== null) {
      const calibrated = scheme === 'int8' ? alpha !== null : opts.activationAware !== false;
      if (calibrated) progress?.({ phase: 'load', message: scheme === 'int8' ? 'calibrating SmoothQuant' : 'calibrating activation-aware scales' });
      const stats = calibrated ? calibrate(ckpt, backend, calibrationTokens((t) => tokenizer.encode(t), ckpt.config.eosTokenId)) : null;
      quant = { scheme, lmHead: opts.quantizeLmHead === true, alpha, stats };
    }
    const model = createModel(ckpt, backend, { dtype, quant });
    return { dir, model, tokenizer, backend };
  } catch (e) {
    backend.dispose();
    throw e;
  }
}
