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

/** Anything that gives the text of single tokens once they are learnt (TokenPieces). */
export interface PieceSource {
  learn(engine: Engine, ids: readonly number[]): Promise<void>;
  get(id: number): string;
}

/**
 * The listed tokens of every position of every prompt, with two renderings: objects (for echo's logprobs) and
 * JSON text written directly, because a full-vocabulary answer runs to tens of megabytes and building an object
 * per entry first costs more than the model's own scoring.
 */
export class PromptLogprobs {
  constructor(
    private readonly dists: Float32Array[][],
    /** [prompt][position − 1] → [tokenId, rank] in rank order. */
    private readonly listed: Array<Array<Array<[number, number]>>>,
    private readonly pieces: PieceSource,
  ) {}

  entries(p: number): Array<PromptLogprobEntry | null> {
    return [
      null,
      ...this.listed[p].map((row, j) => {
        const lp = this.dists[p][j];
        const entry: PromptLogprobEntry = {};
        for (const [id, rank] of row) entry[String(id)] = { logprob: clampLogprob(lp[id]), rank, decoded_token: this.pieces.get(id) };
        return entry;
      }),
    ];
  }

  json(p: number): string {
    const quoted = new Map<number, string>();
    const text = (id: number): string => {
      let q = quoted.get(id);
      if (q === undefined) quoted.set(id, (q = JSON.stringify(this.pieces.get(id))));
      return q;
    };
    const rows = this.listed[p].map((row, j) => {
      const lp = this.dists[p][j];
      return "{" + row.map(([id, rank]) => `"${id}":{"logprob":${JSON.stringify(clampLogprob(lp[id]))},"rank":${rank},"decoded_token":${text(id)}}`).join(",") + "}";
    });
    return "[" + ["null", ...rows].join(",") + "]";
  }
}

export async function computePromptLogprobs(engine: Engine, prompts: readonly number[][], k: number, pieces: PieceSource): Promise<PromptLogprobs> {
  const dists = await fullDistributions(engine, prompts);
  // Which tokens each position lists (rank order), known before any text is needed, so all pieces are learnt at once.
  const listed = prompts.map((ids, p) =>
    dists[p].map((lp, j): Array<[number, number]> => {
      const token = ids[j + 1];
      if (k === -1) return Array.from(lp.keys()).sort((a, b) => lp[b] - lp[a] || a - b).map((id, r) => [id, r + 1]);
      const top = k > 0 ? topKOf(lp, k).map(([id], r): [number, number] => [id, r + 1]) : [];
      if (!top.some(([id]) => id === token)) {
        let above = 0;
        for (let v = 0; v < lp.length; v++) if (lp[v] > lp[token]) above++;
        top.push([token, Math.max(top.length + 1, above + 1)]);
      }
      return top;
    }),
  );
  const needed = new Set<number>();
  if (k === -1) for (let id = 0; id < (dists.find((d) => d.length > 0)?.[0].length ?? 0); id++) needed.add(id);
  else for (const rows of listed) for (const row of rows) for (const [id] of row) needed.add(id);
  await pieces.learn(engine, [...needed]);
  return new PromptLogprobs(dists, listed, pieces);
}
