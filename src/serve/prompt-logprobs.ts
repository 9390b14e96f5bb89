/**
 * vLLM's `prompt_logprobs` from the embedded engine: entry 0 is null, entry p holds the prompt's own token at p
 * and the top-k tokens of the distribution that predicted it, keyed by token id, each with its 1-based rank;
 * k = -1 lists the whole vocabulary. Log-probs of -inf are written as -9999.0 (JSON has no infinity), as vLLM does.
 *
 * Prompts that share a prefix (a scoring batch: one prefix, many continuations) are scored as the engine's own
 * score call would (the shared prefix encoded once), so the numbers equal an in-process `engine.score`.
 */
import type { Engine } from "../engines/engine.js";
import { topKOf } from "../model/score.js";

export interface PromptLogprobEntry {
  [tokenId: string]: { logprob: number; rank: number; decoded_token: string };
}

export function clampLogprob(x: number): number {
  return x === -Infinity || x < -9999 ? -9999.0 : x;
}

/** The full next-token log-distribution at every position 1 … T−1 of each prompt. */
async function fullDistributions(engine: Engine, prompts: readonly number[][]): Promise<Float32Array[][]> {
  if (prompts.some((p) => p[0] !== prompts[0][0])) return (await Promise.all(prompts.map((p) => fullDistributions(engine, [p])))).flat();
  const shortest = Math.min(...prompts.map((p) => p.length));
  let shared = 0;
  while (shared < shortest - 1 && prompts.every((p) => p[shared] === prompts[0][shared])) shared++;
  // Positions 1 … m−1 of the shared part once, then every prompt's remainder after the shared prefix.
  const m = Math.max(1, shared);
  const head = m > 1 ? (await engine.score({ prefix: prompts[0].slice(0, 1), continuations: [prompts[0].slice(1, m)], distributions: "full" })).continuations[0].fullLogprobs! : [];
  const rest = await engine.score({ prefix: prompts[0].slice(0, m), continuations: prompts.map((p) => p.slice(m)), distributions: "full" });
  return rest.continuations.map((c) => [...head, ...(c.fullLogprobs ?? [])]);
}

export async function promptLogprobs(engine: Engine, prompts: readonly number[][], k: number, piece: (id: number) => string): Promise<Array<Array<PromptLogprobEntry | null>>> {
  const dists = await fullDistributions(engine, prompts);
  return prompts.map((ids, p) => [
    null,
    ...dists[p].map((lp, j) => {
      const token = ids[j + 1];
      const entry: PromptLogprobEntry = {};
      const add = (id: number, rank: number): void => {
        entry[String(id)] = { logprob: clampLogprob(lp[id]), rank, decoded_token: piece(id) };
      };
      if (k === -1) {
        const order = Array.from(lp.keys()).sort((a, b) => lp[b] - lp[a] || a - b);
        order.forEach((id, r) => add(id, r + 1));
        return entry;
      }
      const top = k > 0 ? topKOf(lp, k) : [];
      top.forEach(([id], r) => add(id, r + 1));
      if (entry[String(token)] === undefined) {
        let above = 0;
        for (let v = 0; v < lp.length; v++) if (lp[v] > lp[token]) above++;
        add(token, Math.max(top.length + 1, above + 1));
      }
      return entry;
    }),
  ]);
}
