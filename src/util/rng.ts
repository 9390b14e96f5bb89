/**
 * Deterministic randomness. Every random choice in the project comes from a generator seeded by
 * (run seed, stage, item key, ...) so results never depend on concurrency, batching or order of work.
 */

/** 64-bit FNV-1a over the UTF-8 of the parts, folded to a 32-bit unsigned seed. */
export function deriveSeed(...parts: Array<string | number | bigint>): number {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  const enc = new TextEncoder();
  for (const part of parts) {
    const bytes = enc.encode(String(part) + "\u0000");
    for (const b of bytes) {
      h ^= BigInt(b);
      h = (h * prime) & mask;
    }
  }
  return Number((h ^ (h >> 32n)) & 0xffffffffn);
}

/** xoshiro128** — small, fast, good statistical quality; state from splitmix32 of the seed. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  static fromParts(...parts: Array<string | number | bigint>): Rng {
    return new Rng(deriveSeed(...parts));
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform float in [0, 1) with 53 bits of precision. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.pick on an empty list");
    return items[Math.floor(this.next() * items.length)];
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** A uniformly random subset of size k (order of the original kept). */
  sample<T>(items: readonly T[], k: number): T[] {
    if (k >= items.length) return items.slice();
    const idx = this.shuffle(items.map((_, i) => i)).slice(0, k).sort((a, b) => a - b);
    return idx.map((i) => items[i]);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
