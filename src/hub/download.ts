/**
 * Downloads a model from the Hugging Face hub into the shared hub cache (see hf-cache.ts), with the
 * same endpoints and layout as `huggingface_hub`: list the files of a revision, then fetch each one
 * from `/{repo}/resolve/{sha}/{file}`. Interrupted files resume from `blobs/<etag>.incomplete`; a
 * `.lock` file beside it keeps two processes from writing the same blob.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { withFileLock } from './file-lock.js';
import { canonicalRepoId, hubCacheDir, repoCacheDir } from './hf-cache.js';

export type DownloadProgress = (e: { file: string; downloaded: number; total: number | null }) => void;

export interface DownloadOptions {
  /** Hub URL; defaults to `$HF_ENDPOINT` or https://huggingface.co. */
  endpoint?: string;
  /** Access token; defaults to `$HF_TOKEN`. */
  token?: string;
  /** Branch, tag or commit; defaults to `main`. */
  revision?: string;
  /** Hub cache directory; defaults to hubCacheDir(). */
  cacheDir?: string;
  onProgress?: DownloadProgress;
  signal?: AbortSignal;
}

/** Tokenizer and generation files fetched when the repo has them. */
const OPTIONAL_FILES = ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
const INDEX = 'model.safetensors.index.json';
/** Attempts per file; each retry resumes where the last one stopped. */
const ATTEMPTS = 4;

interface Ctx {
  endpoint: string;
  repo: string;
  headers: Record<string, string>;
  hasToken: boolean;
  signal: AbortSignal | undefined;
  onProgress: DownloadProgress | undefined;
}

/** Downloads config, tokenizer and safetensors files of `repo`; returns the snapshot directory. */
export async function downloadModel(repo: string, opts: DownloadOptions = {}): Promise<string> {
  const token = opts.token ?? (process.env.HF_TOKEN || undefined);
  const ctx: Ctx = {
    endpoint: (opts.endpoint ?? (process.env.HF_ENDPOINT || 'https://huggingface.co')).replace(/\/+$/, ''),
    repo: canonicalRepoId(repo),
    // Identity encoding keeps Content-Length equal to the bytes we write.
    headers: { 'accept-encoding': 'identity', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    hasToken: token !== undefined,
    signal: opts.signal,
    onProgress: opts.onProgress,
  };
  const revision = opts.revision ?? 'main';
  if (!/^[\w./-]+$/.test(revision) || revision.split('/').includes('..')) throw new Error(`Invalid revision "${revision}"`);
  const repoDir = repoCacheDir(opts.cacheDir ?? hubCacheDir(), ctx.repo);

  const { sha, files } = await fetchRevision(ctx, revision);
  const snapshot = join(repoDir, 'snapshots', sha);
  const fetchFile = (file: string) => {
    const url = `${ctx.endpoint}/${ctx.repo}/resolve/${sha}/${file.split('/').map(encodeURIComponent).join('/')}`;
    return fetchIntoCache(ctx, url, repoDir, join(snapshot, file), file);
  };

  if (!files.has('config.json')) throw new Error(`${ctx.repo}@${revision} has no config.json`);
  await fetchFile('config.json');
  for (const f of OPTIONAL_FILES) if (files.has(f)) await fetchFile(f);
  for (const f of await weightFiles(ctx, files, snapshot, fetchFile)) await fetchFile(f);

  // Written last, so a ref always names a complete snapshot.
  if (revision !== sha) {
    const ref = join(repoDir, 'refs', revision);
    mkdirSync(dirname(ref), { recursive: true });
    writeFileSync(ref, sha);
  }
  return snapshot;
}

async function fetchRevision(ctx: Ctx, revision: string): Promise<{ sha: string; files: Set<string> }> {
  const url = `${ctx.endpoint}/api/models/${ctx.repo}/revision/${encodeURIComponent(revision)}`;
  const res = await request(ctx, url, {});
  if (!res.ok) throw httpError(ctx, res, url, `repo ${ctx.repo} (revision "${revision}")`);
  const info = (await res.json().catch(() => ({}))) as { sha?: unknown; siblings?: { rfilename?: unknown }[] };
  if (typeof info.sha !== 'string' || !/^[\w.-]+$/.test(info.sha) || !Array.isArray(info.siblings)) {
    throw new Error(`Unexpected answer from ${url}: expected JSON with "sha" and "siblings"`);
  }
  const files = new Set(info.siblings.map((s) => s.rfilename).filter((f): f is string => typeof f === 'string'));
  return { sha: info.sha, files };
}

/** The safetensors files to fetch: the shards named by the index, or model.safetensors. */
async function weightFiles(ctx: Ctx, files: Set<string>, snapshot: string, fetchFile: (f: string) => Promise<void>): Promise<string[]> {
  if (files.has(INDEX)) {
    await fetchFile(INDEX);
    const { weight_map: map } = JSON.parse(await readText(join(snapshot, INDEX))) as { weight_map?: Record<string, string> };
    const shards = [...new Set(Object.values(map ?? {}))];
    const bad = shards.filter((s) => typeof s !== 'string' || s.includes('..') || !files.has(s));
    if (shards.length === 0 || bad.length > 0) throw new Error(`${ctx.repo}: ${INDEX} names shards that the repo lacks: ${bad.join(', ')}`);
    return shards;
  }
  if (files.has('model.safetensors')) return ['model.safetensors'];
  const weights = [...files].filter((f) => /\.(bin|h5|msgpack|pt|pth|ckpt)$/.test(f));
  throw new Error(
    `${ctx.repo} has no safetensors weights (it has: ${weights.join(', ') || 'no weight files'}). ` +
      'tinyvllm reads only safetensors: convert the weights (see the safetensors convert script) and pass the local directory.',
  );
}

/** Fetches one file into blobs/ (resuming a partial download) and links it from the snapshot. */
async function fetchIntoCache(ctx: Ctx, url: string, repoDir: string, link: string, file: string): Promise<void> {
  if (existsSync(link)) return;
  // A HEAD without following redirects gives the blob's identity and size, as huggingface_hub does.
  const head = await request(ctx, url, { method: 'HEAD', redirect: 'manual' });
  if (head.status >= 400) throw httpError(ctx, head, url, `file ${file} of ${ctx.repo}`);
  const etag = (head.headers.get('x-linked-etag') ?? head.headers.get('etag'))?.replace(/^W\//, '').replace(/"/g, '') || null;
  const sizeHeader = head.headers.get('x-linked-size') ?? (head.status < 300 ? head.headers.get('content-length') : null);
  const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;

  const blobs = join(repoDir, 'blobs');
  mkdirSync(blobs, { recursive: true });
  const id = etag && /^[\w.-]+$/.test(etag) ? etag : null;
  const partial = join(blobs, `${id ?? createHash('sha256').update(url).digest('hex')}.incomplete`);
  // Another process may be fetching the same blob into the same cache: one writer at a time.
  await withFileLock(`${partial}.lock`, async () => {
    if (existsSync(link)) return;
    let blob = id ? join(blobs, id) : null;
    if (blob === null || !existsSync(blob)) {
      await downloadWithRetries(ctx, url, partial, size, file);
      // Without an ETag, name the blob by its sha256, as the cache does for LFS files.
      blob ??= join(blobs, await sha256File(partial));
      renameSync(partial, blob);
    }
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true }); // a dangling link from an interrupted run
    symlinkSync(relative(dirname(link), blob), link);
  }, { signal: ctx.signal });
}

