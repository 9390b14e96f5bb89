/** Small, exactly learnable training tasks for the trainer tests (token ids directly; no tokenizer needed). */
import { makeConfig, type LlamaConfig } from "../../src/model/config.js";
import type { TokenSequence } from "../../src/train/token-loss.js";
import { Rng } from "../../src/util/rng.js";

export const BOS = 0;
export const EOS = 1;
export const EQUALS = 2;
/** Letters are ids 3 … 3+LETTERS−1. */
export const LETTERS = 26;

/** A 2-layer Llama of about 80k parameters over a 32-token vocabulary. */
export function tinyConfig(): LlamaConfig {
  return makeConfig({
    vocabSize: 32,
    hiddenSize: 64,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    intermediateSize: 128,
    maxPositionEmbeddings: 64,
    tieWordEmbeddings: true,
    bosTokenId: BOS,
    eosTokenIds: [EOS],
  });
}

/**
 * `count` strings "<bos> k1 k2 = v1 … vL <eos>": a unique two-letter key and a random value. The loss mask
 * covers the value and EOS only — the key is unpredictable, the value is fully determined by it, so a model
 * that memorises the table reaches 100% token accuracy on the masked part.
 */
export function keyValueStrings(count: number, valueLength: number, seed: number): TokenSequence[] {
  const rng = new Rng(seed);
  const keys = new Set<string>();
  const out: TokenSequence[] = [];
  while (out.length < count) {
    const k1 = rng.int(0, LETTERS - 1);
    const k2 = rng.int(0, LETTERS - 1);
    if (keys.has(`${k1},${k2}`)) continue;
    keys.add(`${k1},${k2}`);
    const value = Array.from({ length: valueLength }, () => 3 + rng.int(0, LETTERS - 1));
    const ids = [BOS, 3 + k1, 3 + k2, EQUALS, ...value, EOS];
    const lossMask = ids.map((_, i) => (i >= 4 ? 1 : 0));
    out.push({ ids, lossMask });
  }
  return out;
}
