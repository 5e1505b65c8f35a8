/**
 * A fake Hugging Face Hub on 127.0.0.1 that behaves like the real one where tinyvllm depends on it:
 *
 * - `GET /api/models/{repo}/revision/{rev}`: `{id, sha, siblings: [{rfilename}]}`.
 * - `HEAD|GET /{repo}/resolve/{rev}/{file}`: small files are served directly with a weak ETag
 *   `W/"<git sha1>"`; LFS files answer 302 to a CDN on another origin (its own port), with
 *   `X-Linked-Etag: "<sha256>"`, `X-Linked-Size` and an ETag that is not the blob's.
 * - The CDN serves `Range: bytes=N-` with 206 and Content-Range, and never needs the token.
 * - A renamed repo answers 307 with a relative Location to its new name, on both routes.
 * - A repo may require `Authorization: Bearer <token>` (401 otherwise, as for unknown repos).
 * - `throttle(n)` makes the next n hub requests answer 429 (or another status) with Retry-After.
 *
 * Every request is recorded in `seen`, with its origin ('hub' or 'cdn').
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFile {
  body: Buffer;
  /** Served via a redirect to the CDN, like LFS files on the real hub. */
  lfs: boolean;
  /** The next this-many CDN/direct GETs send half the body, then drop the connection. */
  failTimes?: number;
  /** Sent instead of the real ETag (a hostile hub). */
  etag?: string;
}

export interface HubRepo {
  /** The commit `main` resolves to (any string, to play a hostile hub). */
  sha: string;
  files: Map<string, HubFile>;
  /** Requires this bearer token. */
  token?: string;
}

export interface Seen {
  origin: 'hub' | 'cdn';
  method: string;
  url: string;
  range: string | undefined;
  authorization: string | undefined;
}

export const sha1 = (b: Buffer | string): string => createHash('sha1').update(b).digest('hex');
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Files of a repo; `.safetensors` and `.bin` are LFS files. */
export function repoOf(name: string, files: ReadonlyMap<string, Buffer>, token?: string): HubRepo {
  const entries = [...files].map(([f, body]): [string, HubFile] => [f, { body, lfs: /\.(safetensors|bin)$/.test(f) }]);
  return { sha: sha1(name), files: new Map(entries), token };
}

export class FakeHub {
  readonly repos = new Map<string, HubRepo>();
  /** Old name -> new name. */
  readonly renames = new Map<string, string>();
  seen: Seen[] = [];
  private throttled: { left: number; status: number; retryAfter: string | null } = { left: 0, status: 429, retryAfter: null };

  private constructor(
    private readonly hub: Server,
    private readonly cdn: Server,
    readonly endpoint: string,
    readonly cdnEndpoint: string,
  ) {}

  static async start(): Promise<FakeHub> {
    const ref: { hub?: FakeHub } = {};
    const hub = createServer((req, res) => ref.hub!.handleHub(req, res));
    const cdn = createServer((req, res) => ref.hub!.handleCdn(req, res));
    const listen = async (s: Server) => {
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    };
    ref.hub = new FakeHub(hub, cdn, await listen(hub), await listen(cdn));
    return ref.hub;
  }

  /** The next `n` requests to the hub answer `status` (429 by default) with `Retry-After` if given. */
  throttle(n: number, status = 429, retryAfter: string | null = '0'): void {
    this.throttled = { left: n, status, retryAfter };
  }

  async close(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }

  private record(origin: Seen['origin'], req: IncomingMessage): void {
    this.seen.push({ origin, method: req.method ?? '', url: req.url ?? '', range: req.headers.range, authorization: req.headers.authorization });
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.record('hub', req);
    if (this.throttled.left > 0) {
      this.throttled.left--;
      const headers = this.throttled.retryAfter === null ? {} : { 'retry-after': this.throttled.retryAfter };
      return void res.writeHead(this.throttled.status, headers).end('slow down');
    }
    const url = req.url ?? '';
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const name = (api ?? resolve)?.[1] ?? '';
    const renamed = this.renames.get(name);
    if (renamed !== undefined) {
      // Relative, as the real hub redirects a renamed or transferred repo.
      return void res.writeHead(307, { location: url.replace(`/${name}/`, `/${renamed}/`) }).end();
    }
    const repo = this.repos.get(name);
    if ((api || resolve) && repo === undefined) return void res.writeHead(401).end('Repository not found');
    if (repo?.token && req.headers.authorization !== `Bearer ${repo.token}`) return void res.writeHead(401).end('Invalid credentials');

    if (api && repo) {
      const body = JSON.stringify({ id: name, sha: repo.sha, siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) });
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
    if (resolve && repo) {
      const rev = decodeURIComponent(resolve[2]!);
      const file = repo.files.get(decodeURIComponent(resolve[3]!));
      if ((rev !== repo.sha && rev !== 'main') || file === undefined) return void res.writeHead(404).end('Entry not found');
      const common = { 'x-repo-commit': repo.sha };
      if (!file.lfs) return sendBody(req, res, file, { ...common, etag: file.etag ?? `W/"${sha1(file.body)}"` }, false);
      const digest = sha256(file.body);
      return void res
        .writeHead(302, {
          ...common,
          location: `${this.cdnEndpoint}/cdn/${digest}`,
          'x-linked-etag': file.etag ?? `"${digest}"`,
          'x-linked-size': file.body.length,
          // The git blob of the LFS pointer: not the file's identity.
          etag: `W/"${sha1(`pointer ${digest}`)}"`,
        })
        .end();
    }
    res.writeHead(404).end();
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record('cdn', req);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(req.url ?? '');
    for (const r of cdn ? this.repos.values() : []) {
      for (const file of r.files.values()) if (sha256(file.body) === cdn![1]) return sendBody(req, res, file, { etag: `"${cdn![1]}"` }, true);
    }
    res.writeHead(404).end();
  }
}

/** Serves `file`, honouring `Range: bytes=N-` when `ranges` is set. */
function sendBody(req: IncomingMessage, res: ServerResponse, file: HubFile, headers: Record<string, string>, ranges: boolean): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = ranges && m ? Number(m[1]) : 0;
  const len = file.body.length;
  const out: Record<string, string | number> = { ...headers, 'content-length': len - start };
  if (ranges && m) {
    if (start >= len) return void res.writeHead(416, { 'content-range': `bytes */${len}` }).end();
    out['content-range'] = `bytes ${start}-${len - 1}/${len}`;
  }
  res.writeHead(m && ranges ? 206 : 200, out);
  if (req.method === 'HEAD') return void res.end();
  const body = file.body.subarray(start);
  if (file.failTimes) {
    file.failTimes--;
    // Close after half the body: the client sees fewer bytes than Content-Length. The pause lets
    // the client consume the half first (an errored stream drops chunks it has not read yet).
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 100));
    return;
  }
  res.end(body);
}

/** The simple form the CLI tests use: repos by name, files as buffers. */
export async function startFakeHub(repos: ReadonlyMap<string, ReadonlyMap<string, Buffer>>): Promise<FakeHub> {
  const hub = await FakeHub.start();
  for (const [name, files] of repos) hub.repos.set(name, repoOf(name, files));
  return hub;
}
