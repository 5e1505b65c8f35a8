/**
 * A replica set on loopback: `tinyvllm serve` processes behind HAProxy configured by
 * deploy/haproxy/haproxy.cfg (least connections, active /health checks, SSE passed through).
 * Used by the fleet test and by `npm run bench:fleet`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
export const HAPROXY_CFG = fileURLToPath(new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url));
/** Server slots in haproxy.cfg: r1..r4. */
export const SLOTS = 4;

export const haproxyAvailable = (): boolean => spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export class Replica {
  private constructor(
    readonly port: number,
    readonly child: ChildProcess,
    readonly log: () => string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts `tinyvllm serve MODEL` on `port` and waits for /health. */
  static async start(model: string, port: number, args: readonly string[] = []): Promise<Replica> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'serve', model, '--port', String(port), '--threads', '1', '--kv-cache-memory', '32MiB', '--served-model-name', 'tiny', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const r = new Replica(port, child, () => log);
    const exited = once(child, 'exit').then(() => {
      throw new Error(`replica on ${port} exited early: ${log}`);
    });
    await Promise.race([waitUntil(async () => (await fetch(`${r.url}/health`)).ok, 60_000, `replica ${port}`), exited]);
    exited.catch(() => {});
    return r;
  }

  /** Sends `signal` and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exit = once(this.child, 'exit') as Promise<[number | null]>;
    this.child.kill(signal);
    return (await exit)[0];
  }
}

export interface ServerState {
  readonly name: string;
  readonly status: string;
}

export class Balancer {
  private constructor(
    readonly port: number,
    readonly statsPort: number,
    readonly child: ChildProcess,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** HAProxy on a free port, its four server slots pointed at `slotPorts` (a port with no replica stays DOWN). */
  static async start(slotPorts: readonly number[]): Promise<Balancer> {
    if (slotPorts.length !== SLOTS) throw new Error(`haproxy.cfg has ${SLOTS} server slots`);
    const port = await freePort();
    const statsPort = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, FLEET_BIND: `127.0.0.1:${port}`, FLEET_STATS: `127.0.0.1:${statsPort}` };
    slotPorts.forEach((p, i) => (env[`FLEET_R${i + 1}`] = `127.0.0.1:${p}`));
    const child = spawn('haproxy', ['-db', '-f', HAPROXY_CFG], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const b = new Balancer(port, statsPort, child);
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).ok, 10_000, `haproxy (${log})`);
    return b;
  }

  /** Each server slot's state as HAProxy's health checks see it (UP, DOWN, ...). */
  async servers(): Promise<ServerState[]> {
    const csv = await (await fetch(`http://127.0.0.1:${this.statsPort}/stats;csv`)).text();
    const [header, ...rows] = csv.trim().split('\n');
    const cols = header!.replace(/^# /, '').split(',');
    const at = (name: string): number => cols.indexOf(name);
    return rows
      .map((r) => r.split(','))
      .filter((f) => f[at('pxname')] === 'tinyvllm' && /^r\d$/.test(f[at('svname')] ?? ''))
      .map((f) => ({ name: f[at('svname')]!, status: f[at('status')]! }));
  }

  async status(name: string): Promise<string> {
    return (await this.servers()).find((s) => s.name === name)?.status ?? 'missing';
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exit = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exit;
  }
}
