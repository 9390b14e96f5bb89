/**
 * Deterministic data order. The training stream is the concatenation of epoch permutations; epoch e is shuffled
 * by a generator seeded from (seed, "train-order", e) alone. A position in the stream (examples consumed) is
 * therefore the whole random state a checkpoint needs: resuming at position p replays exactly the same examples.
 */
import { Rng, deriveSeed } from "../util/rng.js";

export class DataOrder {
  private cachedEpoch = -1;
  private cachedPermutation: number[] = [];

  constructor(
    readonly size: number,
    readonly seed: number,
    readonly shuffle = true,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`DataOrder needs at least one example, got ${size}`);
  }

  permutation(epoch: number): number[] {
    if (epoch !== this.cachedEpoch) {
      const identity = Array.from({ length: this.size }, (_, i) => i);
      this.cachedPermutation = this.shuffle ? new Rng(deriveSeed(this.seed, "train-order", epoch)).shuffle(identity) : identity;
      this.cachedEpoch = epoch;
    }
    return this.cachedPermutation;
  }

  /** The example index at stream position `position` (0-based). */
  at(position: number): number {
    const epoch = Math.floor(position / this.size);
    return this.permutation(epoch)[position - epoch * this.size];
  }

  /** `count` example indices starting at stream position `position`. */
  slice(position: number, count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(this.at(position + i));
    return out;
  }
}
