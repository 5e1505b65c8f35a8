/**
 * Synthetic GPT-2 checkpoints: deterministic weights from a counter-based hash, so tests and
 * benchmarks get real-shaped models (full 50257-token vocabulary) without committing weights. Tests
 * pass GPT-2's real vocabulary (`tokenizerDir`); without one, a stand-in byte-level vocabulary of the
 * same size is written, so the benchmarks read nothing from test fixtures or dev dependencies.
 * scripts/make_fixtures.py implements the same scheme in Python and computes the PyTorch reference
 * outputs; test/bench/synthetic.test.ts proves the two agree bit for bit.
 *
 * Weight scheme (identical in scripts/make_fixtures.py — change both or neither). For tensor `name`
 * (canonical GPT-2 name, e.g. `h.0.attn.c_attn.weight`), model `seed` and flat row-major index `i`,
 * in uint32 arithmetic:
 *
 *   fnv1a32(s) = FNV-1a over the UTF-8 bytes of s (offset 0x811C9DC5, prime 0x01000193)
 *   fmix32(h)  = murmur3 finaliser (h ^= h>>16; h *= 0x85EBCA6B; h ^= h>>13; h *= 0xC2B2AE35; h ^= h>>16)
 *   key        = fmix32(fnv1a32(name) ^ fmix32(seed))
 *   q          = fmix32((i * 0x9E3779B1) ^ key)
 *   value      = offset + (q>>31 ? -m : m) * 2^-s,  m = q & (2^bits - 1)
 *
 * Values are symmetric integers of at most 7 bits times a power of two, so they are exact in f32,
 * bf16 and f16 (no f16 subnormals while s <= 14; s is clamped there): F32, BF16 and F16 copies are
 * the same model and share one set of reference outputs. Per tensor (see RULES below):
 *
 *   wte.weight                             bits 7  s 9              offset 0
 *   wpe.weight                             bits 7  s 10             offset 0
 *   LayerNorm gammas (ln_1/ln_2/ln_f)      bits 4  s 7              offset 1   (1 ± 15/128)
 *   every .bias                            bits 7  s 11             offset 0
 *   c_attn.weight, c_fc.weight             bits 7  s 6 + half(in)   offset 0
 *   c_proj.weight (attn and mlp)           bits 7  s 7 + half(in)   offset 0
 *
 * where `in` is the Conv1D weight's row count and half(n) = floor(bitLength(n) / 2), i.e.
 * 2^half(n) ≈ sqrt(n): activations stay near unit scale and the logits get a real spread.
 *
 * Llama-family names (Hugging Face's, nn.Linear weights `[out, in]`, so `in` is the column count):
 *
 *   model.embed_tokens.weight, lm_head.weight           bits 7  s 9              offset 0
 *   every *norm.weight (RMSNorm, q_norm, k_norm)        bits 4  s 7              offset 1
 *   q/k/v_proj.weight, gate_proj.weight, up_proj.weight bits 7  s 6 + half(in)   offset 0
 *   o_proj.weight, down_proj.weight                     bits 7  s 7 + half(in)   offset 0
 *   every .bias                                         as above (bits 7, s 11)
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { DType } from '../kernels/backend.js';
import { f32ArrayToBf16, f32ArrayToF16 } from '../kernels/half.js';
import { BYTE_TO_UNICODE } from '../tokenizer/byte-unicode.js';
import { writeSafetensorsStreaming, type SafetensorsDType, type TensorEntry } from '../checkpoint/safetensors-writer.js';
import { applyOutliers, type OutlierSpec } from './synthetic-outliers.js';

export interface SyntheticSpec {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
  /** Defaults to GPT-2's 50257. */
  vocabSize?: number;
  dtype: DType;
  /** uint32; defaults to 0. */
  seed?: number;
  /** Holds vocab.json + merges.txt (or GPT-2's original encoder.json + vocab.bpe); default: a stand-in. */
  tokenizerDir?: string;
  /** GPT-2-like activation outlier channels (synthetic-outliers.ts); default none. */
  outliers?: OutlierSpec;
}

export const GPT2_VOCAB_SIZE = 50257;

interface Rule {
  readonly bits: number;
  readonly s: number;
  readonly offset: number;
}

const halfLog2 = (n: number): number => (32 - Math.clz32(n)) >> 1;

