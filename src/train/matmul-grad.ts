/**
 * A faster gradient for BatchMatMul on the tfjs wasm backend.
 *
 * The stock gradient computes dA = dY·Bᵀ and dB = Aᵀ·dY with matMul's transpose flags. On the wasm backend a
 * *rank-2* matmul (batch 1) with a transpose flag leaves XNNPACK's fast path: measured here, [2048,128]ᵀ·[2048,1024]
 * takes 987 ms with transposeA but 31 ms as transpose(A)·dY (the transpose itself costs 4 ms). Linear layers are
 * exactly that case, so the backward pass of a training step was ~20× slower than its forward. This gradient is
 * the same mathematics with explicit transposes for batch-1 operands; batched (rank ≥ 3, batch > 1) products keep
 * the flags, since there the explicit transpose measured no faster.
 *
 * It replaces the registered gradient globally (tfjs keeps one gradient per kernel), so the trainer installs it
 * once per thread before differentiating. Results equal the stock gradient up to float rounding.
 */
import * as tf from "@tensorflow/tfjs";

let installed = false;

function isBatchOne(t: tf.Tensor): boolean {
  return t.shape.slice(0, -2).every((d) => d === 1);
}

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(t, perm);
}

/** matMul(x, y, tA, tB), with explicit transposes where the wasm kernel is slow. */
function product(x: tf.Tensor, y: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  if ((transposeA || transposeB) && isBatchOne(x) && isBatchOne(y)) {
    return tf.matMul(transposeA ? swapLastTwo(x) : x, transposeB ? swapLastTwo(y) : y);
  }
  return tf.matMul(x, y, transposeA, transposeB);
}

export function installFastMatMulGradient(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient({
    kernelName: "BatchMatMul",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const g = dy as tf.Tensor;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return { a: () => product(g, b, false, true), b: () => product(a, g, true, false) };
      if (!transposeA && transposeB) return { a: () => product(g, b, false, false), b: () => product(g, a, true, false) };
      if (transposeA && !transposeB) return { a: () => product(b, g, false, true), b: () => product(a, g, false, false) };
      return { a: () => product(b, g, true, true), b: () => product(g, a, true, true) };
    },
  });
}
