/**
 * Cost of the non-finite weight check that runs on every load, on a GPT-2 124M-shaped synthetic
 * checkpoint (12 layers, 768 wide, 50257 tokens) in f32 and bf16: time to read every tensor from the
 * file (page cache warm) next to time to scan it, and the whole loadCheckpoint (validation, read and
 * scan) for scale. Best of three runs each. Prints a table and writes JSON.
 *
 *   npx tsx scripts/bench-finite-check.ts [--out bench-results/finite-check.json] [--dtypes f32,bf16,f16]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../src/checkpoint/checkpoint.js';
import { findNonFinite } from '../src/checkpoint/finite.js';
import { SafetensorsFile } from '../src/checkpoint/safetensors.js';
import { writeSyntheticCheckpoint } from '../src/bench/synthetic.js';
import type { Tensor } from '../src/checkpoint/tensor.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'bench-results/finite-check.json' }, dtypes: { type: 'string', default: 'f32,bf16' } } });
const rows: { dtype: string; bytes: number; readMs: number; scanMs: number; scanGBs: number; loadMs: number; overhead: string }[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'tinyvllm-finite-'));
try {
  for (const dtype of values.dtypes.split(',') as ('f32' | 'bf16' | 'f16')[]) {
    const dir = join(tmp, dtype);
    writeSyntheticCheckpoint(dir, { nLayer: 12, nHead: 12, nEmbd: 768, nPositions: 1024, dtype });
    const file = new SafetensorsFile(join(dir, 'model.safetensors'));
    let readMs = Infinity;
    let scanMs = Infinity;
    let bytes = 0;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      const tensors: Tensor[] = [...file.header.tensors.keys()].map((n) => file.read(n));
      const t1 = performance.now();
      for (const t of tensors) if (findNonFinite(t) !== null) throw new Error(`${t.name} is not finite`);
      const t2 = performance.now();
      readMs = Math.min(readMs, t1 - t0);
      scanMs = Math.min(scanMs, t2 - t1);
      bytes = tensors.reduce((a, t) => a + t.data.byteLength, 0);
    }
    file.close();
    let loadMs = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      loadCheckpoint(dir);
      loadMs = Math.min(loadMs, performance.now() - t0);
    }
    rows.push({ dtype, bytes, readMs, scanMs, scanGBs: bytes / scanMs / 1e6, loadMs, overhead: `${((100 * scanMs) / loadMs).toFixed(1)}%` });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}`);
console.log('dtype   MB      read ms   scan ms   scan GB/s   loadCheckpoint ms   scan / load');
for (const r of rows) {
  console.log(`${r.dtype.padEnd(7)} ${(r.bytes / 1e6).toFixed(0).padEnd(7)} ${r.readMs.toFixed(0).padEnd(9)} ${r.scanMs.toFixed(1).padEnd(9)} ${r.scanGBs.toFixed(2).padEnd(11)} ${r.loadMs.toFixed(0).padEnd(19)} ${r.overhead}`);
}
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify({ cpu: cpus()[0]?.model, node: process.version, rows }, null, 2) + '\n');