/** The per-tensor table from the header comment; order matters (first match wins). */
function tensorRule(name: string, shape: readonly number[]): Rule {
  if (name === 'wte.weight') return { bits: 7, s: 9, offset: 0 };
  if (name === 'wpe.weight') return { bits: 7, s: 10, offset: 0 };
  if (name.endsWith('.bias')) return { bits: 7, s: 11, offset: 0 };
  if (name.includes('.ln_') || name.startsWith('ln_')) return { bits: 4, s: 7, offset: 1 };
  const fanIn = shape[0] ?? 1;
  if (name.endsWith('c_attn.weight') || name.endsWith('c_fc.weight')) {
    return { bits: 7, s: Math.min(14, 6 + halfLog2(fanIn)), offset: 0 };
  }
  if (name.endsWith('c_proj.weight')) return { bits: 7, s: Math.min(14, 7 + halfLog2(fanIn)), offset: 0 };
  if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return { bits: 7, s: 9, offset: 0 };
  if (name.endsWith('norm.weight')) return { bits: 4, s: 7, offset: 1 };
  const linearIn = shape[1] ?? 1;
  if (/(q_proj|k_proj|v_proj|gate_proj|up_proj)\.weight$/.test(name)) return { bits: 7, s: Math.min(14, 6 + halfLog2(linearIn)), offset: 0 };
  if (/(o_proj|down_proj)\.weight$/.test(name)) return { bits: 7, s: Math.min(14, 7 + halfLog2(linearIn)), offset: 0 };
  throw new Error(`synthetic weights: no rule for tensor ${name}`);
}

function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One tensor's values (row-major), exactly as scripts/make_fixtures.py computes them. */
export function syntheticTensor(name: string, shape: readonly number[], seed = 0): Float32Array {
  const { bits, s, offset } = tensorRule(name, shape);
  const key = fmix32(fnv1a32(name) ^ fmix32(seed));
  const mask = (1 << bits) - 1;
  const scale = 2 ** -s;
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) {
    // fmix32 inlined: this loop fills ~124M values for a GPT-2 124M-shaped model.
    let h = Math.imul(i, 0x9e3779b1) ^ key;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    const m = h & mask;
    out[i] = (h < 0 ? -m : m) * scale + offset; // h < 0 <=> the sign bit q>>31 is set
  }
  return out;
}

/** Canonical GPT-2 tensor names and shapes in checkpoint order; Conv1D weights are [in, out]. */
export function syntheticTensorShapes(spec: SyntheticSpec): { name: string; shape: number[] }[] {
  const e = spec.nEmbd;
  const out = [
    { name: 'wte.weight', shape: [spec.vocabSize ?? GPT2_VOCAB_SIZE, e] },
    { name: 'wpe.weight', shape: [spec.nPositions, e] },
  ];
  for (let l = 0; l < spec.nLayer; l++) {
    const p = `h.${l}.`;
    out.push(
      { name: `${p}ln_1.weight`, shape: [e] },
      { name: `${p}ln_1.bias`, shape: [e] },
      { name: `${p}attn.c_attn.weight`, shape: [e, 3 * e] },
      { name: `${p}attn.c_attn.bias`, shape: [3 * e] },
      { name: `${p}attn.c_proj.weight`, shape: [e, e] },
      { name: `${p}attn.c_proj.bias`, shape: [e] },
      { name: `${p}ln_2.weight`, shape: [e] },
      { name: `${p}ln_2.bias`, shape: [e] },
      { name: `${p}mlp.c_fc.weight`, shape: [e, 4 * e] },
      { name: `${p}mlp.c_fc.bias`, shape: [4 * e] },
      { name: `${p}mlp.c_proj.weight`, shape: [4 * e, e] },
      { name: `${p}mlp.c_proj.bias`, shape: [e] },
    );
  }
  out.push({ name: 'ln_f.weight', shape: [e] }, { name: 'ln_f.bias', shape: [e] });
  return out;
}

export const FORMATS = {
  f32: { st: 'F32', torch: 'float32' },
  bf16: { st: 'BF16', torch: 'bfloat16' },
  f16: { st: 'F16', torch: 'float16' },
} as const satisfies Record<SyntheticSpec['dtype'], { st: SafetensorsDType; torch: string }>;

/**
 * Writes `dir`/model.safetensors: every tensor from the hash scheme, stored in `dtype`, with
 * `outliers` (of a `outliers.width`-wide hidden state) applied when given.
 */
export function writeSyntheticTensors(
  dir: string,
  shapes: Iterable<{ name: string; shape: readonly number[] }>,
  dtype: 'f32' | 'bf16' | 'f16',
  seed: number,
  outliers?: OutlierSpec & { width: number },
): void {
  const entries: TensorEntry[] = [...shapes].map((t) => ({ name: t.name, shape: [...t.shape], dtype: FORMATS[dtype].st }));
  writeSafetensorsStreaming(
    join(dir, 'model.safetensors'),
    entries,
    (t) => {
      const values = syntheticTensor(t.name, t.shape, seed);
      if (outliers) applyOutliers(t.name, t.shape, values, outliers.width, outliers);
      if (dtype === 'bf16') return f32ArrayToBf16(values);
      if (dtype === 'f16') return f32ArrayToF16(values);
      return values;
    },
    { format: 'pt', synthetic_seed: String(seed) },
  );
}

