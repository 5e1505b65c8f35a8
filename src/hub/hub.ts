/**
 * Model name resolution: a directory is used as is; a built-in name (`kjv-mini`) is the package's
 * own copy; a hub name is looked up in the Hugging Face cache and downloaded on first use unless offline.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { builtinModelDir } from './builtin.js';
import { type DownloadProgress, downloadModel } from './download.js';
import { type CachedSnapshot, canonicalRepoId, findCachedSnapshot, hubCacheDir, hubOffline, repoCacheDir } from './hf-cache.js';

export { type DownloadOptions, type DownloadProgress, downloadModel } from './download.js';
export { MODEL_ALIASES, canonicalRepoId as hubRepoId, hubCacheDir, hubOffline } from './hf-cache.js';
export { hubToken } from './token.js';

export interface ResolveModelOptions {
  /** Never touch the network; defaults to `$HF_HUB_OFFLINE` (or `$TRANSFORMERS_OFFLINE`). */
  offline?: boolean;
  /** Download a missing model (default true). */
  download?: boolean;
  onProgress?: DownloadProgress;
}

/**
 * Returns the directory holding `nameOrPath`'s config.json, weights and tokenizer. A cached snapshot
 * that lacks some of them (e.g. one Python filled with only the model) is completed from the hub.
 */
export async function resolveModel(nameOrPath: string, opts: ResolveModelOptions = {}): Promise<string> {
  if (existsSync(nameOrPath)) return resolve(nameOrPath);
  if (looksLikePath(nameOrPath)) throw new Error(`Model directory not found: ${resolve(nameOrPath)}`);
  const builtin = builtinModelDir(nameOrPath);
  if (builtin !== null) return builtin;

  const repo = canonicalRepoId(nameOrPath);
  const cacheDir = hubCacheDir();
  let partial: CachedSnapshot | null = null;
  // Older caches (and huggingface_hub before the org move) store `gpt2` under models--gpt2.
  for (const id of new Set([repo, nameOrPath])) {
    const snapshot = findCachedSnapshot(cacheDir, id);
    if (snapshot !== null && snapshot.missing.length === 0) return snapshot.dir;
    partial ??= snapshot;
  }

  const offline = opts.offline ?? hubOffline();
  if (offline || opts.download === false) {
    const why = offline ? 'offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE) forbids' : 'downloading is disabled for';
    const fix = `Run \`tinyvllm download ${nameOrPath}\` with network access (HF_HUB_OFFLINE unset)`;
    if (partial !== null) {
      throw new Error(`Model "${nameOrPath}" is cached in ${partial.dir} without ${partial.missing.join(', ')}, and ${why} fetching ${partial.missing.length === 1 ? 'it' : 'them'}. ${fix} to complete it, or pass a checkpoint directory.`);
    }
    throw new Error(
      `Model "${nameOrPath}" is not a directory and ${repo} is not in the Hugging Face cache ` +
        `(${repoCacheDir(cacheDir, repo)}), and ${why} fetching it. ${fix}, or pass a checkpoint directory.`,
    );
  }
  try {
    return await downloadModel(repo, { cacheDir, onProgress: opts.onProgress });
  } catch (e) {
    if (!nameOrPath.includes('/')) throw e;
    // `org/name` might have been meant as a relative path.
    throw new Error(`${(e as Error).message} (no local directory "${nameOrPath}" exists either)`, { cause: e });
  }
}

function looksLikePath(s: string): boolean {
  return isAbsolute(s) || s.startsWith('.') || s.startsWith('~') || s.includes('\\') || s.split('/').length > 2;
}
