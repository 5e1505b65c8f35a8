import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withFileLock } from '../../src/hub/file-lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tinyvllm-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  expect(r.status).toBe(0);
  return r.pid!;
}

describe('withFileLock', () => {
  it('lets one owner in at a time and removes the lock afterwards', async () => {
    const lock = join(dir, 'blob.lock');
    const events: string[] = [];
    const job = (name: string) =>
      withFileLock(
        lock,
        async () => {
          events.push(`${name} in`);
          expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n${hostname()}\n`);
          await sleep(60);
          events.push(`${name} out`);
          return name;
        },
        { pollMs: 10 },
      );
    const results = await Promise.all([job('a'), job('b'), job('c')]);
    expect(results).toEqual(['a', 'b', 'c']);
    // Each owner leaves before the next enters.
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]).toBe(events[i]!.replace(' in', ' out'));
    expect(events).toHaveLength(6);
    expect(existsSync(lock)).toBe(false);
  });

  it('releases the lock when the work throws', async () => {
    const lock = join(dir, 'blob.lock');
    await expect(withFileLock(lock, async () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(existsSync(lock)).toBe(false);
    expect(await withFileLock(lock, async () => 42)).toBe(42);
  });

  it('takes over a lock left by a process that has exited', async () => {
    const lock = join(dir, 'blob.lock');
    writeFileSync(lock, `${deadPid()}\n${hostname()}\n`);
    const waited: string[] = [];
    expect(await withFileLock(lock, async () => 'ran', { onWait: (o) => waited.push(o) })).toBe('ran');
    expect(waited).toEqual([]);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over an unreadable lock only once it is old', async () => {
    const lock = join(dir, 'blob.lock');
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(await withFileLock(lock, async () => 'ran')).toBe('ran');

    writeFileSync(lock, '');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('gave up')), 80);
    await expect(withFileLock(lock, async () => 'ran', { signal: ac.signal, pollMs: 10 })).rejects.toThrow('gave up');
    expect(existsSync(lock)).toBe(true);
  });

  it('waits for a live owner, names it, and stops waiting when aborted', async () => {
    const lock = join(dir, 'blob.lock');
    // The parent of this process is alive for as long as the test runs.
    writeFileSync(lock, `${process.ppid}\n${hostname()}\n`);
    const waited: string[] = [];
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('aborted by the caller')), 100);
    let ran = false;
    const p = withFileLock(lock, async () => void (ran = true), { signal: ac.signal, pollMs: 10, onWait: (o) => waited.push(o) });
    await expect(p).rejects.toThrow('aborted by the caller');
    expect(ran).toBe(false);
    expect(waited).toEqual([`pid ${process.ppid} on ${hostname()}`]);
    // Someone else's lock is left alone.
    expect(readFileSync(lock, 'utf8')).toBe(`${process.ppid}\n${hostname()}\n`);
  });

  it('waits for an owner on another host instead of judging it stale', async () => {
    const lock = join(dir, 'blob.lock');
    writeFileSync(lock, `${deadPid()}\nsome-other-host\n`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('still busy')), 60);
    await expect(withFileLock(lock, async () => 'ran', { signal: ac.signal, pollMs: 10 })).rejects.toThrow('still busy');
    rmSync(lock);
    expect(await withFileLock(lock, async () => 'ran')).toBe('ran');
  });
});
