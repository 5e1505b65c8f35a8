/**
 * `Backend.sample`, the sampler's kernel: the native op against the reference one (the plain oracle
 * that sorts every row) on every exact SIMD path this CPU supports, with 1 and 2 threads. Rows of
 * odd lengths, ties, banned tokens (-Infinity), extreme temperatures and rows with nothing to weigh
 * must give the same token and, to 1e-6 relative, the same weights; a row never depends on the batch.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, SampleArgs } from '../../src/kernels/backend.js';
import { createNativeBackend, nativeAvailable, nativeSimdPaths } from '../../src/kernels/native.js';
import { createReferenceBackend } from '../../src/kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';

const testRandom = mulberry32;

/** [temperature, topK, topP, minP] */
type Config = [number, number, number, number];
const CONFIGS: Config[] = [
  [1, 0, 1, 0], [0.7, 0, 1, 0], [1.5, 0, 1, 0.05], [1, 50, 1, 0], [1, 0, 0.9, 0], [0.8, 40, 0.9, 0.1],
  [1, 0, 0.95, 0.01], [1.3, 1000, 0.8, 0], [1, 3, 1, 0], [1, 0, 0.3, 0], [1e-5, 0, 0.9, 0], [100, 20, 0.99, 0],
  [1, 0, 1, 1], [0.5, 0, 0.999, 0.001],
];

interface Batch {
  x: Float32Array;
  rows: number;
  n: number;
  args: SampleArgs;
}

/** One row per config and per kind of logits, with random draws. */
function makeBatch(n: number, seed: number): Batch {
  const rand = testRandom(seed);
  const gauss = (scale: number): number => scale * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const kinds: ((i: number) => number)[] = [
    () => gauss(3), // GPT-2-like spread
    () => Math.round(gauss(2)), // many ties
    (i) => (i % 7 === 3 ? -Infinity : gauss(2)), // banned tokens
    () => gauss(30), // a few tokens hold everything
  ];
  const rowsOf: { kind: (i: number) => number; cfg: Config }[] = [];
  for (const kind of kinds) for (const cfg of CONFIGS) rowsOf.push({ kind, cfg });
  const special = [() => -Infinity, (i: number) => (i === n >> 1 ? Infinity : 0)]; // nothing to weigh
  for (const kind of special) rowsOf.push({ kind, cfg: [1, 0, 0.9, 0] });
  const rows = rowsOf.length;
  const x = new Float32Array(rows * n);
  rowsOf.forEach(({ kind }, r) => {
    for (let i = 0; i < n; i++) x[r * n + i] = kind(i);
  });
  const col = (j: number): Float64Array => Float64Array.from(rowsOf, ({ cfg }) => cfg[j]!);
  const args = { temperature: col(0), topK: Int32Array.from(rowsOf, ({ cfg }) => cfg[1]), topP: col(2), minP: col(3), u: Float64Array.from(rowsOf, () => rand()) };
  return { x, rows, n, args };
}

function run(backend: Backend, b: Batch): { tokens: Int32Array; w: Float32Array } {
  const w = b.x.slice();
  const tokens = new Int32Array(b.rows);
  backend.sample(tokens, w, b.rows, b.n, b.args);
  return { tokens, w };
}

/** Weights agree to 1e-6 relative, and on which tokens are kept (below 2^-125 both count as flushed). */
function expectWeightsClose(got: Float32Array, want: Float32Array, what: string): void {
  const tiny = 2 ** -125;
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!;
    const e = want[i]!;
    if (Math.max(a, e) < tiny) continue;
    if (!(Math.abs(a - e) <= 1e-6 * Math.max(a, e))) expect.fail(`${what}: weight ${i} is ${a}, reference ${e}`);
  }
}

const ref = createReferenceBackend();

