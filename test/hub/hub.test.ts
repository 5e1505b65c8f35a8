/**
 * Downloads against the fake hub of test/helpers/fake-hub.ts on 127.0.0.1: revision listing and
 * `resolve`, LFS redirects to a CDN on another origin with X-Linked-Etag / X-Linked-Size, weak
 * ETags, Range requests, renamed repos, throttling, tokens, and a route that dies half-way once.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { downloadModel, hubCacheDir, hubOffline, resolveModel } from '../../src/hub/hub.js';
import { GPT2Tokenizer } from '../../src/tokenizer/index.js';
import { FakeHub, type HubFile, type HubRepo, sha1, sha256 } from '../helpers/fake-hub.js';
import { encodeSafetensors, tinyConfigJson, tinyGpt2Tensors } from '../helpers/safetensors-writer.js';

const TOKENIZER_DIR = fileURLToPath(new URL('../fixtures/gpt2-tokenizer/', import.meta.url));

function tinyRepo(name: string, opts: { shards?: number; failOnce?: string; token?: string } = {}): HubRepo {
  const files = new Map<string, HubFile>();
  files.set('config.json', { body: Buffer.from(JSON.stringify(tinyConfigJson())), lfs: false });
  files.set('vocab.json', { body: readFileSync(join(TOKENIZER_DIR, 'vocab.json')), lfs: false });
  files.set('merges.txt', { body: readFileSync(join(TOKENIZER_DIR, 'merges.txt')), lfs: false });
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

let hub: FakeHub;
let endpoint: string;
/** Fast retries: the backoff schedule is the same, in milliseconds instead of seconds. */
const FAST = { retry: { delayMs: 1, maxDelayMs: 20 } } as const;
const ENV = [
  'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'HF_ENDPOINT', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH',
  'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'XDG_CACHE_HOME',
] as const;
let savedEnv: Record<string, string | undefined>;
let tmp: string;
let cache: string;

