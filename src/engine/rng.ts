/**
 * A small, fast, seedable PRNG for sampling: xoshiro128** (32-bit ops only, so no BigInt on the hot
 * path). Each request owns its own `Rng`, so a seeded request draws the same tokens whatever else is
 * in the batch.
 */
import { getRandomValues } from 'node:crypto';

const TWO_POW_32 = 0x1_0000_0000;

/** A 32-bit bijective mixer (the splitmix32 finaliser): distinct inputs give distinct, well-spread outputs. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  // Seed material, kept so that `fork` derives streams from the seed rather than from the current state.
  private seedLo = 0;
  private seedHi = 0;
  private stream = 0;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed` is any safe integer (negative values and values above 2^32 are fine). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
    const hi = Math.floor(seed / TWO_POW_32);
    this.init(seed - hi * TWO_POW_32, hi, 0);
  }

  /** An unseeded generator (for requests without a seed). */
  static fromEntropy(): Rng {
    const w = getRandomValues(new Uint32Array(3));
    return Rng.fromWords(w[0]!, w[1]!, w[2]!);
  }

  private static fromWords(lo: number, hi: number, stream: number): Rng {
    const r = new Rng(0);
    r.init(lo, hi, stream);
    return r;
  }

  private init(lo: number, hi: number, stream: number): void {
    this.seedLo = lo >>> 0;
    this.seedHi = hi >>> 0;
    this.stream = stream >>> 0;
    // Each state word is a bijection of one input word, so distinct (seed, stream) pairs give
    // distinct states.
    this.s0 = mix32(this.seedLo);
    this.s1 = mix32(this.seedHi ^ 0x5bd1e995);
    this.s2 = mix32(this.stream ^ 0x27d4eb2f);
    this.s3 = (mix32(this.s0 ^ this.s1 ^ this.s2 ^ 0x165667b1) | 1) >>> 0; // never the all-zero state
    // Nearby seeds start in nearby states; a few rounds decorrelate them.
    for (let i = 0; i < 8; i++) this.nextUint32();
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * An independent stream for sample `index` of a request's `n`. It depends only on this generator's
   * seed and stream (not on how many numbers were drawn), so forks are reproducible.
   */
  fork(index: number): Rng {
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new RangeError(`Rng.fork index must be a non-negative integer, got ${index}`);
    }
    const stream = mix32(this.stream ^ mix32((index + 1) >>> 0) ^ mix32(Math.floor(index / TWO_POW_32)));
    return Rng.fromWords(this.seedLo, this.seedHi, stream);
  }
}
