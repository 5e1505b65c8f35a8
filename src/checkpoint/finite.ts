/**
 * Non-finite weight detection, run over every weight byte at every load, so it must cost little next
 * to reading the file. A value is NaN or ±Inf exactly when its exponent bits are all ones, which a
 * WebAssembly SIMD loop (finite-scan.wat) tests 16 bytes at a time on chunks copied into its memory:
 * about 3x the speed of the best plain JavaScript loop here, copy included. Only a tensor that holds
 * such a value is walked again, in JavaScript, to count and locate them.
 */
import type { Tensor } from './tensor.js';

export interface NonFinite {
  /** How many elements are NaN or ±Inf. */
  readonly count: number;
  /** Flat index of the first one. */
  readonly first: number;
}

/** finite-scan.wat, assembled. */
const WASM = 'AGFzbQEAAAABCAFgA39/fwF/AwMCAAAFAwEAAQcXAwNtZW0CAAVhbnkzMgAABWFueTE2AAEK5wECcgICewF/IAL9ESEDIAAgAWohBQJAA0AgACAFTw0BIAQgAP0ABAAgA/1OIAP9NyAA/QAEECAD/U4gA/03/VAgAP0ABCAgA/1OIAP9NyAA/QAEMCAD/U4gA/03/VD9UP1QIQQgAEHAAGohAAwACwsgBP1TC3ICAnsBfyAC/RAhAyAAIAFqIQUCQANAIAAgBU8NASAEIAD9AAQAIAP9TiAD/S0gAP0ABBAgA/1OIAP9Lf1QIAD9AAQgIAP9TiAD/S0gAP0ABDAgA/1OIAP9Lf1Q/VD9UCEEIABBwABqIQAMAAsLIAT9Uws=';
/** Bytes scanned per call; a multiple of the 64 bytes the loop takes per step. */
const CHUNK = 1 << 20;

interface Scanner {
  readonly bytes: Uint8Array;
  readonly any32: (p: number, n: number, mask: number) => number;
  readonly any16: (p: number, n: number, mask: number) => number;
}

/** The part of the WebAssembly API used here (the project's TypeScript lib has no DOM types). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

let scanner: Scanner | null | undefined;

/** The SIMD scanner, or null where WebAssembly SIMD is unavailable (then the JavaScript walk serves). */
function getScanner(): Scanner | null {
  if (scanner !== undefined) return scanner;
  try {
    const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
    const { exports } = new wasm.Instance(new wasm.Module(Buffer.from(WASM, 'base64')));
    const mem = exports.mem as { grow(pages: number): number; buffer: ArrayBuffer };
    mem.grow(CHUNK / 65536);
    scanner = { bytes: new Uint8Array(mem.buffer), any32: exports.any32 as Scanner['any32'], any16: exports.any16 as Scanner['any16'] };
  } catch {
    scanner = null;
  }
  return scanner;
}

/** Exponent masks: a value is non-finite when `(bits & mask) === mask`. */
const MASK = { f32: 0x7f800000, bf16: 0x7f80, f16: 0x7c00 } as const;

/** Null when every element is finite; otherwise how many are not and where the first is. */
export function findNonFinite(t: Tensor): NonFinite | null {
  const s = getScanner();
  return s === null || anyNonFinite(s, t) ? walk(t) : null;
}

function anyNonFinite(s: Scanner, t: Tensor): boolean {
  const { data } = t;
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const scan = t.dtype === 'f32' ? s.any32 : s.any16;
  const mask = MASK[t.dtype];
  for (let off = 0; off < src.length; off += CHUNK) {
    const len = Math.min(CHUNK, src.length - off);
    const bulk = len - (len % 64);
    s.bytes.set(src.subarray(off, off + bulk));
    if (scan(0, bulk, mask) !== 0) return true;
  }
  // The last partial 64 bytes, element by element.
  const size = data.BYTES_PER_ELEMENT;
  for (let i = (src.length - (src.length % 64)) / size; i < data.length; i++) if (!finite(t.dtype, data[i]!)) return true;
  return false;
}

/** f32 elements are checked as numbers; half elements are raw bits. */
function finite(dtype: Tensor['dtype'], v: number): boolean {
  return dtype === 'f32' ? Number.isFinite(v) : (v & MASK[dtype]) !== MASK[dtype];
}

function walk(t: Tensor): NonFinite | null {
  let count = 0;
  let first = -1;
  const { data } = t;
  for (let i = 0; i < data.length; i++) {
    if (!finite(t.dtype, data[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  return count === 0 ? null : { count, first };
}

/** e.g. `[3, 17]` for flat index 3 * cols + 17 of a matrix. */
export function unflatten(index: number, shape: readonly number[]): number[] {
  const at: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    at.unshift(index % shape[d]!);
    index = Math.floor(index / shape[d]!);
  }
  return at;
}
