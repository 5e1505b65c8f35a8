/** Llama-family row ops in plain f64-accumulating loops: RMSNorm, q/k norm + rotary, SiLU-and-multiply. */
import type { QKNorm, RopeTable } from '../backend.js';

export function rmsNorm(out: Float32Array, x: Float32Array, t: number, n: number, gamma: Float32Array, eps: number): void {
  if (gamma.length !== n) throw new Error(`rmsNorm: gamma must have ${n} values, got ${gamma.length}`);
  if (x.length < t * n || out.length < t * n) throw new Error(`rmsNorm: x and out need ${t}x${n} values`);
  for (let i = 0; i < t; i++) normRow(out, x, i * n, n, gamma, eps);
}

/** out[o .. o+n) = x[o .. o+n) / rms * gamma (in place when out === x). */
function normRow(out: Float32Array, x: Float32Array, o: number, n: number, gamma: Float32Array, eps: number): void {
  let sq = 0;
  for (let j = 0; j < n; j++) sq += x[o + j] * x[o + j];
  const inv = 1 / Math.sqrt(sq / n + eps);
  for (let j = 0; j < n; j++) out[o + j] = x[o + j] * inv * gamma[j];
}

export function rotary(
  qkv: Float32Array, t: number, nHead: number, nKvHead: number, headDim: number, positions: Int32Array, rope: RopeTable, qkNorm: QKNorm | null,
): void {
  const width = (nHead + 2 * nKvHead) * headDim;
  const half = headDim / 2;
  if (rope.headDim !== headDim) throw new Error(`rotary: the table is for head size ${rope.headDim}, not ${headDim}`);
  if (qkv.length < t * width) throw new Error(`rotary: qkv holds ${qkv.length} values, needs ${t}x${width}`);
  if (qkNorm && (qkNorm.q.length !== headDim || qkNorm.k.length !== headDim)) throw new Error(`rotary: q/k norm weights must have ${headDim} values`);
  for (let row = 0; row < t; row++) {
    const pos = positions[row];
    if (!(pos >= 0 && pos < rope.positions)) throw new Error(`rotary: position ${pos} at row ${row} is outside the table (0..${rope.positions - 1})`);
    for (let h = 0; h < nHead + nKvHead; h++) {
      const o = row * width + h * headDim;
      if (qkNorm) normRow(qkv, qkv, o, headDim, h < nHead ? qkNorm.q : qkNorm.k, qkNorm.eps);
      for (let i = 0; i < half; i++) {
        const c = rope.cos[pos * half + i];
        const s = rope.sin[pos * half + i];
        const a = qkv[o + i];
        const b = qkv[o + half + i];
        qkv[o + i] = a * c - b * s;
        qkv[o + half + i] = b * c + a * s;
      }
    }
  }
}

export function siluMul(out: Float32Array, x: Float32Array, t: number, n: number): void {
  if (x.length < t * 2 * n || out.length < t * n) throw new Error(`siluMul: x needs ${t}x${2 * n} values and out ${t}x${n}`);
  for (let i = 0; i < t; i++) {
    const g = i * 2 * n;
    for (let j = 0; j < n; j++) {
      const a = x[g + j];
      out[i * n + j] = (a / (1 + Math.exp(-a))) * x[g + n + j];
    }
  }
}
