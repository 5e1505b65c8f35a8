/**
 * The tiny GPT-2 fixtures: synthetic checkpoints written on demand (once per process) and the
 * PyTorch reference outputs committed under test/fixtures/<name>/ (format: test/fixtures/README.md).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeLlamaSyntheticCheckpoint, type LlamaSyntheticSpec } from '../../src/bench/synthetic-llama.js';
import { writeSyntheticCheckpoint } from '../../src/bench/synthetic.js';
import { hfTokenizerDir, type HfModel } from '../tokenizer/hf-helpers.js';

export type LlamaFixtureName = 'tiny-llama-a' | 'tiny-llama-b' | 'tiny-qwen2' | 'tiny-qwen3';
export type FixtureName = 'tiny-gpt2-a' | 'tiny-gpt2-b' | LlamaFixtureName;
/** Llama-family fixtures (scripts/make_llama_fixtures.py): GQA groups 1, 2, 4, 4; llama3 rope; Qwen2 biases; Qwen3 q/k norm. */
export const LLAMA_FIXTURE_NAMES: readonly LlamaFixtureName[] = ['tiny-llama-a', 'tiny-llama-b', 'tiny-qwen2', 'tiny-qwen3'];
export type FixtureDType = 'f32' | 'bf16' | 'f16';
export const FIXTURE_NAMES: readonly ('tiny-gpt2-a' | 'tiny-gpt2-b')[] = ['tiny-gpt2-a', 'tiny-gpt2-b'];

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface FixtureSpec {
  readonly nLayer: number;
  readonly nHead: number;
  readonly nEmbd: number;
  readonly nPositions: number;
  readonly vocabSize: number;
  readonly seed: number;
}

export interface ReferencePrompt {
  readonly name: string;
  readonly text: string;
  readonly tokens: readonly number[];
  /** [position][j]: logit of `sampledIds[j]` at that position (6 decimals). */
  readonly sampledLogits: readonly (readonly number[])[];
  /** [position]: the 5 highest-logit ids, best first (ties to the lower id). */
  readonly top5: readonly (readonly number[])[];
  readonly top5Logits: readonly (readonly number[])[];
  /** All `vocabSize` logits of the last prompt position. */
  readonly lastLogits: Float32Array;
  /** Greedy continuation (full recompute each step) and the top1 - top2 logit gap before each step. */
  readonly greedy: { readonly tokens: readonly number[]; readonly gaps: readonly number[] };
}

/** A Llama-family fixture's spec: the synthetic checkpoint's, without the dtype. */
export type LlamaFixtureSpec = Omit<LlamaSyntheticSpec, 'dtype' | 'tokenizerDir'> & { readonly vocabSize: number; readonly seed: number };

export interface Reference {
  readonly name: FixtureName;
  /** GPT-2 fixtures: FixtureSpec; Llama-family ones: LlamaFixtureSpec. */
  readonly spec: FixtureSpec & Partial<LlamaFixtureSpec>;
  readonly sampledIds: readonly number[];
  readonly greedySteps: number;
  readonly prompts: readonly ReferencePrompt[];
  /** SHA-256 (hex) of each tensor's little-endian f32 data, as computed by PyTorch. */
  readonly tensorSha256: Readonly<Record<string, string>>;
}

interface RawReference extends Omit<Reference, 'prompts'> {
  readonly format: number;
  readonly lastLogits: { readonly file: string; readonly shape: readonly [number, number] };
  readonly prompts: readonly (Omit<ReferencePrompt, 'lastLogits'> & { readonly lastLogitsIndex: number })[];
}

let tempRoot: string | undefined;
const modelDirs = new Map<string, string>();
const references = new Map<FixtureName, Reference>();

/** A checkpoint directory for the fixture model in `dtype`; written on first use, removed at exit. */
export function fixtureModelDir(name: FixtureName, dtype: FixtureDType = 'f32'): string {
  const key = `${name}-${dtype}`;
  const cached = modelDirs.get(key);
  if (cached) return cached;
  if (!tempRoot) {
    const root = mkdtempSync(join(tmpdir(), 'tinyvllm-fixtures-'));
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
    tempRoot = root;
  }
  const dir = join(tempRoot, key);
  const { spec } = loadReference(name);
  if (spec.architecture !== undefined) {
    // The real tokenizer.json + tokenizer_config.json (Llama 3's or Qwen3's) the prompts were encoded with.
    const tokenizerDir = hfTokenizerDir(loadLlamaPrompts(name as LlamaFixtureName).tokenizer);
    writeLlamaSyntheticCheckpoint(dir, { ...(spec as unknown as LlamaFixtureSpec), dtype, tokenizerDir });
  } else {
    writeSyntheticCheckpoint(dir, { ...spec, dtype, tokenizerDir: join(FIXTURES_DIR, 'gpt2-tokenizer') });
  }
  modelDirs.set(key, dir);
  return dir;
}

/** test/fixtures/<name>/prompts.json (scripts/make_llama_prompts.ts): the real tokenizer's prompt ids. */
export interface LlamaPrompts {
  readonly tokenizer: HfModel;
  /** config.json's vocab_size: Llama 3's 128256, Qwen's 151936. */
  readonly vocabSize: number;
  /** Entries of tokenizer.json (vocabulary + added tokens); Qwen's is below vocabSize. */
  readonly tokenizerSize: number;
  readonly prompts: readonly { readonly name: string; readonly text: string; readonly tokens: readonly number[] }[];
}

export function loadLlamaPrompts(name: LlamaFixtureName): LlamaPrompts {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, name, 'prompts.json'), 'utf8')) as LlamaPrompts;
}

export function loadReference(name: FixtureName): Reference {
  const cached = references.get(name);
  if (cached) return cached;
  const dir = join(FIXTURES_DIR, name);
  const file = join(dir, 'reference.json');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawReference;
  if (raw.format !== 1 || raw.name !== name) throw new Error(`${file}: expected format 1 for model ${name}`);
  const [rows, vocab] = raw.lastLogits.shape;
  const bytes = readFileSync(join(dir, raw.lastLogits.file));
  if (bytes.length !== rows * vocab * 4) {
    throw new Error(`${join(dir, raw.lastLogits.file)}: ${bytes.length} bytes, expected ${rows} x ${vocab} f32`);
  }
  // Copy into an aligned buffer: Buffer pool slices need not be 4-byte aligned.
  const all = new Float32Array(new Uint8Array(bytes).buffer);
  const ref: Reference = {
    name,
    spec: raw.spec,
    sampledIds: raw.sampledIds,
    greedySteps: raw.greedySteps,
    tensorSha256: raw.tensorSha256,
    prompts: raw.prompts.map(({ lastLogitsIndex, ...p }) => ({
      ...p,
      lastLogits: all.subarray(lastLogitsIndex * vocab, (lastLogitsIndex + 1) * vocab),
    })),
  };
  references.set(name, ref);
  return ref;
}
