/** What the speed benches share: a median, and a rate timed as the median of repeats after one warm-up run. */

/** The median of `xs` (the mean of the middle two when their count is even). */
export function median(xs: readonly number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Tokens per second of `fn` (which returns the tokens it processed): the median of `repeats` runs after a warm-up. */
export async function timed(fn: () => Promise<number>, repeats: number): Promise<number> {
  await fn(); // warm-up
  const rates: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    const tokens = await fn();
    rates.push(tokens / ((performance.now() - t) / 1000));
  }
  return median(rates);
}
