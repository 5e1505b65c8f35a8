/**
 * Downloads a model from the Hugging Face hub into the shared hub cache (see hf-cache.ts), with the
 * same endpoints and layout as `huggingface_hub`: list the files of a revision, then fetch each one
 * from `/{repo}/resolve/{sha}/{file}`. Files already in the snapshot are kept, so a cache that
 * another tool filled in part is completed. Interrupted files resume from `blobs/<etag>.incomplete`;
 * a `.lock` file beside it keeps two processes from writing the same blob.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { withFileLock } from './file-lock.js';
import { canonicalRepoId, hubCacheDir, repoCacheDir, within } from './hf-cache.js';
import { type HubClient, HttpError, type RetryOptions, backoffMs, headFile, httpError, request, retryOptions, sleep } from './http.js';
import { hubToken } from './token.js';

export type DownloadProgress = (e: { file: string; downloaded: number; total: number | null }) => void;

export interface DownloadOptions {
  /** Hub URL; defaults to `$HF_ENDPOINT` or https://huggingface.co. */
  endpoint?: string;
  /** Access token; defaults to `$HF_TOKEN`, `$HUGGING_FACE_HUB_TOKEN`, then the token file (see token.ts). */
  token?: string;
  /** Branch, tag or commit; defaults to `main`. */
  revision?: string;
  /** Hub cache directory; defaults to hubCacheDir(). */
  cacheDir?: string;
  /** Retries of 429 / 5xx answers, network errors and dropped transfers. */
  retry?: RetryOptions;
  onProgress?: DownloadProgress;
  signal?: AbortSignal;
}

/** Tokenizer and generation files fetched when the repo has them. */
const OPTIONAL_FILES = ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
const INDEX = 'model.safetensors.index.json';
/** Blob names and commits have the shapes the hub gives them: a git sha1 or an LFS sha256, in hex. */
const ETAG = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const COMMIT = /^[0-9a-f]{40}$/;

interface Ctx extends HubClient {
  endpoint: string;
  onProgress: DownloadProgress | undefined;
}

/** Downloads config, tokenizer and safetensors files of `repo`; returns the snapshot directory. */
export async function downloadModel(repo: string, opts: DownloadOptions = {}): Promise<string> {
  const found = opts.token !== undefined ? { token: opts.token, source: 'the token option' } : hubToken();
  const ctx: Ctx = {
    endpoint: (opts.endpoint ?? (process.env.HF_ENDPOINT || 'https://huggingface.co')).replace(/\/+$/, ''),
    repo: canonicalRepoId(repo),
    // Identity encoding keeps Content-Length equal to the bytes we write.
    headers: { 'accept-encoding': 'identity', ...(found ? { authorization: `Bearer ${found.token}` } : {}) },
    tokenSource: found?.source ?? null,
    retry: retryOptions(opts.retry),
    signal: opts.signal,
    onProgress: opts.onProgress,
  };
  const revision = checkRevision(opts.revision ?? 'main');
  const repoDir = repoCacheDir(opts.cacheDir ?? hubCacheDir(), ctx.repo);

  const { sha, files } = await fetchRevision(ctx, revision);
  const snapshot = within(join(repoDir, 'snapshots'), sha);
  const fetchFile = (file: string) => {
    const url = `${ctx.endpoint}/${ctx.repo}/resolve/${sha}/${file.split('/').map(encodeURIComponent).join('/')}`;
    return fetchIntoCache(ctx, url, repoDir, within(snapshot, file), file);
  };

  if (!files.has('config.json')) throw new Error(`${ctx.repo}@${revision} has no config.json`);
  await fetchFile('config.json');
  for (const f of OPTIONAL_FILES) if (files.has(f)) await fetchFile(f);
  for (const f of await weightFiles(ctx, files, snapshot, fetchFile)) await fetchFile(f);

  // Written last, so a ref always names a complete snapshot.
  if (revision !== sha) {
    const ref = within(join(repoDir, 'refs'), revision);
    mkdirSync(dirname(ref), { recursive: true });
    writeFileSync(ref, sha);
  }
  return snapshot;
}

/**
 * A branch, tag or commit as git allows them, e.g. `main`, `v1.0`, `refs/pr/1`: slash-separated
 * names of word characters, dots and dashes, none empty, none starting with a dot, no `..`.
 */
export function checkRevision(revision: string): string {
  const ok = revision.length <= 256 && !revision.includes('..') && revision.split('/').every((s) => /^[\w-][\w.-]*$/.test(s) && !s.endsWith('.lock'));
  if (!ok) throw new Error(`Invalid revision ${JSON.stringify(revision)}: expected a branch, tag or commit such as "main", "v1.0" or "refs/pr/1"`);
  return revision;
}

