/**
 * Model shapes for the benchmarks: the matmul and attention sizes a config implies, and the
 * synthetic checkpoints `--model synthetic:NAME` names (written once into the temp dir).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headDim, isLlamaConfig, kvHeads, type ModelConfig } from '../model/config.js';
import { writeLlamaSyntheticCheckpoint, type LlamaSyntheticSpec } from './synthetic-llama.js';
import { writeSyntheticCheckpoint } from './synthetic.js';

/** Matmul weight values of one layer. */
export function layerParams(c: ModelConfig): number {
  const C = c.nEmbd;
  if (!isLlamaConfig(c)) return 4 * C * C + 2 * C * c.nInner;
  const q = c.nHead * c.headDim;
  return C * (q + 2 * c.nKvHead * c.headDim) + q * C + 3 * C * c.nInner;
}

/** Matmul weights one token streams: every layer's, then the lm_head. */
export function matmulParams(c: ModelConfig): number {
  return c.nLayer * layerParams(c) + c.vocabSize * c.nEmbd;
}

/** Query heads x head size, and K/V heads x head size. */
export function attentionWidths(c: ModelConfig): { attnWidth: number; kvWidth: number } {
  return { attnWidth: c.nHead * headDim(c), kvWidth: kvHeads(c) * headDim(c) };
}

const GPT2_124M = { nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024 } as const;

/** SmolLM2-135M's shape (HuggingFaceTB/SmolLM2-135M config.json), with hashed weights. */
export const SMOLLM2_135M: Omit<LlamaSyntheticSpec, 'dtype'> = {
  architecture: 'LlamaForCausalLM', nLayer: 30, nHead: 9, nKvHead: 3, nEmbd: 576, nInner: 1536, nPositions: 8192,
  vocabSize: 49152, tieWordEmbeddings: true, ropeTheta: 100000, rmsNormEps: 1e-5,
};

/** The `-outliers` shapes carry GPT-2-like activation outliers in 6 channels (x64, see synthetic-outliers.ts). */
export const SYNTHETIC_SHAPES = ['gpt2-124m', 'smollm2-135m', 'gpt2-124m-outliers', 'smollm2-135m-outliers'] as const;
export type SyntheticShape = (typeof SYNTHETIC_SHAPES)[number];

const OUTLIERS = { channels: 6, factor: 64 } as const;

/** The synthetic checkpoint of `shape` in `dtype`, written on first use. */
export function syntheticModelDir(shape: SyntheticShape, dtype: 'f32' | 'bf16' = 'f32'): string {
  const dir = join(tmpdir(), 'tinyvllm-bench', `${shape}-synthetic-${dtype}`);
  if (existsSync(join(dir, 'config.json'))) return dir;
  const outliers = shape.endsWith('-outliers') ? OUTLIERS : undefined;
  if (shape.startsWith('gpt2-124m')) writeSyntheticCheckpoint(dir, { ...GPT2_124M, dtype, seed: 0, outliers });
  else writeLlamaSyntheticCheckpoint(dir, { ...SMOLLM2_135M, dtype, seed: 0, outliers });
  return dir;
}

/** `synthetic:NAME` becomes that synthetic checkpoint's directory; anything else is returned as is. */
export function benchModel(model: string | undefined, dtype: 'f32' | 'bf16' = 'f32'): string {
  if (model === undefined) return syntheticModelDir('gpt2-124m', dtype);
  if (!model.startsWith('synthetic:')) return model;
  const shape = model.slice('synthetic:'.length);
  if (!(SYNTHETIC_SHAPES as readonly string[]).includes(shape)) {
    throw new Error(`unknown synthetic model '${shape}' (known: ${SYNTHETIC_SHAPES.join(', ')})`);
  }
  return syntheticModelDir(shape as SyntheticShape, dtype);
}
