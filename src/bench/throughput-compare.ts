/**
 * Quantized batched throughput beside the unquantized weights, in one command: the batched run of
 * `bench throughput` for the --dtype weights and for each scheme, in interleaved rounds (every round
 * runs every configuration once, so a burst of load on a shared machine blurs all of them rather
 * than one), then per configuration the median output tok/s and its speed-up over the unquantized
 * weights: the median of each round's ratio, since runs of one round saw the same machine. Each
 * run loads its model afresh (and int8 recalibrates), so only one model is in memory at a time.
 *
 *   tinyvllm bench throughput --dtype bf16 --compare int8 --quantize-lm-head --rounds 3
 */
import pc from 'picocolors';
import type { Quantization } from '../kernels/backend.js';
import { fixed, machineInfo, median, printTable, writeJson, type MachineInfo } from './report.js';
import { runThroughputBench, type ThroughputBenchOptions } from './throughput.js';

export interface ThroughputCompareOptions extends Omit<ThroughputBenchOptions, 'quantization' | 'sequentialPrompts'> {
  /** Schemes to run after the unquantized weights. */
  schemes: readonly Quantization[];
  /** Rounds over all configurations (default 3). */
  rounds?: number;
}

export interface CompareRow {
  label: string;
  quantization: Quantization | null;
  lmHeadQuantized: boolean;
  /** Batched output tok/s of each round. */
  outputTokPerS: number[];
  median: number;
  /** Each round's output tok/s over the unquantized weights' in that round. */
  ratios: number[];
  /** The median of `ratios`. */
  vsBaseline: number;
}

export interface ThroughputCompareResult {
  machine: MachineInfo;
  config: { numPrompts: number; inputLen: number; outputLen: number; rounds: number; threads: number; backendPath: string; kvCacheDtype: string; dtype: string };
  rows: CompareRow[];
}

export async function runThroughputCompare(opts: ThroughputCompareOptions): Promise<ThroughputCompareResult> {
  const rounds = opts.rounds ?? 3;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`throughput bench: rounds must be a positive integer, got ${rounds}`);
  if (opts.schemes.length === 0) throw new Error('throughput bench: --compare needs at least one quantization scheme');
  const print = opts.print ?? true;
  const configs: (Quantization | null)[] = [null, ...opts.schemes];
  const samples = configs.map(() => [] as number[]);
  let first: Awaited<ReturnType<typeof runThroughputBench>> | null = null;
  let lmHead = false;
  for (let r = 0; r < rounds; r++) {
    for (const [i, quantization] of configs.entries()) {
      if (print) process.stderr.write(pc.dim(`round ${r + 1}/${rounds}: ${quantization ?? 'unquantized'}\n`));
      const res = await runThroughputBench({ ...opts, quantization, sequentialPrompts: 0, probe: false, print: false, resultFile: null });
      samples[i]!.push(res.batched.outputThroughput);
      first ??= res;
      if (quantization) lmHead = res.config.lmHeadQuantized;
    }
  }
  const rows: CompareRow[] = configs.map((q, i) => {
    const ratios = samples[i]!.map((v, r) => v / samples[0]![r]!);
    const label = q ? `${q}${lmHead ? ' (+lm_head)' : ''}` : first!.config.computeDtype;
    return { label, quantization: q, lmHeadQuantized: q !== null && lmHead, outputTokPerS: samples[i]!, median: median(samples[i]!), ratios, vsBaseline: median(ratios) };
  });
  const c = first!.config;
  const result: ThroughputCompareResult = {
    machine: machineInfo(),
    config: { numPrompts: c.numPrompts, inputLen: c.inputLen, outputLen: c.outputLen, rounds, threads: c.threads, backendPath: c.backendPath, kvCacheDtype: c.kvCacheDtype, dtype: c.computeDtype },
    rows,
  };
  const file = opts.resultFile === undefined ? 'bench-results/throughput-compare.json' : opts.resultFile;
  const path = file ? writeJson(file, result) : null;
  if (print) {
    printTable(
      `Batched throughput: ${c.numPrompts} x (${c.inputLen} in + ${c.outputLen} out), ${c.backendPath}, ${c.threads} threads, ${c.kvCacheDtype} KV cache, median of ${rounds} interleaved rounds`,
      [
        { header: 'weights', value: (x: CompareRow) => x.label },
        { header: 'output tok/s (median)', value: (x: CompareRow) => fixed(x.median) },
        { header: 'rounds', value: (x: CompareRow) => x.outputTokPerS.map((v) => fixed(v)).join(' / ') },
        { header: `vs ${rows[0]!.label} (median of rounds)`, value: (x: CompareRow) => `${fixed(x.vsBaseline, 2)}x (${x.ratios.map((v) => fixed(v, 2)).join(' / ')})` },
      ],
      rows,
    );
    console.log(pc.dim(`${result.machine.cpu}, ${result.machine.cores} cores`));
    if (path) console.log(pc.dim(`results written to ${path}`));
  }
  return result;
}