beforeAll(async () => {
  hub = await FakeHub.start();
  endpoint = hub.endpoint;
});
afterAll(() => hub.close());
beforeEach(() => {
  savedEnv = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  for (const k of ENV) delete process.env[k];
  tmp = mkdtempSync(join(tmpdir(), 'tinyvllm-hub-'));
  cache = join(tmp, 'hub');
  process.env.HF_HUB_CACHE = cache;
  process.env.HF_ENDPOINT = endpoint;
  // No token file of the machine's user may leak into a test.
  process.env.HF_TOKEN_PATH = join(tmp, 'no-token');
  hub.seen = [];
  hub.repos.clear();
  hub.renames.clear();
  hub.throttle(0);
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
    hub.repos.set('test-org/tiny', repo);
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
    hub.seen = [];
    expect(await resolveModel('test-org/tiny')).toBe(snapshot);
    expect(hub.seen).toEqual([]);
    expect(loadCheckpoint(snapshot).tensors.size).toBe(4 + 12 * 2);

    // Downloading a cached snapshot again only lists the revision; a named revision gets its own ref.
    delete process.env.HF_HUB_OFFLINE;
    hub.seen = [];
    expect(await downloadModel('test-org/tiny', { revision: 'v1.0' })).toBe(snapshot);
    expect(hub.seen.map((s) => s.url)).toEqual([`/api/models/test-org/tiny/revision/v1.0`]);
    expect(readFileSync(join(repoDir, 'refs', 'v1.0'), 'utf8')).toBe(repo.sha);
  });

  it('resumes a connection dropped half-way and the result is byte-identical', async () => {
    const repo = tinyRepo('test-org/sharded', { shards: 2, failOnce: 'model-00002-of-00002.safetensors' });
    hub.repos.set('test-org/sharded', repo);
    const snapshot = await downloadModel('test-org/sharded', {});

    const shard = repo.files.get('model-00002-of-00002.safetensors')!.body;
    const cdnGets = hub.seen.filter((s) => s.method === 'GET' && s.origin === 'cdn' && s.url === `/cdn/${sha256(shard)}`);
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
    hub.repos.set('test-org/tiny', repo);
    const [a, b] = await Promise.all([downloadModel('test-org/tiny', {}), downloadModel('test-org/tiny', {})]);
    expect(a).toBe(b);
    const weights = repo.files.get('model.safetensors')!.body;
    expectLinked(a, 'model.safetensors', weights, sha256(weights));
    expect(hub.seen.filter((s) => s.method === 'GET' && s.origin === 'cdn' && s.url === `/cdn/${sha256(weights)}`)).toHaveLength(1);
    const blobs = readdirSync(join(cache, 'models--test-org--tiny', 'blobs'));
    expect(blobs.filter((f) => f.endsWith('.incomplete') || f.endsWith('.lock'))).toEqual([]);
  });

  it('continues a partial file left by an earlier run, and restarts when the server ignores Range', async () => {
    const repo = tinyRepo('test-org/tiny');
    hub.repos.set('test-org/tiny', repo);
    const weights = repo.files.get('model.safetensors')!.body;
    const config = repo.files.get('config.json')!.body;
    const blobs = join(cache, 'models--test-org--tiny', 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(weights)}.incomplete`), weights.subarray(0, 100));
    // The resolve route for small files answers 200 to any Range, so stale bytes must be discarded.
    writeFileSync(join(blobs, `${sha1(config)}.incomplete`), 'garbage');

    const snapshot = await downloadModel('test-org/tiny', {});
    expect(hub.seen.find((s) => s.method === 'GET' && s.origin === 'cdn')!.range).toBe('bytes=100-');
    const configGets = hub.seen.filter((s) => s.method === 'GET' && s.url.endsWith('/config.json'));
    expect(configGets.map((s) => s.range)).toEqual(['bytes=7-']);
    expect(readFileSync(join(snapshot, 'model.safetensors')).equals(weights)).toBe(true);
    expect(readFileSync(join(snapshot, 'config.json')).equals(config)).toBe(true);
  });

  it('gives up after repeated drops, keeping the partial file for the next run to resume', async () => {
    const repo = tinyRepo('test-org/tiny');
    hub.repos.set('test-org/tiny', repo);
    const weights = repo.files.get('model.safetensors')!;
    weights.failTimes = 4;
    const msg = await rejection(downloadModel('test-org/tiny', { retry: { attempts: 4, delayMs: 1 } }));
    expect(msg).toMatch(/Downloading model\.safetensors from http:.*failed after 4 attempts \(\d+ bytes kept; run again to resume\)/);
    expect(existsSync(join(cache, 'models--test-org--tiny', 'refs', 'main'))).toBe(false);

    hub.seen = [];
    const snapshot = await downloadModel('test-org/tiny', {});
    const kept = Number(/\((\d+) bytes kept/.exec(msg)![1]);
    expect(kept).toBeGreaterThan(weights.body.length / 2);
    expect(hub.seen.filter((s) => s.method === 'GET' && s.origin === 'cdn').map((s) => s.range)).toEqual([`bytes=${kept}-`]);
    expect(readFileSync(join(snapshot, 'model.safetensors')).equals(weights.body)).toBe(true);
  });

  it('sends HF_TOKEN as a bearer token, and explains a 401 without it', async () => {
    hub.repos.set('test-org/private', tinyRepo('test-org/private', { token: 'hf_secret' }));
    const msg = await rejection(downloadModel('test-org/private', {}));
    expect(msg).toMatch(/Access denied \(HTTP 401\) to repo test-org\/private/);
    expect(msg).toContain('set HF_TOKEN');

    process.env.HF_TOKEN = 'hf_wrong';
    expect(await rejection(downloadModel('test-org/private', {}))).toContain('the token in HF_TOKEN was rejected');

    process.env.HF_TOKEN = 'hf_secret';
    hub.seen = [];
    const snapshot = await downloadModel('test-org/private', {});
    expect(existsSync(join(snapshot, 'model.safetensors'))).toBe(true);
    const toHub = hub.seen.filter((s) => s.origin === 'hub');
    expect(toHub.length).toBeGreaterThan(4);
    expect(toHub.every((s) => s.authorization === 'Bearer hf_secret')).toBe(true);
    // The CDN is another origin: the token never goes there.
    expect(hub.seen.filter((s) => s.origin === 'cdn').length).toBeGreaterThan(0);
    expect(hub.seen.filter((s) => s.origin === 'cdn').every((s) => s.authorization === undefined)).toBe(true);
  });

  it('finds the token in HUGGING_FACE_HUB_TOKEN, then the token file of HF_TOKEN_PATH or HF_HOME, after HF_TOKEN', async () => {
    hub.repos.set('test-org/private', tinyRepo('test-org/private', { token: 'hf_secret' }));
    const auth = () => new Set(hub.seen.filter((s) => s.origin === 'hub').map((s) => s.authorization));
    const fresh = () => {
      rmSync(cache, { recursive: true, force: true });
      hub.seen = [];
    };

    process.env.HUGGING_FACE_HUB_TOKEN = 'hf_secret';
    await downloadModel('test-org/private', {});
    expect(auth()).toEqual(new Set(['Bearer hf_secret']));

    // HF_TOKEN wins over the legacy variable; an empty HF_TOKEN counts as unset.
    fresh();
    process.env.HF_TOKEN = 'hf_wrong';
    expect(await rejection(downloadModel('test-org/private', {}))).toContain('the token in HF_TOKEN was rejected');
    process.env.HF_TOKEN = '';
    await downloadModel('test-org/private', {});
    delete process.env.HF_TOKEN;
    delete process.env.HUGGING_FACE_HUB_TOKEN;

    // The file `hf auth login` writes: HF_TOKEN_PATH, with ~ and $VARS expanded; else $HF_HOME/token.
    fresh();
    writeFileSync(join(tmp, 'my-token'), '  hf_secret\r\n');
    process.env.TINYVLLM_TEST_DIR = tmp;
    process.env.HF_TOKEN_PATH = '${TINYVLLM_TEST_DIR}/my-token';
    await downloadModel('test-org/private', {});
    expect(auth()).toEqual(new Set(['Bearer hf_secret']));

    fresh();
    delete process.env.HF_TOKEN_PATH;
    process.env.HF_HOME = join(tmp, 'home');
    mkdirSync(join(tmp, 'home'));
    writeFileSync(join(tmp, 'home', 'token'), 'hf_wrong\n');
    const msg = await rejection(downloadModel('test-org/private', {}));
    expect(msg).toContain(`the token in ${join(tmp, 'home', 'token')} was rejected`);
    delete process.env.TINYVLLM_TEST_DIR;
  });

  it('retries 429 and 5xx answers with backoff, honouring Retry-After, then succeeds', async () => {
    hub.repos.set('test-org/tiny', tinyRepo('test-org/tiny'));
    hub.throttle(3, 429, '0');
    const snapshot = await downloadModel('test-org/tiny', FAST);
    expect(hub.seen.slice(0, 4).map((s) => s.url)).toEqual(Array(4).fill('/api/models/test-org/tiny/revision/main'));
    expect(existsSync(join(snapshot, 'model.safetensors'))).toBe(true);

    rmSync(cache, { recursive: true, force: true });
    hub.seen = [];
    hub.throttle(2, 503, null);
    await downloadModel('test-org/tiny', FAST);
    expect(hub.seen.filter((s) => s.url.endsWith('/revision/main'))).toHaveLength(3);

    // A HEAD that keeps failing gives up after the attempts, naming the status.
    rmSync(cache, { recursive: true, force: true });
    hub.throttle(100, 502, null);
    expect(await rejection(downloadModel('test-org/tiny', { retry: { attempts: 3, delayMs: 1 } }))).toMatch(/HTTP 502 .* \(3 attempts\)/);
    hub.throttle(0);
  });

  it('follows a renamed repo\'s relative redirects on HEAD, so ETags and sizes are still checked', async () => {
    const repo = tinyRepo('test-org/tiny');
    hub.repos.set('test-org/tiny', repo);
    hub.renames.set('old-org/tiny', 'test-org/tiny');
    const snapshot = await downloadModel('old-org/tiny', {});
    expect(snapshot).toBe(join(cache, 'models--old-org--tiny', 'snapshots', repo.sha));
    const f = (n: string) => repo.files.get(n)!.body;
    // Blobs are named by the hub's ETags (sha1 for small files), read past the 307.
    expectLinked(snapshot, 'config.json', f('config.json'), sha1(f('config.json')));
    expectLinked(snapshot, 'model.safetensors', f('model.safetensors'), sha256(f('model.safetensors')));
    const heads = hub.seen.filter((s) => s.method === 'HEAD').map((s) => s.url);
    expect(heads).toContain(`/old-org/tiny/resolve/${repo.sha}/config.json`);
    expect(heads).toContain(`/test-org/tiny/resolve/${repo.sha}/config.json`);
    // The CDN redirect is not followed by HEAD: its X-Linked-* headers are the file's identity.
    expect(hub.seen.filter((s) => s.origin === 'cdn' && s.method === 'HEAD')).toEqual([]);
  });
});

describe('a hostile hub', () => {
  /** Every file under tmp, to prove nothing was written outside the repo's cache folder. */
  function outsideCache(): string[] {
    return readdirSync(tmp, { recursive: true, encoding: 'utf8' }).filter((f) => !f.startsWith('hub'));
  }

  it('rejects an ETag that is not a hex hash (".." would name the repo folder)', async () => {
    for (const etag of ['..', '"../../x"', 'W/"."', `"${'a'.repeat(63)}"`]) {
      const repo = tinyRepo('test-org/tiny');
      repo.files.get('config.json')!.etag = etag;
      hub.repos.set('test-org/tiny', repo);
      const msg = await rejection(downloadModel('test-org/tiny', {}));
      expect(msg, etag).toMatch(/Unexpected ETag .* for config\.json from http:.*: the hub names files by a 40- or 64-digit hex hash/);
      expect(existsSync(join(cache, 'models--test-org--tiny', 'snapshots', repo.sha, 'config.json'))).toBe(false);
    }
    const lfs = tinyRepo('test-org/tiny');
    lfs.files.get('model.safetensors')!.etag = '"../../../escape"';
    hub.repos.set('test-org/tiny', lfs);
    expect(await rejection(downloadModel('test-org/tiny', {}))).toMatch(/Unexpected ETag "\.\.\/\.\.\/\.\.\/escape" for model\.safetensors/);
    expect(outsideCache()).toEqual([]);
  });

  it('rejects a commit that is not 40 hex digits', async () => {
    for (const sha of ['..', '../../..', 'main', 'A'.repeat(40)]) {
      hub.repos.set('test-org/tiny', { ...tinyRepo('test-org/tiny'), sha });
      expect(await rejection(downloadModel('test-org/tiny', {})), sha).toMatch(/"sha" must be a 40-digit hex commit hash/);
    }
    expect(outsideCache()).toEqual([]);
  });

  it('rejects unsafe revisions and accepts branch names such as refs/pr/1', async () => {
    const repo = tinyRepo('test-org/tiny');
    hub.repos.set('test-org/tiny', repo);
    for (const revision of ['..', '../x', 'a/../b', '/etc', 'a//b', 'a/', '.hidden', 'a b', 'x.lock']) {
      expect(await rejection(downloadModel('test-org/tiny', { revision })), revision).toMatch(/^Invalid revision/);
    }
    expect(hub.seen).toEqual([]);
    await downloadModel('test-org/tiny', { revision: 'refs/pr/1' });
    expect(readFileSync(join(cache, 'models--test-org--tiny', 'refs', 'refs', 'pr', '1'), 'utf8')).toBe(repo.sha);
  });

  it('refuses file names that leave the snapshot, and names the index file in its errors', async () => {
    const repo = tinyRepo('test-org/sharded', { shards: 2 });
    const shard = repo.files.get('model-00001-of-00002.safetensors')!;
    repo.files.set('../../../evil.safetensors', shard);
    repo.files.get('model.safetensors.index.json')!.body = Buffer.from(JSON.stringify({ weight_map: { 'wte.weight': '../../../evil.safetensors' } }));
    hub.repos.set('test-org/sharded', repo);
    expect(await rejection(downloadModel('test-org/sharded', {}))).toMatch(/^Refusing a path outside .*snapshots.*"\.\.\/\.\.\/\.\.\/evil\.safetensors"/);
    expect(outsideCache()).toEqual([]);

    for (const [body, why] of [['{"weight_map": ', /invalid JSON/], ['{"weight_map": []}', /field "weight_map" must be an object/]] as const) {
      rmSync(cache, { recursive: true, force: true });
      const bad = tinyRepo('test-org/sharded', { shards: 2 });
      bad.files.get('model.safetensors.index.json')!.body = Buffer.from(body);
      hub.repos.set('test-org/sharded', bad);
      const index = join(cache, 'models--test-org--sharded', 'snapshots', bad.sha, 'model.safetensors.index.json');
      const msg = await rejection(downloadModel('test-org/sharded', {}));
      expect(msg.startsWith(`${index} (model.safetensors.index.json of test-org/sharded): `), msg).toBe(true);
      expect(msg).toMatch(why);
    }
  });
});

describe('a cache that huggingface_hub filled', () => {
  /** Writes files into a cache the way huggingface_hub does: blobs named by ETag, relative links, refs/main. */
  function pythonCache(repoId: string, repo: HubRepo, files: string[]): string {
    const repoDir = join(cache, `models--${repoId.replace('/', '--')}`);
    const snapshot = join(repoDir, 'snapshots', repo.sha);
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    mkdirSync(join(repoDir, 'refs'));
    writeFileSync(join(repoDir, 'refs', 'main'), repo.sha);
    for (const f of files) {
      const { body, lfs } = repo.files.get(f)!;
      const blob = lfs ? sha256(body) : sha1(body);
      writeFileSync(join(repoDir, 'blobs', blob), body);
      symlinkSync(join('..', '..', 'blobs', blob), join(snapshot, f));
    }
    return snapshot;
  }

  it('fetches the tokenizer files a model-only snapshot lacks, into that snapshot, and nothing else', async () => {
    const repo = tinyRepo('test-org/tiny');
    hub.repos.set('test-org/tiny', repo);
    const snapshot = pythonCache('test-org/tiny', repo, ['config.json', 'model.safetensors']);

    process.env.HF_HUB_OFFLINE = '1';
    const offline = await rejection(resolveModel('test-org/tiny'));
    expect(offline).toContain(`Model "test-org/tiny" is cached in ${snapshot} without tokenizer.json (or vocab.json + merges.txt)`);
    expect(hub.seen).toEqual([]);

    delete process.env.HF_HUB_OFFLINE;
    expect(await resolveModel('test-org/tiny')).toBe(snapshot);
    const gets = hub.seen.filter((s) => s.method === 'GET').map((s) => s.url.split('/').at(-1));
    expect(gets).toEqual(['main', 'vocab.json', 'merges.txt']);
    const f = (n: string) => repo.files.get(n)!.body;
    expectLinked(snapshot, 'vocab.json', f('vocab.json'), sha1(f('vocab.json')));
    expect(GPT2Tokenizer.fromDir(snapshot).encode('Hello world')).toEqual([15496, 995]);

    process.env.HF_HUB_OFFLINE = '1';
    hub.seen = [];
    expect(await resolveModel('test-org/tiny')).toBe(snapshot);
    expect(hub.seen).toEqual([]);
  });

  it('honours TRANSFORMERS_OFFLINE unless HF_HUB_OFFLINE says otherwise', async () => {
    process.env.TRANSFORMERS_OFFLINE = '1';
    expect(await rejection(resolveModel('test-org/tiny'))).toContain('offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)');
    expect(hub.seen).toEqual([]);
    expect(hubOffline({ TRANSFORMERS_OFFLINE: 'true' })).toBe(true);
    expect(hubOffline({ TRANSFORMERS_OFFLINE: '1', HF_HUB_OFFLINE: '0' })).toBe(false);
    expect(hubOffline({})).toBe(false);
  });
});

describe('downloadModel errors', () => {
  it('names an unknown repo, a repo without safetensors, and an unreachable endpoint', async () => {
    // The hub answers 401 for a repo that does not exist, as for a private one.
    expect(await rejection(downloadModel('test-org/missing', {}))).toMatch(/Access denied \(HTTP 401\) to repo test-org\/missing \(revision "main"\).*or the repo does not exist/);

    const binOnly = tinyRepo('test-org/bin');
    binOnly.files.delete('model.safetensors');
    hub.repos.set('test-org/bin', binOnly);
    expect(await rejection(downloadModel('test-org/bin', {}))).toMatch(/test-org\/bin has no safetensors weights \(it has: pytorch_model\.bin\)/);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    expect(await rejection(downloadModel('test-org/tiny', { endpoint: dead, ...FAST }))).toMatch(/Network error reaching http:\/\/127\.0\.0\.1:\d+\/api\/models\/test-org\/tiny.* \(5 attempts\): ECONNREFUSED/);
  });

  it('stops when aborted', async () => {
    hub.repos.set('test-org/tiny', tinyRepo('test-org/tiny'));
    const ac = new AbortController();
    ac.abort();
    await expect(downloadModel('test-org/tiny', { signal: ac.signal })).rejects.toThrow(/abort/i);
  });
});

describe('resolveModel', () => {
  it('maps aliases to openai-community and downloads on first use', async () => {
    const repo = tinyRepo('openai-community/gpt2');
    hub.repos.set('openai-community/gpt2', repo);
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
      for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) writeFileSync(join(snap, f), '{}');
      expect(await resolveModel(name!)).toBe(snap);
    }
  });

  it('does not take a snapshot whose shards are missing for a cached model', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const snap = join(cache, 'models--test-org--half', 'snapshots', 'abc123');
    mkdirSync(snap, { recursive: true });
    writeFileSync(join(snap, 'config.json'), '{}');
    writeFileSync(join(snap, 'tokenizer.json'), '{}');
    writeFileSync(join(snap, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'wte.weight': 'model-1.safetensors' } }));
    expect(await rejection(resolveModel('test-org/half'))).toContain(`is cached in ${snap} without model-1.safetensors`);
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
    expect(hub.seen).toEqual([]);
    delete process.env.HF_HUB_OFFLINE;
    expect(await rejection(resolveModel('gpt2', { offline: true }))).toContain('tinyvllm download gpt2');
  });

  it('reads the cache location from HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, then the home directory', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' })).toBe('/a');
    expect(hubCacheDir({ HF_HOME: '/b', XDG_CACHE_HOME: '/c' })).toBe(join('/b', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/c' })).toBe(join('/c', 'huggingface', 'hub'));
    expect(hubCacheDir({})).toMatch(/\.cache\/huggingface\/hub$/);
  });

  it('expands ~ and $VARS in HF_HOME / HF_HUB_CACHE and honours the legacy HUGGINGFACE_HUB_CACHE', () => {
    expect(hubCacheDir({ HF_HOME: '~/hf' })).toBe(join(homedir(), 'hf', 'hub'));
    expect(hubCacheDir({ HF_HUB_CACHE: '$ROOT/c', ROOT: '/data' })).toBe('/data/c');
    expect(hubCacheDir({ HF_HUB_CACHE: '${ROOT}/c/$NOPE', ROOT: '/data' })).toBe('/data/c/$NOPE');
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '~/legacy', HF_HOME: '/b' })).toBe(join(homedir(), 'legacy'));
    expect(hubCacheDir({ HF_HUB_CACHE: '/new', HUGGINGFACE_HUB_CACHE: '/legacy' })).toBe('/new');
  });

  it('finds a model under an HF_HOME given with ~ and $VARS', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    delete process.env.HF_HUB_CACHE;
    process.env.TINYVLLM_TEST_DIR = tmp;
    process.env.HF_HOME = '$TINYVLLM_TEST_DIR/home';
    const snap = join(tmp, 'home', 'hub', 'models--test-org--tiny', 'snapshots', 'abc123');
    mkdirSync(snap, { recursive: true });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) writeFileSync(join(snap, f), '{}');
    expect(await resolveModel('test-org/tiny')).toBe(snap);
    delete process.env.TINYVLLM_TEST_DIR;
  });
});
