/**
 * Downloads against a fake hub served by the test on 127.0.0.1. It implements the two endpoints the
 * real hub offers (revision listing and `resolve`), LFS-style redirects to a CDN route with
 * X-Linked-Etag / X-Linked-Size, ETags, Range requests, and a route that dies half-way once.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { downloadModel, hubCacheDir, resolveModel } from '../../src/hub/hub.js';
import { encodeSafetensors, tinyConfigJson, tinyGpt2Tensors } from '../helpers/safetensors-writer.js';

interface HubFile {
  body: Buffer;
  /** Served via a redirect to /cdn/<sha256>, like LFS files on the real hub. */
  lfs: boolean;
  /** The next this-many GETs send half of what was asked for, then drop the connection. */
  failTimes?: number;
}

interface HubRepo {
  sha: string;
  files: Map<string, HubFile>;
  /** Requires this bearer token. */
  token?: string;
}

interface Seen {
  method: string;
  url: string;
  range: string | undefined;
  authorization: string | undefined;
}

const sha1 = (b: Buffer | string) => createHash('sha1').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function tinyRepo(name: string, opts: { shards?: number; failOnce?: string; token?: string } = {}): HubRepo {
  const files = new Map<string, HubFile>();
  files.set('config.json', { body: Buffer.from(JSON.stringify(tinyConfigJson())), lfs: false });
  files.set('vocab.json', { body: Buffer.from('{"a": 0}'), lfs: false });
  files.set('merges.txt', { body: Buffer.from('#version: 0.2\n'), lfs: false });
  files.set('README.md', { body: Buffer.from('# not fetched'), lfs: false });
  files.set('pytorch_model.bin', { body: Buffer.alloc(64, 7), lfs: true });
  const tensors = tinyGpt2Tensors();
  const shards = opts.shards ?? 1;
  if (shards === 1) {
    files.set('model.safetensors', { body: Buffer.from(encodeSafetensors(tensors)), lfs: true });
  } else {
    const weightMap: Record<string, string> = {};
    const per = Math.ceil(tensors.length / shards);
    for (let s = 0; s < shards; s++) {
      const file = `model-0000${s + 1}-of-0000${shards}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const t of part) weightMap[t.name] = file;
      files.set(file, { body: Buffer.from(encodeSafetensors(part)), lfs: true });
    }
    files.set('model.safetensors.index.json', { body: Buffer.from(JSON.stringify({ weight_map: weightMap })), lfs: false });
  }
  if (opts.failOnce) files.get(opts.failOnce)!.failTimes = 1;
  return { sha: sha1(name), files, token: opts.token };
}

let server: Server;
let endpoint: string;
let seen: Seen[] = [];
const repos = new Map<string, HubRepo>();

/** Serves `body`, honouring `Range: bytes=N-` when `ranges` is set. */
function sendBody(req: IncomingMessage, res: ServerResponse, file: HubFile, etag: string, ranges: boolean): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = ranges && m ? Number(m[1]) : 0;
  const len = file.body.length;
  const headers: Record<string, string | number> = { etag: `"${etag}"`, 'content-length': len - start };
  if (ranges && m) {
    if (start >= len) return void res.writeHead(416, { 'content-range': `bytes */${len}` }).end();
    headers['content-range'] = `bytes ${start}-${len - 1}/${len}`;
  }
  res.writeHead(m && ranges ? 206 : 200, headers);
  if (req.method === 'HEAD') return void res.end();
  const body = file.body.subarray(start);
  if (file.failTimes) {
    file.failTimes--;
    // Close after the half body: the client sees a body shorter than Content-Length. The pause lets
    // the client consume the half first (an errored stream drops chunks it has not read yet).
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 100));
    return;
  }
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  seen.push({ method: req.method ?? '', url, range: req.headers.range, authorization: req.headers.authorization });
  const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url);
  const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
  const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
  const repo = repos.get((api ?? resolve)?.[1] ?? '');
  if ((api || resolve) && repo === undefined) return void res.writeHead(404).end('Repository not found');
  if (repo?.token && req.headers.authorization !== `Bearer ${repo.token}`) return void res.writeHead(401).end('Invalid credentials');

  if (api && repo) {
    const body = JSON.stringify({ id: api[1], sha: repo.sha, siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) });
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  }
  if (resolve && repo) {
    const file = repo.files.get(decodeURIComponent(resolve[3]!));
    if (resolve[2] !== repo.sha || file === undefined) return void res.writeHead(404).end('Entry not found');
    if (!file.lfs) return sendBody(req, res, file, sha1(file.body), false);
    const digest = sha256(file.body);
    return void res
      .writeHead(302, { location: `/cdn/${digest}`, 'x-linked-etag': `"${digest}"`, 'x-linked-size': file.body.length, etag: '"redirect"' })
      .end();
  }
  if (cdn) {
    for (const r of repos.values()) {
      for (const file of r.files.values()) if (sha256(file.body) === cdn[1]) return sendBody(req, res, file, cdn[1]!, true);
    }
  }
  res.writeHead(404).end();
}

const ENV = ['HF_HUB_CACHE', 'HF_HOME', 'HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_OFFLINE', 'XDG_CACHE_HOME'] as const;
let savedEnv: Record<string, string | undefined>;
let tmp: string;
let cache: string;

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  savedEnv = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  for (const k of ENV) delete process.env[k];
  tmp = mkdtempSync(join(tmpdir(), 'tinyvllm-hub-'));
  cache = join(tmp, 'hub');
  process.env.HF_HUB_CACHE = cache;
  process.env.HF_ENDPOINT = endpoint;
  seen = [];
  repos.clear();
});
afterEach(() => {
  for (const k of ENV) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  rmSync(tmp, { recursive: true, force: true });
});

function expectLinked(snapshot: string, file: string, body: Buffer, blobName: string): void {
  const link = join(snapshot, file);
  expect(lstatSync(link).isSymbolicLink(), file).toBe(true);
  expect(readlinkSync(link)).toBe(`../../blobs/${blobName}`);
  expect(readFileSync(link).equals(body), file).toBe(true);
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('downloadModel', () => {
  it('fills the hub cache layout and resolveModel then finds it offline', async () => {
    const repo = tinyRepo('test-org/tiny');
    repos.set('test-org/tiny', repo);
    const events: { file: string; downloaded: number; total: number | null }[] = [];
    const snapshot = await downloadModel('test-org/tiny', { onProgress: (e) => events.push(e) });

    const repoDir = join(cache, 'models--test-org--tiny');
    expect(snapshot).toBe(join(repoDir, 'snapshots', repo.sha));
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(repo.sha);
    const f = (n: string) => repo.files.get(n)!.body;
    expectLinked(snapshot, 'config.json', f('config.json'), sha1(f('config.json')));
    expectLinked(snapshot, 'vocab.json', f('vocab.json'), sha1(f('vocab.json')));
    expectLinked(snapshot, 'merges.txt', f('merges.txt'), sha1(f('merges.txt')));
    expectLinked(snapshot, 'model.safetensors', f('model.safetensors'), sha256(f('model.safetensors')));
    // Only what inference needs is fetched, and nothing is left half-written.
    expect(readdirSync(snapshot).sort()).toEqual(['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
    expect(readdirSync(join(repoDir, 'blobs')).filter((b) => b.endsWith('.incomplete'))).toEqual([]);

    const weights = events.filter((e) => e.file === 'model.safetensors');
    expect(weights.at(-1)).toEqual({ file: 'model.safetensors', downloaded: f('model.safetensors').length, total: f('model.safetensors').length });
    expect(weights.every((e, i) => i === 0 || e.downloaded >= weights[i - 1]!.downloaded)).toBe(true);

    process.env.HF_HUB_OFFLINE = '1';
    seen = [];
    expect(await resolveModel('test-org/tiny')).toBe(snapshot);
    expect(seen).toEqual([]);
    expect(loadCheckpoint(snapshot).tensors.size).toBe(4 + 12 * 2);

    // Downloading a cached snapshot again only lists the revision; a named revision gets its own ref.
    delete process.env.HF_HUB_OFFLINE;
    seen = [];
    expect(await downloadModel('test-org/tiny', { revision: 'v1.0' })).toBe(snapshot);
    expect(seen.map((s) => s.url)).toEqual([`/api/models/test-org/tiny/revision/v1.0`]);
    expect(readFileSync(join(repoDir, 'refs', 'v1.0'), 'utf8')).toBe(repo.sha);
  });

  it('resumes a connection dropped half-way and the result is byte-identical', async () => {
    const repo = tinyRepo('test-org/sharded', { shards: 2, failOnce: 'model-00002-of-00002.safetensors' });
    repos.set('test-org/sharded', repo);
    const snapshot = await downloadModel('test-org/sharded', {});

    const shard = repo.files.get('model-00002-of-00002.safetensors')!.body;
    const cdnGets = seen.filter((s) => s.method === 'GET' && s.url === `/cdn/${sha256(shard)}`);
    const half = Math.floor(shard.length / 2);
    expect(cdnGets.map((s) => s.range)).toEqual([undefined, `bytes=${half}-`]);
    expectLinked(snapshot, 'model-00002-of-00002.safetensors', shard, sha256(shard));
    expect(readdirSync(snapshot)).toContain('model.safetensors.index.json');

    const single = join(tmp, 'single');
    mkdirSync(single);
    writeFileSync(join(single, 'config.json'), repo.files.get('config.json')!.body);
    writeFileSync(join(single, 'model.safetensors'), encodeSafetensors(tinyGpt2Tensors()));
    const a = loadCheckpoint(single);
    const b = loadCheckpoint(snapshot);
    for (const [name, t] of a.tensors) expect(Array.from(b.tensors.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('lets two concurrent downloads of one repo share the cache: each blob is fetched once, whole', async () => {
    const repo = tinyRepo('test-org/tiny');
    repos.set('test-org/tiny', repo);
    const [a, b] = await Promise.all([downloadModel('test-org/tiny', {}), downloadModel('test-org/tiny', {})]);
    expect(a).toBe(b);
    const weights = repo.files.get('model.safetensors')!.body;
    expectLinked(a, 'model.safetensors', weights, sha256(weights));
    expect(seen.filter((s) => s.method === 'GET' && s.url === `/cdn/${sha256(weights)}`)).toHaveLength(1);
    const blobs = readdirSync(join(cache, 'models--test-org--tiny', 'blobs'));
    expect(blobs.filter((f) => f.endsWith('.incomplete') || f.endsWith('.lock'))).toEqual([]);
  });

  it('continues a partial file left by an earlier run, and restarts when the server ignores Range', async () => {
    const repo = tinyRepo('test-org/tiny');
    repos.set('test-org/tiny', repo);
    const weights = repo.files.get('model.safetensors')!.body;
    const config = repo.files.get('config.json')!.body;
    const blobs = join(cache, 'models--test-org--tiny', 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(weights)}.incomplete`), weights.subarray(0, 100));
    // The resolve route for small files answers 200 to any Range, so stale bytes must be discarded.
    writeFileSync(join(blobs, `${sha1(config)}.incomplete`), 'garbage');

    const snapshot = await downloadModel('test-org/tiny', {});
    expect(seen.find((s) => s.method === 'GET' && s.url.startsWith('/cdn/'))!.range).toBe('bytes=100-');
    const configGets = seen.filter((s) => s.method === 'GET' && s.url.endsWith('/config.json'));
    expect(configGets.map((s) => s.range)).toEqual(['bytes=7-']);
    expect(readFileSync(join(snapshot, 'model.safetensors')).equals(weights)).toBe(true);
    expect(readFileSync(join(snapshot, 'config.json')).equals(config)).toBe(true);
  });

  it('gives up after repeated drops, keeping the partial file for the next run to resume', async () => {
    const repo = tinyRepo('test-org/tiny');
    repos.set('test-org/tiny', repo);
    const weights = repo.files.get('model.safetensors')!;
    weights.failTimes = 4;
    const msg = await rejection(downloadModel('test-org/tiny', {}));
    expect(msg).toMatch(/Downloading model\.safetensors from http:.*failed after 4 attempts \(\d+ bytes kept; run again to resume\)/);
    expect(existsSync(join(cache, 'models--test-org--tiny', 'refs', 'main'))).toBe(false);

    seen = [];
    const snapshot = await downloadModel('test-org/tiny', {});
    const kept = Number(/\((\d+) bytes kept/.exec(msg)![1]);
    expect(kept).toBeGreaterThan(weights.body.length / 2);
    expect(seen.filter((s) => s.method === 'GET' && s.url.startsWith('/cdn/')).map((s) => s.range)).toEqual([`bytes=${kept}-`]);
    expect(readFileSync(join(snapshot, 'model.safetensors')).equals(weights.body)).toBe(true);
  });

  it('sends HF_TOKEN as a bearer token, and explains a 401 without it', async () => {
    repos.set('test-org/private', tinyRepo('test-org/private', { token: 'hf_secret' }));
    const msg = await rejection(downloadModel('test-org/private', {}));
    expect(msg).toMatch(/Access denied \(HTTP 401\) to repo test-org\/private/);
    expect(msg).toContain('set HF_TOKEN');

    process.env.HF_TOKEN = 'hf_wrong';
    expect(await rejection(downloadModel('test-org/private', {}))).toContain('the token in HF_TOKEN was rejected');

    process.env.HF_TOKEN = 'hf_secret';
    seen = [];
    const snapshot = await downloadModel('test-org/private', {});
    expect(existsSync(join(snapshot, 'model.safetensors'))).toBe(true);
    const toHub = seen.filter((s) => !s.url.startsWith('/cdn/'));
    expect(toHub.length).toBeGreaterThan(4);
    expect(toHub.every((s) => s.authorization === 'Bearer hf_secret')).toBe(true);
  });

  it('names an unknown repo, a repo without safetensors, and an unreachable endpoint', async () => {
    expect(await rejection(downloadModel('test-org/missing', {}))).toMatch(/Not found \(HTTP 404\): repo test-org\/missing \(revision "main"\)/);

    const binOnly = tinyRepo('test-org/bin');
    binOnly.files.delete('model.safetensors');
    repos.set('test-org/bin', binOnly);
    expect(await rejection(downloadModel('test-org/bin', {}))).toMatch(/test-org\/bin has no safetensors weights \(it has: pytorch_model\.bin\)/);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    expect(await rejection(downloadModel('test-org/tiny', { endpoint: dead }))).toMatch(/Network error reaching http:\/\/127\.0\.0\.1:\d+\/api\/models\/test-org\/tiny.*ECONNREFUSED/);
  });

  it('stops when aborted', async () => {
    repos.set('test-org/tiny', tinyRepo('test-org/tiny'));
    const ac = new AbortController();
    ac.abort();
    await expect(downloadModel('test-org/tiny', { signal: ac.signal })).rejects.toThrow(/abort/i);
  });
});