async function downloadWithRetries(ctx: Ctx, url: string, partial: string, size: number | null, file: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await downloadOnce(ctx, url, partial, size, file);
    } catch (e) {
      // HTTP errors and aborts are final; dropped connections and short bodies are worth a retry.
      if (e instanceof HttpError || ctx.signal?.aborted) throw e;
      if (attempt === ATTEMPTS) {
        const have = existsSync(partial) ? statSync(partial).size : 0;
        throw new Error(`Downloading ${file} from ${url} failed after ${ATTEMPTS} attempts (${have} bytes kept; run again to resume): ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 200 * 2 ** (attempt - 1)));
    }
  }
}

async function downloadOnce(ctx: Ctx, url: string, partial: string, size: number | null, file: string): Promise<void> {
  let have = existsSync(partial) ? statSync(partial).size : 0;
  if (size !== null && have > size) have = 0;
  if (size !== null && have === size) return;
  const res = await request(ctx, url, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
  // 206 continues the partial file; a 200 means the server ignored the range, so start over.
  const range = res.status === 206 ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '') : null;
  if (res.status === 206 && (range === null || Number(range[1]) !== have)) {
    rmSync(partial, { force: true });
    throw new Error(`server answered range ${have}- with Content-Range "${res.headers.get('content-range')}"`);
  }
  if (res.status === 416) {
    rmSync(partial, { force: true });
    throw new Error(`server rejected range ${have}- (HTTP 416)`);
  }
  if (res.status !== 206 && res.status !== 200) throw httpError(ctx, res, url, `file ${file} of ${ctx.repo}`);
  if (res.status === 200) have = 0;
  const length = res.headers.get('content-length');
  const total = size ?? (range && range[2] !== '*' ? Number(range[2]) : length !== null ? have + Number(length) : null);

  const fh = await open(partial, have > 0 ? 'a' : 'w');
  let downloaded = have;
  try {
    ctx.onProgress?.({ file, downloaded, total });
    for await (const chunk of res.body ?? []) {
      await fh.write(chunk);
      downloaded += chunk.length;
      ctx.onProgress?.({ file, downloaded, total });
    }
  } finally {
    await fh.close();
  }
  if (total !== null && downloaded !== total) throw new Error(`received ${downloaded} bytes, expected ${total}`);
}

class HttpError extends Error {}

function httpError(ctx: Ctx, res: Response, url: string, what: string): HttpError {
  const s = res.status;
  if (s === 401 || s === 403) {
    const hint = ctx.hasToken
      ? 'the token in HF_TOKEN was rejected or has no access to it'
      : 'if it is private or gated, set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)';
    // The hub answers 401 for repos that do not exist too, so both causes are named.
    return new HttpError(`Access denied (HTTP ${s}) to ${what} at ${url}: ${hint}; or the repo does not exist`);
  }
  if (s === 404) return new HttpError(`Not found (HTTP 404): ${what} at ${url}; check the model name and revision`);
  return new HttpError(`HTTP ${s} ${res.statusText} from ${url} while fetching ${what}`);
}

async function request(ctx: Ctx, url: string, init: { method?: string; redirect?: 'follow' | 'manual'; headers?: Record<string, string> }): Promise<Response> {
  try {
    return await fetch(url, { ...init, headers: { ...ctx.headers, ...init.headers }, signal: ctx.signal });
  } catch (e) {
    if (ctx.signal?.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `Network error reaching ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}. ` +
        'Check the connection or HF_ENDPOINT; with the model already cached, HF_HUB_OFFLINE=1 skips the network.',
    );
  }
}

async function readText(file: string): Promise<string> {
  const fh = await open(file);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
