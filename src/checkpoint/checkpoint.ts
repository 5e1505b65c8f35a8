/**
 * Loads a GPT-2 checkpoint directory (config.json + safetensors, single file or sharded) and checks
 * it against the config before reading any weights, so a bad checkpoint fails fast with one line per
 * problem instead of a wrong answer later. Weights are then streamed once, tensor by tensor, for the
 * non-finite scan and dropped; the returned tensors read their bytes again when a weight loader asks,
 * so peak memory is the prepared weights plus one raw tensor, not the whole checkpoint.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DType } from '../kernels/backend.js';
import { findWeightFiles, readConfig } from './checkpoint-files.js';
import { architectureOf, isLlamaConfig, type GPT2Config, type ModelConfig } from '../model/config.js';
import { isLlamaNonWeight, llamaTensorShapes } from '../model/llama-tensors.js';
import { findNonFinite, unflatten } from './finite.js';
import { readTensorData, SafetensorsFile, supportedDType, type TensorEntry } from './safetensors.js';
import type { Checkpoint, Tensor } from './tensor.js';

export interface LoadCheckpointOptions {
  /** Called after each tensor is read; `done`/`total` count bytes. */
  onProgress?: (done: number, total: number, file: string) => void;
  /**
   * Load weights holding NaN or ±Inf, reporting them through `onWarning`, instead of failing
   * (default false: such weights make every output garbage).
   */
  allowNonFiniteWeights?: boolean;
  /** Receives warnings; defaults to `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** Problems listed in one error before the rest are summarised. */
const MAX_LISTED = 40;

/** Buffers some exports contain that are not weights: the causal mask and the tied LM head. */
const NON_WEIGHT = /^(h\.\d+\.attn\.(bias|masked_bias)|lm_head\.weight)$/;

export function loadCheckpoint(dir: string, opts: LoadCheckpointOptions = {}): Checkpoint {
  const { root, config, opened, located } = openCheckpoint(dir);
  try {
    return { dir: root, config, tensors: scanAll(located, opts), dtype: majorityDType(located) };
  } finally {
    for (const f of opened) f.close();
  }
}

/** What a checkpoint holds, from its headers alone: validated like loadCheckpoint, no weights read. */
export interface CheckpointSummary {
  readonly dir: string;
  readonly config: ModelConfig;
  readonly files: readonly string[];
  /** Canonical name -> shape, dtype and file. */
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly dtype: DType; readonly file: string }>;
  readonly dtype: DType;
  readonly numParams: number;
  /** Bytes of weight data on disk. */
  readonly bytes: number;
}

export function inspectCheckpoint(dir: string): CheckpointSummary {
  const { root, config, opened, located } = openCheckpoint(dir);
  for (const f of opened) f.close();
  const tensors = new Map<string, { shape: readonly number[]; dtype: DType; file: string }>();
  let numParams = 0;
  let bytes = 0;
  for (const [name, { reader, entry }] of located) {
    tensors.set(name, { shape: entry.shape, dtype: supportedDType(entry, reader.file), file: reader.file });
    numParams += numel(entry.shape);
    bytes += entry.end - entry.start;
  }
  return { dir: root, config, files: opened.map((f) => f.file), tensors, dtype: majorityDType(located), numParams, bytes };
}

interface OpenCheckpoint {
  root: string;
  config: ModelConfig;
  /** Open files, to be closed by the caller. */
  opened: SafetensorsFile[];
  located: Map<string, Located>;
}

/** Reads config and headers and validates them all; throws one error listing every problem. */
function openCheckpoint(dir: string): OpenCheckpoint {
  const root = resolve(dir);
  if (!existsSync(root)) throw new Error(`Model directory not found: ${root}`);
  if (!statSync(root).isDirectory()) throw new Error(`Model path is not a directory: ${root}`);
  const config = readConfig(root);
  const { files, weightMap } = findWeightFiles(root);

  const opened: SafetensorsFile[] = [];
  try {
    for (const f of files) opened.push(new SafetensorsFile(f));
    const problems: string[] = [];
    const nonWeight = (name: string) => (isLlamaConfig(config) ? isLlamaNonWeight(config, name) : NON_WEIGHT.test(name));
    const located = locateTensors(opened, weightMap, nonWeight, problems);
    // Sizes first: the expected tensor list grows with n_layer, so a wild config must not build it.
    const sizeProblems = checkConfigSizes(config, join(root, 'config.json'), located);
    if (sizeProblems.length > 0) problems.push(...sizeProblems);
    else checkAgainstConfig(config, located, files, problems);
    if (problems.length > 0) {
      const shown = problems.slice(0, MAX_LISTED).map((p) => `  - ${p}`);
      if (problems.length > MAX_LISTED) shown.push(`  ... and ${problems.length - MAX_LISTED} more`);
      throw new Error(`Invalid checkpoint ${root}:\n${shown.join('\n')}`);
    }
    return { root, config, opened, located };
  } catch (e) {
    for (const f of opened) f.close();
    throw e;
  }
}