describe('the reference sample op', () => {
  it('keeps the top token at weight 1 and never keeps a banned token', () => {
    const b = makeBatch(97, 1);
    const { tokens, w } = run(ref, b);
    for (let r = 0; r < b.rows; r++) {
      const row = b.x.subarray(r * b.n, (r + 1) * b.n);
      const top = row.indexOf(Math.max(...row));
      expect(w[r * b.n + top]).toBe(1);
      expect(w[r * b.n + tokens[r]!]).toBeGreaterThan(0);
      for (let i = 0; i < b.n; i++) if (row[i] === -Infinity && Math.max(...row) > -Infinity) expect(w[r * b.n + i]).toBe(0);
    }
  });

  it('rejects bad settings, naming them', () => {
    const x = new Float32Array(8);
    const args = (o: Partial<Record<keyof SampleArgs, number>>): SampleArgs => ({
      temperature: Float64Array.of(o.temperature ?? 1), topK: Int32Array.of(o.topK ?? 0), topP: Float64Array.of(o.topP ?? 1),
      minP: Float64Array.of(o.minP ?? 0), u: Float64Array.of(o.u ?? 0.5),
    });
    const backends = [ref, ...(nativeAvailable() ? [createNativeBackend({ threads: 1 })] : [])];
    for (const be of backends) {
      const out = new Int32Array(1);
      expect(() => be.sample(out, x, 1, 8, args({ temperature: 0 }))).toThrow(/temperature/);
      expect(() => be.sample(out, x, 1, 8, args({ topP: 0 }))).toThrow(/topP/);
      expect(() => be.sample(out, x, 1, 8, args({ minP: 2 }))).toThrow(/minP/);
      expect(() => be.sample(out, x, 1, 8, args({ topK: -1 }))).toThrow(/topK/);
      expect(() => be.sample(out, x, 1, 8, args({ u: 1 }))).toThrow(/u must be/);
      expect(() => be.sample(new Int32Array(2), x, 2, 8, args({}))).toThrow(/x holds 8/);
      expect(() => be.sample(new Int32Array(0), x, 1, 8, args({}))).toThrow(/out/);
      be.dispose();
    }
  });
});

const paths = nativeSimdPaths().filter((p) => p !== 'avx512-bf16');

describe.skipIf(!nativeAvailable())('the native sample op matches the reference', () => {
  // GPT-2's vocabulary, a length with a vector tail, and rows too short for one vector.
  const batches = [makeBatch(50257, 2), makeBatch(1003, 3), makeBatch(5, 4)];
  const want = batches.map((b) => run(ref, b));

  for (const simd of paths) {
    for (const threads of [1, 2]) {
      it(`${simd}, ${threads} thread(s)`, () => {
        const be = createNativeBackend({ simd, threads });
        try {
          batches.forEach((b, i) => {
            const got = run(be, b);
            expect([...got.tokens], `tokens, n = ${b.n}`).toEqual([...want[i]!.tokens]);
            expectWeightsClose(got.w, want[i]!.w, `${simd} n = ${b.n}`);
          });
        } finally {
          be.dispose();
        }
      });
    }
  }

  it('gives a row the same token and bits alone as in a batch', () => {
    const be = createNativeBackend({ threads: 2 });
    const b = batches[1]!;
    const batched = run(be, b);
    for (let r = 0; r < b.rows; r++) {
      const pick = <T extends Float64Array | Int32Array>(v: T): T => v.subarray(r, r + 1) as T;
      const one: Batch = {
        x: b.x.slice(r * b.n, (r + 1) * b.n), rows: 1, n: b.n,
        args: { temperature: pick(b.args.temperature), topK: pick(b.args.topK), topP: pick(b.args.topP), minP: pick(b.args.minP), u: pick(b.args.u) },
      };
      const alone = run(be, one);
      expect(alone.tokens[0]).toBe(batched.tokens[r]);
      expect(alone.w).toEqual(batched.w.subarray(r * b.n, (r + 1) * b.n));
    }
    be.dispose();
  });
});
