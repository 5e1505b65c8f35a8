/**
 * The shipped kjv-mini model (models/kjv-mini) and its PyTorch reference outputs in
 * test/fixtures/kjv-mini/ (written by scripts/make_kjv_fixtures.py; format: test/fixtures/README.md).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReferencePrompt } from './fixtures.js';

export const KJV_MODEL_DIR = resolve(fileURLToPath(new URL('../../models/kjv-mini/', import.meta.url)));
export const KJV_FIXTURE_DIR = fileURLToPath(new URL('../fixtures/kjv-mini/', import.meta.url));

/** Next-token losses (nats per predicted token) on the held-out split, in windows of `windowTokens`. */
export interface HeldoutReference {
  readonly file: string;
  /** Token count and SHA-256 of the little-endian int32 ids of the whole held-out text, as PyTorch's encoder produced them. */
  readonly numTokens: number;
  readonly tokensSha256: string;
  readonly windowTokens: number;
  /** The first `testWindows` windows: what the engine tests recompute. */
  readonly testWindows: number;
  readonly testLoss: number;
  readonly testUnigramLoss: number;
  /** Positions (of testWindows x (windowTokens - 1)) whose top-1 prediction is the next token; for the unigram model, which always predicts its most frequent token. */
  readonly testTop1: number;
  readonly testUnigramTop1: number;
  /** All `windows` windows: the model card's figure (float64 here, float32 in the card). */
  readonly windows: number;
  readonly loss: number;
  readonly unigramLoss: number;
}

export interface KjvReference {
  readonly spec: { readonly nLayer: number; readonly nHead: number; readonly nEmbd: number; readonly nPositions: number; readonly vocabSize: number };
  readonly sampledIds: readonly number[];
  readonly greedySteps: number;
  readonly prompts: readonly ReferencePrompt[];
  readonly heldout: HeldoutReference;
}

interface RawPrompt extends Omit<ReferencePrompt, 'lastLogits'> {
  readonly lastLogitsIndex: number;
}

let cached: KjvReference | undefined;

export function loadKjvReference(): KjvReference {
  if (cached) return cached;
  const file = join(KJV_FIXTURE_DIR, 'reference.json');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Omit<KjvReference, 'prompts'> & {
    format: number;
    name: string;
    lastLogits: { file: string; shape: [number, number] };
    prompts: RawPrompt[];
  };
  if (raw.format !== 1 || raw.name !== 'kjv-mini') throw new Error(`${file}: expected format 1 for kjv-mini`);
  const [rows, vocab] = raw.lastLogits.shape;
  const bytes = readFileSync(join(KJV_FIXTURE_DIR, raw.lastLogits.file));
  if (bytes.length !== rows * vocab * 4) throw new Error(`${raw.lastLogits.file}: ${bytes.length} bytes, expected ${rows} x ${vocab} f32`);
  const all = new Float32Array(new Uint8Array(bytes).buffer); // aligned copy
  cached = {
    spec: raw.spec,
    sampledIds: raw.sampledIds,
    greedySteps: raw.greedySteps,
    heldout: raw.heldout,
    prompts: raw.prompts.map(({ lastLogitsIndex, ...p }) => ({ ...p, lastLogits: all.subarray(lastLogitsIndex * vocab, (lastLogitsIndex + 1) * vocab) })),
  };
  return cached;
}

/** The held-out split (James to Revelation), one verse per line. */
export function kjvHeldoutText(): string {
  return readFileSync(join(KJV_FIXTURE_DIR, loadKjvReference().heldout.file), 'utf8');
}
