/**
 * Next-token log-probabilities and the masked token loss, shared by SFT and (through per-sequence sums) by
 * stage 3's preference losses. The target's log-probability is read with a one-hot product rather than `gather`
 * because the wasm backend has no gradient for gather.
 */
import * as tf from "@tensorflow/tfjs";
import type { PaddedBatch } from "../model/llama.js";

/**
 * log P(target | context) for every position: logits [B, T, V], targets [B, T] int32 → [B, T].
 *
 * A fused custom gradient, d/dlogits = dy · (onehot(target) − softmax(logits)): the stock logSumExp gradient
 * routes through `max` and a broadcast `equal` over [B, T, V] that the wasm backend runs on a slow generic path
 * (a third of a training step for a 1M-parameter model), although that term cancels mathematically.
 */
export function targetLogprobs(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  const vocab = logits.shape[2];
  const fused = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    // oneHot(…, "float32") returns zeros on the wasm backend (tfjs 4.22): build it as int32 and cast.
    const oneHot = tf.cast(tf.oneHot(targets, vocab), "float32");
    const lse = tf.logSumExp(x, -1, true);
    save([x, lse, oneHot]);
    const value = tf.sub(tf.sum(tf.mul(x, oneHot), -1), tf.squeeze(lse, [-1]));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
      const [savedX, savedLse, savedOneHot] = saved;
      return tf.mul(tf.expandDims(dy, -1), tf.sub(savedOneHot, tf.exp(tf.sub(savedX, savedLse))));
    };
    return { value, gradFunc };
  });
  return fused(logits) as tf.Tensor2D;
}

/** Number of positions where the argmax of the logits equals the target, counted where weights > 0. */
export function correctTargets(logits: tf.Tensor3D, targets: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const hit = tf.cast(tf.equal(tf.argMax(logits, -1), targets), "float32");
    return tf.sum(tf.mul(hit, tf.cast(tf.greater(weights, 0), "float32")));
  });
}

/** A padded, shifted micro-batch of token sequences: `inputs` predict `targets`; `weights` masks the loss. */
export interface TokenBatch {
  /** Tokens 0 … n−2 of each sequence, right-padded to T, with their 1/0 attention mask (host arrays). */
  inputs: PaddedBatch;
  /** [B, T] int32: tokens 1 … n−1 of each sequence, right-padded. */
  targets: tf.Tensor2D;
  /** [B, T] float32: 1 where the target counts toward the loss, 0 on padding and unmasked spans. */
  weights: tf.Tensor2D;
  /** Real (non-padding) input tokens in the batch. */
  realTokens: number;
  /** Σ weights. */
  targetCount: number;
}

export interface TokenSequence {
  ids: readonly number[];
  /**
   * Per token of `ids`: 1 if that token is a training target (predicted from the tokens before it), 0 if it is
   * context only (a prompt). Omitted: every token after the first is a target.
   */
  lossMask?: readonly number[];
}

/**
 * Builds the shifted, right-padded batch. Under a causal model real tokens never attend to the padding that
 * follows them, and padded targets carry weight 0, so padding changes nothing but the amount of work.
 */
export function collateTokenBatch(seqs: readonly TokenSequence[], padId = 0): TokenBatch {
  if (seqs.length === 0) throw new Error("collateTokenBatch: empty batch");
  const length = Math.max(...seqs.map((s) => s.ids.length - 1));
  if (length < 1) throw new Error("collateTokenBatch: every sequence needs at least 2 tokens");
  const b = seqs.length;
  const inputIds = new Int32Array(b * length).fill(padId);
  const inputMask = new Float32Array(b * length);
  const targets = new Int32Array(b * length).fill(padId);
  const weights = new Float32Array(b * length);
  let realTokens = 0;
  let targetCount = 0;
  seqs.forEach((s, row) => {
    if (s.lossMask !== undefined && s.lossMask.length !== s.ids.length) {
      throw new Error(`collateTokenBatch: lossMask has ${s.lossMask.length} entries for ${s.ids.length} tokens`);
    }
    for (let t = 0; t + 1 < s.ids.length; t++) {
      const at = row * length + t;
      inputIds[at] = s.ids[t];
      inputMask[at] = 1;
      targets[at] = s.ids[t + 1];
      const w = s.lossMask === undefined ? 1 : s.lossMask[t + 1] ? 1 : 0;
      weights[at] = w;
      targetCount += w;
    }
    realTokens += Math.max(0, s.ids.length - 1);
  });
  return {
    inputs: { batchSize: b, seqLen: length, ids: inputIds, mask: inputMask, targetCount },
    targets: tf.tensor2d(targets, [b, length], "int32"),
    weights: tf.tensor2d(weights, [b, length], "float32"),
    realTokens,
    targetCount,
  };
}

export function disposeTokenBatch(batch: TokenBatch): void {
  batch.targets.dispose();
  batch.weights.dispose();
}

/** Number of loss targets a sequence contributes (its weight under token-averaged SFT). */
export function targetCountOf(seq: TokenSequence): number {
  if (seq.lossMask === undefined) return Math.max(0, seq.ids.length - 1);
  let n = 0;
  for (let t = 1; t < seq.ids.length; t++) if (seq.lossMask[t]) n++;
  return n;
}