/** Every tensor a model of this config has, with its shape. */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  return isLlamaConfig(config) ? llamaTensorShapes(config) : gpt2TensorShapes(config);
}

/** GPT-2's tensors (HF Conv1D weights are [in, out]). */
function gpt2TensorShapes(config: GPT2Config): Map<string, number[]> {
  const { vocabSize: V, nPositions: P, nEmbd: C, nInner: I } = config;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [V, C]],
    ['wpe.weight', [P, C]],
  ]);
  for (let i = 0; i < config.nLayer; i++) {
    const h = `h.${i}`;
    shapes.set(`${h}.ln_1.weight`, [C]).set(`${h}.ln_1.bias`, [C]);
    shapes.set(`${h}.attn.c_attn.weight`, [C, 3 * C]).set(`${h}.attn.c_attn.bias`, [3 * C]);
    shapes.set(`${h}.attn.c_proj.weight`, [C, C]).set(`${h}.attn.c_proj.bias`, [C]);
    shapes.set(`${h}.ln_2.weight`, [C]).set(`${h}.ln_2.bias`, [C]);
    shapes.set(`${h}.mlp.c_fc.weight`, [C, I]).set(`${h}.mlp.c_fc.bias`, [I]);
    shapes.set(`${h}.mlp.c_proj.weight`, [I, C]).set(`${h}.mlp.c_proj.bias`, [C]);
  }
  shapes.set('ln_f.weight', [C]).set('ln_f.bias', [C]);
  return shapes;
}

/** Config fields that set a tensor dimension: `config[key]` must equal `shape[axis]` of `tensor`. */
export function configSizeFields(config: ModelConfig): { field: string; value: number; tensor: string; axis: number }[] {
  if (isLlamaConfig(config)) {
    return [
      { field: 'vocab_size', value: config.vocabSize, tensor: 'model.embed_tokens.weight', axis: 0 },
      { field: 'hidden_size', value: config.nEmbd, tensor: 'model.embed_tokens.weight', axis: 1 },
      { field: 'intermediate_size', value: config.nInner, tensor: 'model.layers.0.mlp.gate_proj.weight', axis: 0 },
    ];
  }
  return [
    { field: 'vocab_size', value: config.vocabSize, tensor: 'wte.weight', axis: 0 },
    { field: 'n_embd', value: config.nEmbd, tensor: 'wte.weight', axis: 1 },
    { field: 'n_positions', value: config.nPositions, tensor: 'wpe.weight', axis: 0 },
    { field: 'n_inner', value: config.nInner, tensor: 'h.0.mlp.c_fc.weight', axis: 1 },
  ];
}

/** Layer blocks are named `h.N.` (GPT-2) or `layers.N.` (Llama-style). */
const LAYER_INDEX = /^(?:model\.)?(?:h|layers)\.(\d+)\./;

/**
 * Checks the config's sizes against the tensors present, before anything of the config's size is
 * built: one line per field, naming config.json, the field and the tensor that contradicts it.
 */
function checkConfigSizes(config: ModelConfig, configFile: string, located: Map<string, Located>): string[] {
  const problems: string[] = [];
  const layers = new Set<number>();
  for (const name of located.keys()) {
    const m = LAYER_INDEX.exec(name);
    if (m) layers.add(Number(m[1]));
  }
  // More layers than the weights hold (fewer are reported as unexpected tensors, by name).
  if (config.nLayer > layers.size) {
    const held = layers.size === 0 ? 'no layer tensors' : `${layers.size} layer${layers.size === 1 ? '' : 's'} (indices ${Math.min(...layers)} to ${Math.max(...layers)})`;
    const field = isLlamaConfig(config) ? 'num_hidden_layers' : 'n_layer';
    problems.push(`${configFile}: field "${field}" is ${config.nLayer}, but the weights hold ${held}`);
  }
  for (const { field, value, tensor, axis } of configSizeFields(config)) {
    const found = located.get(tensor);
    const dim = found?.entry.shape[axis];
    if (found !== undefined && dim !== undefined && dim !== value) {
      problems.push(`${configFile}: field "${field}" is ${value}, but tensor "${tensor}" in ${found.reader.file} has ${dim} (shape [${found.entry.shape.join(', ')}])`);
    }
  }
  return problems;
}

/** Canonical GPT-2 name: GPT2LMHeadModel exports prefix everything with `transformer.`. */
export function canonicalTensorName(name: string): string {
  return name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
}

interface Located {
  reader: SafetensorsFile;
  entry: TensorEntry;
}

