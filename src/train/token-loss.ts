/** Token sequences as the trainer reads them: ids and which tokens are training targets. */

export interface TokenSequence {
  ids: readonly number[];
  /**
   * Per token of `ids`: 1 if that token is a training target (predicted from the tokens before it), 0 if it is
   * context only (a prompt). Omitted: every token after the first is a target.
   */
  lossMask?: readonly number[];
}

/** Number of loss targets a sequence contributes (its weight under token-averaged SFT). */
export function targetCountOf(seq: TokenSequence): number {
  if (seq.lossMask === undefined) return Math.max(0, seq.ids.length - 1);
  let n = 0;
  for (let t = 1; t < seq.ids.length; t++) if (seq.lossMask[t]) n++;
  return n;
}
