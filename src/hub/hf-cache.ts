/**
 * The Hugging Face hub cache layout, shared with `huggingface_hub` so models downloaded by either
 * tool are found by both:
 *
 *   <cache>/models--ORG--NAME/blobs/<etag>              file contents, named by ETag (sha256 for LFS files)
 *   <cache>/models--ORG--NAME/snapshots/<sha>/<file>    relative symlinks into blobs/
 *   <cache>/models--ORG--NAME/refs/main                 the commit sha that `main` pointed to
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Short names of the GPT-2 family, as the hub redirects them. */
export const MODEL_ALIASES: Readonly<Record<string, string>> = {
  gpt2: 'openai-community/gpt2',
  'gpt2-medium': 'openai-community/gpt2-medium',
  'gpt2-large': 'openai-community/gpt2-large',
  'gpt2-xl': 'openai-community/gpt2-xl',
  distilgpt2: 'distilbert/distilgpt2',
};

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/** The hub repo id for a model name: an alias expanded, `org/name` as is. */
export function canonicalRepoId(name: string): string {
  const repo = MODEL_ALIASES[name] ?? name;
  if (!REPO_ID.test(repo) || repo.includes('..') || repo.includes('--')) {
    throw new Error(`Invalid model name "${name}": expected a hub id such as "gpt2" or "org/name", or an existing directory`);
  }
  return repo;
}

/** `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub` or `~/.cache/huggingface/hub`. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface', 'hub');
}

/** `models--ORG--NAME` under the cache. */
export function repoCacheDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, `models--${repoId.split('/').join('--')}`);
}

/** True when a snapshot has what loading needs: the config and all safetensors weights. */
export function isCompleteSnapshot(dir: string): boolean {
  if (!existsSync(join(dir, 'config.json'))) return false;
  if (existsSync(join(dir, 'model.safetensors'))) return true;
  const index = join(dir, 'model.safetensors.index.json');
  if (!existsSync(index)) return false;
  // An interrupted download can leave the index without all of its shards.
  try {
    const { weight_map: map } = JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> };
    return Object.values(map).every((shard) => existsSync(join(dir, shard)));
  } catch {
    return true; // let the loader report the broken index
  }
}

/**
 * The snapshot directory `refs/<revision>` points to, or the only snapshot when no ref was written
 * (a cache populated by hand or by an older tool); null when nothing usable is cached.
 */
export function findCachedSnapshot(cacheDir: string, repoId: string, revision = 'main'): string | null {
  const repoDir = repoCacheDir(cacheDir, repoId);
  const snapshots = join(repoDir, 'snapshots');
  if (!existsSync(snapshots)) return null;
  const ref = join(repoDir, 'refs', revision);
  let dir: string | null = null;
  if (existsSync(ref)) {
    dir = join(snapshots, readFileSync(ref, 'utf8').trim());
  } else if (existsSync(join(snapshots, revision))) {
    dir = join(snapshots, revision);
  } else {
    const all = readdirSync(snapshots);
    if (all.length === 1) dir = join(snapshots, all[0]!);
  }
  return dir !== null && isCompleteSnapshot(dir) ? dir : null;
}

/** huggingface_hub's reading of boolean environment variables. */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'yes', 'true'].includes(value.trim().toLowerCase());
}