/** Writes config.json, model.safetensors and links vocab.json + merges.txt into `dir`. */
export function writeSyntheticCheckpoint(dir: string, spec: SyntheticSpec): void {
  validateSpec(spec);
  const seed = spec.seed ?? 0;
  const vocabSize = spec.vocabSize ?? GPT2_VOCAB_SIZE;
  const format = FORMATS[spec.dtype];
  const tokenizer = spec.tokenizerDir === undefined ? null : findTokenizerFiles(spec.tokenizerDir);
  mkdirSync(dir, { recursive: true });

  writeSyntheticTensors(dir, syntheticTensorShapes(spec), spec.dtype, seed, spec.outliers && { ...spec.outliers, width: spec.nEmbd });

  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: vocabSize,
    n_positions: spec.nPositions,
    n_ctx: spec.nPositions,
    n_embd: spec.nEmbd,
    n_layer: spec.nLayer,
    n_head: spec.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    bos_token_id: vocabSize - 1,
    eos_token_id: vocabSize - 1,
    tie_word_embeddings: true,
    torch_dtype: format.torch,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  if (tokenizer) {
    linkOrCopy(tokenizer.vocab, join(dir, 'vocab.json'));
    linkOrCopy(tokenizer.merges, join(dir, 'merges.txt'));
  } else {
    writeStandInVocabulary(dir, vocabSize);
  }
}

/**
 * A GPT-2-format vocabulary of `vocabSize` tokens: the 256 byte tokens, " t" (its one merge: a
 * merges.txt needs at least one), fillers that decode to " t<id>", and <|endoftext|> last (GPT-2's
 * EOS id for the default size).
 */
export function writeStandInVocabulary(dir: string, vocabSize: number): void {
  const space = BYTE_TO_UNICODE[0x20];
  const vocab: Record<string, number> = {};
  BYTE_TO_UNICODE.forEach((ch, b) => (vocab[ch] = b));
  vocab[`${space}t`] = 256;
  for (let id = 257; id < vocabSize - 1; id++) vocab[`${space}t${id}`] = id;
  vocab['<|endoftext|>'] = vocabSize - 1;
  // Never write through a link left by an earlier checkpoint with a real vocabulary.
  for (const f of ['vocab.json', 'merges.txt']) rmSync(join(dir, f), { force: true });
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), `#version: 0.2\n${space} t\n`);
}

function validateSpec(spec: SyntheticSpec): void {
  const ints: [string, number | undefined][] = [
    ['nLayer', spec.nLayer],
    ['nHead', spec.nHead],
    ['nEmbd', spec.nEmbd],
    ['nPositions', spec.nPositions],
    ['vocabSize', spec.vocabSize ?? GPT2_VOCAB_SIZE],
  ];
  for (const [k, v] of ints) {
    if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`synthetic checkpoint: ${k} must be a positive integer, got ${v}`);
  }
  if (spec.nEmbd % spec.nHead !== 0) {
    throw new Error(`synthetic checkpoint: nEmbd (${spec.nEmbd}) must be divisible by nHead (${spec.nHead})`);
  }
  if (spec.tokenizerDir === undefined && (spec.vocabSize ?? GPT2_VOCAB_SIZE) < 258) {
    throw new Error(`synthetic checkpoint: a stand-in vocabulary needs vocabSize >= 258 (256 bytes, " t", <|endoftext|>), got ${spec.vocabSize}`);
  }
  if (!(spec.dtype in FORMATS)) throw new Error(`synthetic checkpoint: dtype must be f32, bf16 or f16, got ${String(spec.dtype)}`);
  const seed = spec.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`synthetic checkpoint: seed must be an integer in [0, 2^32), got ${seed}`);
  }
}

/** GPT-2's vocabulary files in `tokenizerDir`, under either naming. */
export function findTokenizerFiles(tokenizerDir: string): { vocab: string; merges: string } {
  const d = resolve(tokenizerDir);
  for (const [vocab, merges] of [['vocab.json', 'merges.txt'], ['encoder.json', 'vocab.bpe']] as const) {
    if (existsSync(join(d, vocab)) && existsSync(join(d, merges))) return { vocab: join(d, vocab), merges: join(d, merges) };
  }
  throw new Error(`synthetic checkpoint: no GPT-2 tokenizer files (vocab.json + merges.txt) in ${d}`);
}

/** A relative symlink keeps the checkpoint small; copy where links are not allowed. */
export function linkOrCopy(target: string, link: string): void {
  rmSync(link, { force: true });
  try {
    symlinkSync(relative(dirname(link), target), link);
  } catch {
    copyFileSync(target, link);
  }
}