/** Maps canonical names to where each tensor lives, cross-checking the shard index. */
function locateTensors(
  opened: SafetensorsFile[],
  weightMap: Map<string, string> | null,
  nonWeight: (name: string) => boolean,
  problems: string[],
): Map<string, Located> {
  const located = new Map<string, Located>();
  for (const reader of opened) {
    for (const entry of reader.header.tensors.values()) {
      if (weightMap !== null && weightMap.get(entry.name) !== reader.file) {
        const listed = weightMap.get(entry.name);
        problems.push(`tensor "${entry.name}" in ${reader.file} is ${listed ? `listed under ${listed}` : 'not listed'} in the shard index`);
      }
      const name = canonicalTensorName(entry.name);
      if (nonWeight(name)) continue;
      const prior = located.get(name);
      if (prior !== undefined) {
        problems.push(`tensor "${name}" appears twice: in ${prior.reader.file} and in ${reader.file}`);
        continue;
      }
      located.set(name, { reader, entry });
    }
  }
  for (const [name, path] of weightMap ?? []) {
    const reader = opened.find((r) => r.file === path);
    if (reader !== undefined && !reader.header.tensors.has(name)) {
      problems.push(`tensor "${name}" is listed in the shard index under ${path}, but that file does not contain it`);
    }
  }
  return located;
}

function checkAgainstConfig(config: ModelConfig, located: Map<string, Located>, files: string[], problems: string[]): void {
  const expected = expectedTensorShapes(config);
  for (const [name, shape] of expected) {
    const found = located.get(name);
    if (found === undefined) {
      problems.push(`missing tensor "${name}" (expected shape [${shape.join(', ')}]) in ${files.join(', ')}`);
      continue;
    }
    const { entry, reader } = found;
    if (!sameShape(entry.shape, shape)) {
      problems.push(`tensor "${name}" in ${reader.file} has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    try {
      supportedDType(entry, reader.file);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const extras = [...located].filter(([name]) => !expected.has(name)).map(([name, l]) => `"${name}" (${l.reader.file})`);
  if (extras.length > 0) {
    const what = isLlamaConfig(config) ? `${architectureOf(config)} with num_hidden_layers=${config.nLayer}` : `GPT-2 with n_layer=${config.nLayer}`;
    problems.push(`unexpected tensors, not part of a ${what}: ${extras.join(', ')}`);
  }
}

/** Scans every tensor for NaN/Inf as it streams past; returns tensors that read their data on access. */
function scanAll(located: Map<string, Located>, opts: LoadCheckpointOptions): Map<string, Tensor> {
  let total = 0;
  for (const { entry } of located.values()) total += entry.end - entry.start;
  const tensors = new Map<string, Tensor>();
  const nonFinite: string[] = [];
  let done = 0;
  for (const [name, { reader, entry }] of located) {
    const bad = findNonFinite(reader.read(entry.name));
    if (bad !== null) {
      const where = `tensor "${entry.name}" in ${reader.file} holds ${bad.count} non-finite value${bad.count === 1 ? '' : 's'} (NaN or ±Inf), the first at [${unflatten(bad.first, entry.shape).join(', ')}]`;
      if (!opts.allowNonFiniteWeights) {
        throw new Error(`${where}: the checkpoint is corrupt or was saved after a diverged training step. Use --allow-non-finite-weights (allowNonFiniteWeights) to load it anyway.`);
      }
      nonFinite.push(where);
    }
    tensors.set(name, lazyTensor(name, reader.file, entry));
    done += entry.end - entry.start;
    opts.onProgress?.(done, total, reader.file);
  }
  if (nonFinite.length > 0) {
    const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m, 'NonFiniteWeights'));
    warn(`loaded ${nonFinite.length} tensor${nonFinite.length === 1 ? '' : 's'} with non-finite weights; outputs may be NaN:\n${nonFinite.map((w) => `  - ${w}`).join('\n')}`);
  }
  return tensors;
}

/** A tensor whose `data` is read from `file` on every access (deliberately uncached). */
function lazyTensor(name: string, file: string, entry: TensorEntry): Tensor {
  const dtype = supportedDType(entry, file);
  return {
    name,
    dtype,
    shape: entry.shape,
    file,
    get data() {
      return readTensorData(file, entry, dtype);
    },
  };
}

/** "Most weights" counts elements, so a few f32 LayerNorm vectors don't outvote f16 matrices. */
function majorityDType(located: Map<string, Located>): DType {
  const elements = new Map<DType, number>();
  for (const { reader, entry } of located.values()) {
    const d = supportedDType(entry, reader.file);
    elements.set(d, (elements.get(d) ?? 0) + numel(entry.shape));
  }
  let dtype: DType = 'f32';
  let best = -1;
  for (const [d, n] of elements) {
    if (n > best) [dtype, best] = [d, n];
  }
  return dtype;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
