/**
 * Shared plumbing for the benchmarks: robust timing (medians of repetitions), a description of
 * the machine, a terminal table, and the JSON file under bench-results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import Table from 'cli-table3';
import pc from 'picocolors';
import { Rng } from '../engine/rng.js';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface TimingOptions {
  /** Untimed calls first (page faults, cache and pool warm-up). Default 1. */
  warmup?: number;
  minReps?: number;
  maxReps?: number;
  /** Keep repeating until this much time is spent (after minReps). */
  minSeconds?: number;
}

export interface Timing {
  /** Median seconds per call. */
  median: number;
  min: number;
  reps: number;
}

/** Times `fn` repeatedly; the median resists the noise of a shared machine. */
export function timeIt(fn: () => void, opts: TimingOptions = {}): Timing {
  const { warmup = 1, minReps = 5, maxReps = 200, minSeconds = 0.3 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < maxReps && (samples.length < minReps || performance.now() - start < minSeconds * 1000)) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  return { median: median(samples), min: Math.min(...samples), reps: samples.length };
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

export interface Column<Row> {
  header: string;
  value: (row: Row) => string | number;
  /** Optional colour for a cell (e.g. green when a target is met). */
  color?: (row: Row) => ((s: string) => string) | undefined;
}

/** Prints rows as a table with a bold title. Numbers are printed as given: format them in `value`. */
export function printTable<Row>(title: string, columns: readonly Column<Row>[], rows: readonly Row[]): void {
  const table = new Table({ head: columns.map((c) => pc.bold(c.header)), style: { head: [], border: [] } });
  for (const row of rows) {
    table.push(
      columns.map((c) => {
        const text = String(c.value(row));
        const paint = c.color?.(row);
        return paint ? paint(text) : text;
      }),
    );
  }
  console.log(`\n${pc.bold(pc.cyan(title))}\n${table.toString()}`);
}

/** Fixed decimals, for table cells. */
export function fixed(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

/** A fraction as a percentage. */
export function percent(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(0)}%` : '-';
}

/** Green when `fraction >= target`, yellow otherwise. */
export function targetColor(fraction: number, target: number): (s: string) => string {
  return fraction >= target ? pc.green : pc.yellow;
}

/** Writes `data` as pretty JSON, creating the directory; returns the absolute path. */
export function writeJson(file: string, data: unknown): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/** `n` prompts of `len` random ordinary token ids (never GPT-2's <|endoftext|>, id 50256), drawn from `rng`. */
export function randomPrompts(n: number, len: number, rng: Rng, vocabSize = 50257): number[][] {
  const v = Math.min(vocabSize, 50256);
  return Array.from({ length: n }, () => Array.from({ length: len }, () => Math.floor(rng.nextFloat() * v)));
}

/** `n` values uniform in [-scale/2, scale/2) from a seeded xorshift32: fast enough for the 38.6M lm_head values. */
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * scale;
  }
  return out;
}