describe('resolveModel', () => {
  it('maps aliases to openai-community and downloads on first use', async () => {
    const repo = tinyRepo('openai-community/gpt2');
    repos.set('openai-community/gpt2', repo);
    const dir = await resolveModel('gpt2');
    expect(dir).toBe(join(cache, 'models--openai-community--gpt2', 'snapshots', repo.sha));
    process.env.HF_HUB_OFFLINE = '1';
    expect(await resolveModel('openai-community/gpt2')).toBe(dir);
  });

  it('finds the legacy models--gpt2 layout and distilgpt2 under distilbert', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    for (const [dirName, name] of [['models--gpt2', 'gpt2'], ['models--distilbert--distilgpt2', 'distilgpt2']]) {
      const snap = join(cache, dirName, 'snapshots', 'abc123');
      mkdirSync(snap, { recursive: true });
      mkdirSync(join(cache, dirName, 'refs'));
      writeFileSync(join(cache, dirName, 'refs', 'main'), 'abc123\n');
      writeFileSync(join(snap, 'config.json'), '{}');
      writeFileSync(join(snap, 'model.safetensors'), '');
      expect(await resolveModel(name!)).toBe(snap);
    }
  });

  it('does not take a snapshot whose shards are missing for a cached model', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const snap = join(cache, 'models--test-org--half', 'snapshots', 'abc123');
    mkdirSync(snap, { recursive: true });
    writeFileSync(join(snap, 'config.json'), '{}');
    writeFileSync(join(snap, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'wte.weight': 'model-1.safetensors' } }));
    expect(await rejection(resolveModel('test-org/half'))).toContain('is not in the Hugging Face cache');
    writeFileSync(join(snap, 'model-1.safetensors'), '');
    expect(await resolveModel('test-org/half')).toBe(snap);
  });

  it('uses an existing directory as is, and rejects a missing path', async () => {
    expect(await resolveModel(tmp)).toBe(tmp);
    expect(await rejection(resolveModel(join(tmp, 'nope')))).toBe(`Model directory not found: ${join(tmp, 'nope')}`);
    expect(await rejection(resolveModel('bad name!'))).toMatch(/Invalid model name "bad name!"/);
  });

  it('fails clearly offline with an empty cache, saying what to run', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const msg = await rejection(resolveModel('gpt2-medium'));
    expect(msg).toContain('openai-community/gpt2-medium is not in the Hugging Face cache');
    expect(msg).toContain(join(cache, 'models--openai-community--gpt2-medium'));
    expect(msg).toContain('HF_HUB_OFFLINE');
    expect(msg).toContain('tinyvllm download gpt2-medium');
    expect(seen).toEqual([]);
    delete process.env.HF_HUB_OFFLINE;
    expect(await rejection(resolveModel('gpt2', { offline: true }))).toContain('tinyvllm download gpt2');
  });

  it('reads the cache location from HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, then the home directory', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' })).toBe('/a');
    expect(hubCacheDir({ HF_HOME: '/b', XDG_CACHE_HOME: '/c' })).toBe(join('/b', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/c' })).toBe(join('/c', 'huggingface', 'hub'));
    expect(hubCacheDir({})).toMatch(/\.cache\/huggingface\/hub$/);
  });
});
