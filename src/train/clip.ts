/**
 * Global-norm gradient clipping, the same arithmetic as `torch.nn.utils.clip_grad_norm_`: the norm is the 2-norm
 * of all gradients together, and gradients are scaled by min(1, maxNorm / (norm + 1e-6)).
 */
import * as tf from "@tensorflow/tfjs";

export function globalNorm(grads: Iterable<tf.Tensor>): number {
  const list = [...grads];
  if (list.length === 0) return 0;
  return tf.tidy(() => {
    const squares = list.map((g) => tf.sum(tf.square(g)));
    return Math.sqrt(tf.addN(squares).dataSync()[0]);
  });
}

export interface ClipResult {
  grads: Map<string, tf.Tensor>;
  /** The norm before clipping (what training logs report). */
  norm: number;
  /** The factor the gradients were multiplied by (1 when under the limit). */
  scale: number;
}

/**
 * Returns clipped gradients (new tensors; the inputs are disposed when they were replaced). With `maxNorm` ≤ 0
 * or Infinity nothing is clipped, but the norm is still measured.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): ClipResult {
  const norm = globalNorm(grads.values());
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return { grads, norm, scale: 1 };
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  if (scale >= 1) return { grads, norm, scale: 1 };
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    out.set(name, tf.mul(g, scale));
    g.dispose();
  }
  return { grads: out, norm, scale };
}