async function fetchRevision(ctx: Ctx, revision: string): Promise<{ sha: string; files: Set<string> }> {
  const url = `${ctx.endpoint}/api/models/${ctx.repo}/revision/${encodeURIComponent(revision)}`;
  const res = await request(ctx, url);
  if (!res.ok) throw httpError(ctx, res, url, `repo ${ctx.repo} (revision "${revision}")`);
  const info = (await res.json().catch(() => ({}))) as { sha?: unknown; siblings?: { rfilename?: unknown }[] };
  if (!Array.isArray(info.siblings)) throw new Error(`Unexpected answer from ${url}: expected JSON with "sha" and "siblings"`);
  if (typeof info.sha !== 'string' || !COMMIT.test(info.sha)) {
    throw new Error(`Unexpected answer from ${url}: "sha" must be a 40-digit hex commit hash, got ${JSON.stringify(info.sha)}`);
  }
  const files = new Set(info.siblings.map((s) => s?.rfilename).filter((f): f is string => typeof f === 'string'));
  return { sha: info.sha, files };
}

/** The safetensors files to fetch: the shards named by the index, or model.safetensors. */
async function weightFiles(ctx: Ctx, files: Set<string>, snapshot: string, fetchFile: (f: string) => Promise<void>): Promise<string[]> {
  if (files.has(INDEX)) {
    await fetchFile(INDEX);
    const file = join(snapshot, INDEX);
    let json: unknown;
    try {
      json = JSON.parse(await readText(file));
    } catch (e) {
      throw new Error(`${file} (${INDEX} of ${ctx.repo}): invalid JSON: ${(e as Error).message}`);
    }
    const map = (json as { weight_map?: unknown } | null)?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new Error(`${file} (${INDEX} of ${ctx.repo}): field "weight_map" must be an object mapping tensor names to files`);
    }
    const shards = [...new Set(Object.values(map as Record<string, unknown>))];
    const bad = shards.filter((s) => typeof s !== 'string' || !files.has(s));
    if (shards.length === 0 || bad.length > 0) {
      throw new Error(`${file} (${INDEX} of ${ctx.repo}) names shards that the repo lacks: ${bad.map((b) => JSON.stringify(b)).join(', ') || 'none listed'}`);
    }
    return shards as string[];
  }
  if (files.has('model.safetensors')) return ['model.safetensors'];
  const weights = [...files].filter((f) => /\.(bin|h5|msgpack|pt|pth|ckpt)$/.test(f));
  throw new Error(
    `${ctx.repo} has no safetensors weights (it has: ${weights.join(', ') || 'no weight files'}). ` +
      'tinyvllm reads only safetensors: convert the weights (see the safetensors convert script) and pass the local directory.',
  );
}

/** huggingface_hub's reading of an ETag: `W/` and quotes dropped. */
function normalizeEtag(v: string | null): string | null {
  return v === null ? null : v.replace(/^W\//, '').replace(/^"|"$/g, '') || null;
}

/** Fetches one file into blobs/ (resuming a partial download) and links it from the snapshot. */
async function fetchIntoCache(ctx: Ctx, url: string, repoDir: string, link: string, file: string): Promise<void> {
  if (existsSync(link)) return;
  // The blob's identity and size, as huggingface_hub reads them (see headFile).
  const head = await headFile(ctx, url);
  if (head.res.status >= 400) throw httpError(ctx, head.res, head.url, `file ${file} of ${ctx.repo}`);
  const h = head.res.headers;
  const etag = normalizeEtag(h.get('x-linked-etag') ?? h.get('etag'));
  if (etag !== null && !ETAG.test(etag)) {
    throw new Error(`Unexpected ETag ${JSON.stringify(etag.slice(0, 80))} for ${file} from ${head.url}: the hub names files by a 40- or 64-digit hex hash`);
  }
  const sizeHeader = h.get('x-linked-size') ?? (head.res.status < 300 ? h.get('content-length') : null);
  const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;

  const blobs = join(repoDir, 'blobs');
  mkdirSync(blobs, { recursive: true });
  const partial = within(blobs, `${etag ?? createHash('sha256').update(url).digest('hex')}.incomplete`);
  // Another process may be fetching the same blob into the same cache: one writer at a time.
  await withFileLock(`${partial}.lock`, async () => {
    if (existsSync(link)) return;
    let blob = etag ? within(blobs, etag) : null;
    if (blob === null || !existsSync(blob)) {
      await downloadWithRetries(ctx, head.url, partial, size, file);
      // Without an ETag, name the blob by its sha256, as the cache does for LFS files.
      blob ??= within(blobs, await sha256File(partial));
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
      if (attempt >= ctx.retry.attempts) {
        const have = existsSync(partial) ? statSync(partial).size : 0;
        throw new Error(`Downloading ${file} from ${url} failed after ${attempt} attempts (${have} bytes kept; run again to resume): ${(e as Error).message}`);
      }
      await sleep(backoffMs(ctx.retry, attempt), ctx.signal);
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
