/**
 * Scoring continuations after one shared prefix (METHOD.md stage 2): the prefix is encoded once; every
 * continuation forks its KV cache and all continuations run together. Position j of a continuation is scored
 * with the distribution after prefix + continuation[<j]; position 0 uses the prefix's last logits.
 */
import type { InferenceModel, KvCache, StepInput } from "./inference.js";

export type ScoreDistributions = "full" | "topk" | "none";

export interface ScoreOptions {
  /** Score only the first `window` tokens of each continuation. */
  window?: number;
  distributions: ScoreDistributions;
  topK?: number;
  /** Largest number of continuation tokens run in one forward call (bounds memory). */
  maxRowsPerStep?: number;
}

export interface ScoredTokens {
  tokenIds: number[];
  logprobs: number[];
  topLogprobs?: Array<Array<[number, number]>>;
  fullLogprobs?: Float32Array[];
}

/**
 * An encoded prefix: its KV cache contents and the log-distribution of the token after it. Encoding is
 * deterministic, so a prefix encoded on one thread and imported on another scores exactly like one encoded
 * there (the engine encodes once and shares it between its worker threads).
 */
export interface EncodedPrefix {
  /** KvCache.exportOwn() of the prefix's cache. */
  kv: Float32Array;
  /** log-probabilities of the next token after the prefix [V]. */
  lastLogp: Float32Array;
}

export function encodePrefix(model: InferenceModel, prefixIds: readonly number[]): EncodedPrefix {
  checkPrefix(model, prefixIds);
  const cache = model.newCache(prefixIds.length);
  try {
    const lastLogp = runPrefix(model, cache, prefixIds);
    return { kv: cache.exportOwn(), lastLogp };
  } finally {
    cache.release();
  }
}

function checkPrefix(model: InferenceModel, ids: readonly number[]): void {
  if (ids.length === 0) throw new RangeError("score needs a non-empty prefix (the first token has no distribution without context)");
  checkIds(model, ids);
}

function checkIds(model: InferenceModel, ids: readonly number[]): void {
  const V = model.config.vocabSize;
  for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`token id ${id} is outside the vocabulary`);
}

function runPrefix(model: InferenceModel, cache: KvCache, prefixIds: readonly number[]): Float32Array {
  return model.forwardLogProbs([{ cache, tokens: prefixIds, logits: "last" }]).logp;
}

export function scoreContinuations(
  model: InferenceModel,
  prefixIds: readonly number[],
  continuations: ReadonlyArray<readonly number[]>,
  opts: ScoreOptions,
  encoded?: EncodedPrefix,
): ScoredTokens[] {
  checkPrefix(model, prefixIds);
  for (const ids of continuations) checkIds(model, ids);
  const V = model.config.vocabSize;
  if (opts.distributions === "topk" && !(Number.isInteger(opts.topK) && (opts.topK as number) > 0)) throw new RangeError("distributions 'topk' needs a positive topK");
  const prefixCache = model.newCache(prefixIds.length);
  let prefixLogp: Float32Array;
  if (encoded !== undefined) {
    if (encoded.lastLogp.length !== V) throw new RangeError("encoded prefix is from a model with another vocabulary");
    prefixCache.importOwn(encoded.kv);
    if (prefixCache.length !== prefixIds.length) throw new RangeError(`encoded prefix has ${prefixCache.length} positions, the prefix ${prefixIds.length} tokens`);
    prefixLogp = encoded.lastLogp;
  } else prefixLogp = runPrefix(model, prefixCache, prefixIds);

  const windowed = continuations.map((c) => (opts.window !== undefined ? c.slice(0, opts.window) : c.slice()));
  const results: ScoredTokens[] = new Array(windowed.length);
  const maxRows = opts.maxRowsPerStep ?? 4096;
  let i = 0;
  while (i < windowed.length) {
    // A group of continuations whose tokens (less the last, whose successor is never scored) fit in maxRows.
    const group: number[] = [];
    let rows = 0;
    while (i < windowed.length && (group.length === 0 || rows + Math.max(0, windowed[i].length - 1) <= maxRows)) {
      rows += Math.max(0, windowed[i].length - 1);
      group.push(i++);
    }
    const inputs: StepInput[] = group.map((g) => ({ cache: prefixCache.fork(windowed[g].length), tokens: windowed[g].slice(0, -1), logits: "all" }));
    // All continuations' positions run as one batch of rows, log-softmax over the whole block at once. `logp`
    // is a view into the model's arena: everything kept below is copied out before the next model call.
    const { logp, first } = model.forwardLogProbs(inputs, { view: true });
    group.forEach((g, k) => {
      const ids = windowed[g];
      const out: ScoredTokens = { tokenIds: ids, logprobs: new Array<number>(ids.length) };
      // One buffer per continuation for its full distributions (positions ≥ 1 are views into it).
      const rows0 = first[k];
      const full = opts.distributions === "full" && ids.length > 1 ? logp.slice(rows0 * V, (rows0 + ids.length - 1) * V) : null;
      if (opts.distributions === "full") out.fullLogprobs = [];
      if (opts.distributions === "topk") out.topLogprobs = [];
      for (let j = 0; j < ids.length; j++) {
        if (j === 0) {
          out.logprobs[0] = prefixLogp[ids[0]];
          if (out.fullLogprobs) out.fullLogprobs.push(Float32Array.from(prefixLogp));
          if (out.topLogprobs) out.topLogprobs.push(topKOf(prefixLogp, opts.topK as number));
          continue;
        }
        const base = (rows0 + j - 1) * V;
        out.logprobs[j] = logp[base + ids[j]];
        if (full !== null) out.fullLogprobs!.push(full.subarray((j - 1) * V, j * V));
        if (out.topLogprobs) out.topLogprobs.push(topKOf(logp.subarray(base, base + V), opts.topK as number));
      }
      results[g] = out;
    });
    for (const inp of inputs) inp.cache.release();
  }
  prefixCache.release();
  return results;
}

/** The k largest entries as [id, logprob], descending (ties: lower id first). */
export function topKOf(lp: Float32Array, k: number): Array<[number, number]> {
  const n = Math.min(k, lp.length);
  const best: number[] = [];
  for (let i = 0; i < lp.length; i++) {
    if (best.length < n) {
      best.push(i);
      if (best.length === n) best.sort((a, b) => lp[b] - lp[a] || a - b);
      continue;
    }
    const last = best[n - 1];
    if (lp[i] > lp[last]) {
      let p = n - 1;
      while (p > 0 && lp[best[p - 1]] < lp[i]) {
        best[p] = best[p - 1];
        p--;
      }
      best[p] = i;
    }
  }
  if (best.length < n || n === lp.length) best.sort((a, b) => lp[b] - lp[a] || a - b);
  return best.map((i) => [i, lp[i]]);
}
