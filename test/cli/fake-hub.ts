/**
 * A minimal Hugging Face hub on 127.0.0.1: the revision listing and `resolve` routes that
 * `tinyvllm download` uses, serving files from memory with ETags.
 */
import { createHash } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHub {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** `repos` maps "org/name" to its files; every repo has one revision, `main`. */
export async function startFakeHub(repos: ReadonlyMap<string, ReadonlyMap<string, Buffer>>): Promise<FakeHub> {
  const sha = (repo: string) => createHash('sha1').update(repo).digest('hex');
  const server: Server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    const listing = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/main$/.exec(url);
    if (listing && repos.has(listing[1])) {
      const siblings = [...repos.get(listing[1])!.keys()].map((rfilename) => ({ rfilename }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sha: sha(listing[1]), siblings }));
      return;
    }
    const file = /^\/([^/]+\/[^/]+)\/resolve\/([0-9a-f]+)\/(.+)$/.exec(url);
    const body = file && file[2] === sha(file[1]) ? repos.get(file[1])?.get(file[3]) : undefined;
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { etag: `"${createHash('sha256').update(body).digest('hex')}"`, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
