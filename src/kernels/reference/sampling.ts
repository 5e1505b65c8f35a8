/**
 * Sampling from rows of logits (`Backend.sample`), written the plain way: every row is fully sorted
 * by rank and walked best first. Slow (O(V log V) per row) and obviously right, it is the oracle for
 * the native op, which must find the same support without sorting.
 */
import type { SampleArgs } from '../backend.js';

/** The smallest normal f32: weights below it count as 0 (so banned tokens weigh exactly nothing). */
const MIN_NORMAL = 2 ** -126;

function checkSampleArgs(out: Int32Array, x: Float32Array, rows: number, n: number, args: SampleArgs): void {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`sample: rows must be an integer >= 0, got ${rows}`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`sample: n must be an integer >= 1, got ${n}`);
  if (x.length < rows * n) throw new RangeError(`sample: x holds ${x.length} values, needs ${rows}x${n} = ${rows * n}`);
  if (out.length < rows) throw new RangeError(`sample: out holds ${out.length} entries, needs ${rows}`);
  for (const key of ['temperature', 'topK', 'topP', 'minP', 'u'] as const) {
    if (args[key].length < rows) throw new RangeError(`sample: args.${key} holds ${args[key].length} entries, needs ${rows}`);
  }
  for (let r = 0; r < rows; r++) {
    const t = args.temperature[r]!;
    const p = args.topP[r]!;
    const minP = args.minP[r]!;
    const u = args.u[r]!;
    if (!(t > 0 && t < Infinity)) throw new RangeError(`sample: row ${r}: temperature must be a finite number > 0, got ${t}`);
    if (!(args.topK[r]! >= 0)) throw new RangeError(`sample: row ${r}: topK must be >= 0, got ${args.topK[r]}`);
    if (!(p > 0 && p <= 1)) throw new RangeError(`sample: row ${r}: topP must be in (0, 1], got ${p}`);
    if (!(minP >= 0 && minP <= 1)) throw new RangeError(`sample: row ${r}: minP must be in [0, 1], got ${minP}`);
    if (!(u >= 0 && u < 1)) throw new RangeError(`sample: row ${r}: u must be in [0, 1), got ${u}`);
  }
}

export function sample(out: Int32Array, x: Float32Array, rows: number, n: number, args: SampleArgs): void {
  checkSampleArgs(out, x, rows, n, args);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    out[r] = sampleRow(row, args.temperature[r]!, args.topK[r]!, args.topP[r]!, args.minP[r]!, args.u[r]!);
  }
}

function sampleRow(x: Float32Array, temperature: number, topK: number, topP: number, minP: number, u: number): number {
  const n = x.length;
  let best = 0;
  for (let i = 1; i < n; i++) if (x[i]! > x[best]!) best = i;
  const m = x[best]!;
  if (!(m > -Infinity && m < Infinity)) {
    x.fill(0);
    x[best] = 1;
    return best;
  }
  // The weights in f32, each step rounded as the native kernel rounds it.
  const inv = Math.fround(1 / temperature);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const e = Math.fround(Math.exp(Math.fround(Math.fround(x[i]! - m) * inv)));
    w[i] = e >= MIN_NORMAL ? e : 0;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[b]! - x[a]! || a - b);
  let keep = topK > 0 ? Math.min(topK, n) : n;
  if (topP < 1) {
    // Keep each token whose better-ranked tokens hold less than topP of the weight.
    let total = 0;
    for (let j = 0; j < keep; j++) total += w[order[j]!]!;
    let before = 0;
    let j = 0;
    while (j < keep && before < topP * total) before += w[order[j++]!]!;
    keep = j;
  }
  // The top token (weight 1) survives top-k and top-p, so min-p compares weights with minP itself.
  const kept = order.slice(0, keep).filter((id) => w[id]! >= minP);
  x.fill(0);
  for (const id of kept) x[id] = w[id]!;
  let total = 0;
  for (let i = 0; i < n; i++) total += x[i]!;
  const target = u * total;
  let cum = 0;
  let last = best;
  for (let i = 0; i < n; i++) {
    if (x[i]! <= 0) continue;
    cum += x[i]!;
    last = i;
    if (target < cum) return i;
  }
  return last; // rounding left the target at the very top
}
