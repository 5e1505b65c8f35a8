/**
 * An advisory lock file, so that two processes filling the same hub cache never write one blob at
 * once. The lock is created exclusively and holds its owner's pid and host; a lock whose owner on
 * this host has exited (a killed download) is stale and taken over.
 */
import { openSync, readFileSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';

export interface FileLockOptions {
  /** Gives up waiting (rejecting with the signal's reason) when aborted. */
  signal?: AbortSignal;
  /** Milliseconds between attempts while another owner holds the lock. Default 100. */
  pollMs?: number;
  /** Called once if the lock is busy, before waiting. */
  onWait?: (owner: string) => void;
}

/** A lock file that could not be read or parsed is stale only once it is this old (a crash mid-create). */
const UNREADABLE_STALE_MS = 10_000;

/** Runs `fn` while holding the lock file `path`, waiting for any other owner to finish first. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  await acquire(path, opts);
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

async function acquire(path: string, opts: FileLockOptions): Promise<void> {
  let told = false;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (tryCreate(path)) return;
    const owner = readOwner(path);
    if (isStale(path, owner)) {
      rmSync(path, { force: true });
      continue;
    }
    if (!told) {
      told = true;
      opts.onWait?.(owner ? `pid ${owner.pid} on ${owner.host}` : 'another process');
    }
    await sleep(opts.pollMs ?? 100, opts.signal);
  }
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`Cannot create the lock file ${path}: ${(e as Error).message}`);
  }
  try {
    writeSync(fd, `${process.pid}\n${hostname()}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

interface Owner {
  pid: number;
  host: string;
}

function readOwner(path: string): Owner | null {
  try {
    const [pid, host] = readFileSync(path, 'utf8').split('\n');
    return /^\d+$/.test(pid ?? '') && host ? { pid: Number(pid), host } : null;
  } catch {
    return null;
  }
}

function isStale(path: string, owner: Owner | null): boolean {
  if (owner === null) {
    try {
      return Date.now() - statSync(path).mtimeMs > UNREADABLE_STALE_MS;
    } catch {
      return false; // gone already: the next attempt creates it
    }
  }
  // Only a local owner can be checked; one on another host (a shared cache) is waited for.
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}
