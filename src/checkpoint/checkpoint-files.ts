/** Which files make up a checkpoint directory: config.json, and one safetensors file or an index of shards. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { type ModelConfig, parseConfig } from '../model/config.js';

/** Reads and validates `<root>/config.json`. */
export function readConfig(root: string): ModelConfig {
  const file = join(root, 'config.json');
  if (!existsSync(file)) throw new Error(`${file} not found: a checkpoint directory needs config.json next to its weights`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  return parseConfig(json, file);
}

export interface WeightFiles {
  files: string[];
  /** From model.safetensors.index.json: tensor name -> shard path. */
  weightMap: Map<string, string> | null;
}

/** The safetensors files in `root`; otherwise an error saying what is there instead and what to do. */
export function findWeightFiles(root: string): WeightFiles {
  const indexFile = join(root, 'model.safetensors.index.json');
  if (existsSync(indexFile)) return readIndex(root, indexFile);
  const single = join(root, 'model.safetensors');
  if (existsSync(single)) return { files: [single], weightMap: null };

  const present = readdirSync(root);
  const torch = present.filter((f) => f.endsWith('.bin') || f.endsWith('.pt') || f.endsWith('.pth'));
  if (torch.length > 0) {
    throw new Error(
      `${root} has only PyTorch weights (${torch.join(', ')}); tinyvllm reads safetensors. ` +
        'Download the safetensors files with `tinyvllm download <org/name>`, or convert locally, e.g. ' +
        `python -c "from transformers import AutoModelForCausalLM as M; M.from_pretrained('${root}').save_pretrained('${root}')" ` +
        "(or with the safetensors project's convert.py script).",
    );
  }
  const shards = present.filter((f) => f.endsWith('.safetensors'));
  if (shards.length > 0) {
    throw new Error(`${root}: found ${shards.join(', ')} but neither model.safetensors nor model.safetensors.index.json`);
  }
  throw new Error(`${root}: no model weights found (expected model.safetensors or model.safetensors.index.json)`);
}

function readIndex(root: string, indexFile: string): WeightFiles {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new Error(`${indexFile}: invalid JSON: ${(e as Error).message}`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new Error(`${indexFile}: field "weight_map" must be an object mapping tensor names to files`);
  }
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    const path = typeof shard === 'string' ? resolve(root, shard) : '';
    // The index may only point at files inside the checkpoint directory.
    if (!path.startsWith(root + sep)) {
      throw new Error(`${indexFile}: weight_map entry for tensor "${name}" is not a file in ${root}: ${JSON.stringify(shard)}`);
    }
    if (!existsSync(path)) throw new Error(`${indexFile}: shard ${path} (holding tensor "${name}") does not exist`);
    weightMap.set(name, path);
  }
  if (weightMap.size === 0) throw new Error(`${indexFile}: weight_map is empty`);
  return { files: [...new Set(weightMap.values())], weightMap };
}
