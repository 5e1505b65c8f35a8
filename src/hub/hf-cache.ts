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
import { join, resolve, sep } from 'node:path';

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

/** `~` and `$VAR` / `${VAR}` expanded as Python's expanduser + expandvars do (unknown variables stay). */
export function expandPath(p: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
  return home.replace(/\$(\w+)|\$\{(\w+)\}/g, (m, a: string | undefined, b: string | undefined) => env[(a ?? b)!] ?? m);
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  return expandPath(env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface'), env);
}

/** `$HF_HUB_CACHE`, else the legacy `$HUGGINGFACE_HUB_CACHE`, else `<HF_HOME>/hub` (as huggingface_hub). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return expandPath(env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(hfHome(env), 'hub'), env);
}

/** Offline when `HF_HUB_OFFLINE` (or, if that is unset, the legacy `TRANSFORMERS_OFFLINE`) is true. */
export function hubOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return envFlag(env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE);
}

/** `models--ORG--NAME` under the cache. */
export function repoCacheDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, `models--${repoId.split('/').join('--')}`);
}

/**
 * `base` joined with `parts`, refusing any result outside `base`: names that reach the file system
 * (ETags, commits, revisions, file names) come from the network or from files on disk.
 */
export function within(base: string, ...parts: string[]): string {
  const root = resolve(base);
  const path = resolve(root, ...parts);
  if (!path.startsWith(root + sep)) throw new Error(`Refusing a path outside ${root}: ${JSON.stringify(parts.join('/'))}`);
  return path;
}

/**
 * What a snapshot lacks for loading: config.json, the safetensors weights (all shards of an index)
 * and a tokenizer (tokenizer.json, or vocab.json + merges.txt). Empty when complete.
 */
export function missingFromSnapshot(dir: string): string[] {
  const missing: string[] = [];
  const has = (f: string) => existsSync(join(dir, f));
  if (!has('config.json')) missing.push('config.json');
  if (!has('model.safetensors')) {
    if (!has('model.safetensors.index.json')) missing.push('model.safetensors');
    else {
      // An interrupted download can leave the index without all of its shards.
      try {
        const { weight_map: map } = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
        for (const shard of new Set(Object.values(map))) if (typeof shard === 'string' && !has(shard)) missing.push(shard);
      } catch {
        // the loader reports a broken index, naming it
      }
    }
  }
  if (!has('tokenizer.json') && !(has('vocab.json') && has('merges.txt'))) {
    missing.push(has('vocab.json') ? 'merges.txt' : has('merges.txt') ? 'vocab.json' : 'tokenizer.json (or vocab.json + merges.txt)');
  }
  return missing;
}

export interface CachedSnapshot {
  readonly dir: string;
  /** What loading needs that it lacks; empty when complete. */
  readonly missing: string[];
}

/**
 * The snapshot directory `refs/<revision>` points to, or the only snapshot when no ref was written
 * (a cache populated by hand or by an older tool); null when nothing is cached.
 */
export function findCachedSnapshot(cacheDir: string, repoId: string, revision = 'main'): CachedSnapshot | null {
  const repoDir = repoCacheDir(cacheDir, repoId);
  const snapshots = join(repoDir, 'snapshots');
  if (!existsSync(snapshots)) return null;
  const ref = within(join(repoDir, 'refs'), revision);
  let dir: string | null = null;
  if (existsSync(ref)) {
    const sha = readFileSync(ref, 'utf8').trim();
    if (!/^[\w-][\w.-]*$/.test(sha) || sha.includes('..')) throw new Error(`${ref}: expected a commit hash, got ${JSON.stringify(sha.slice(0, 80))}`);
    dir = join(snapshots, sha);
  } else if (existsSync(join(snapshots, revision))) {
    dir = within(snapshots, revision);
  } else {
    const all = readdirSync(snapshots);
    if (all.length === 1) dir = join(snapshots, all[0]!);
  }
  return dir !== null && existsSync(dir) ? { dir, missing: missingFromSnapshot(dir) } : null;
}

/** huggingface_hub's reading of boolean environment variables. */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'yes', 'true'].includes(value.trim().toLowerCase());
}
