/**
 * Where gradients come from. The trainer asks for the gradient of (Σ over micro-batches of lossSum) / totalWeight;
 * a source computes it here, in this thread, or could split the work across worker threads — the trainer does not
 * care, as long as the sum is taken in a fixed order (that keeps runs reproducible).
 */
import * as tf from "@tensorflow/tfjs";
import type { NamedParameter } from "./adamw.js";
import { installFastMatMulGradient } from "./matmul-grad.js";
import type { Objective } from "./objective.js";

export interface GradientResult {
  /** Gradient per parameter name (the caller disposes them). */
  grads: Map<string, tf.Tensor>;
  /** Σ lossSum over the micro-batches (not yet divided by the weight). */
  lossSum: number;
  /** Σ of each reported metric over the micro-batches. */
  metricSums: Record<string, number>;
  /** Tokens processed by the forward passes. */
  tokens: number;
}

export interface GradientSource<E> {
  compute(microBatches: ReadonlyArray<readonly E[]>, totalWeight: number): Promise<GradientResult>;
  close(): Promise<void>;
}

/** Computes every micro-batch in this thread, one after another, accumulating gradients in order. */
export class LocalGradientSource<E> implements GradientSource<E> {
  constructor(
    private readonly params: readonly NamedParameter[],
    private readonly objective: Objective<E>,
  ) {}

  async compute(microBatches: ReadonlyArray<readonly E[]>, totalWeight: number): Promise<GradientResult> {
    return computeLocalGradients(this.params, this.objective, microBatches, totalWeight);
  }

  async close(): Promise<void> {}
}

export function computeLocalGradients<E>(
  params: readonly NamedParameter[],
  objective: Objective<E>,
  microBatches: ReadonlyArray<readonly E[]>,
  totalWeight: number,
): GradientResult {
  installFastMatMulGradient();
  if (!(totalWeight > 0)) throw new Error(`objective ${objective.name}: the step has total weight ${totalWeight}; nothing to learn from`);
  const variables = params.map((p) => p.variable);
  const nameOf = new Map(params.map((p) => [p.variable.name, p.name]));
  let acc: Map<string, tf.Tensor> | undefined;
  let lossSum = 0;
  const metricSums: Record<string, number> = {};
  let tokens = 0;
  for (const micro of microBatches) {
    if (micro.length === 0) continue;
    tokens += objective.tokens(micro);
    let metrics: Record<string, tf.Scalar> | undefined;
    let sumTensor: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const out = objective.lossSum(micro);
      metrics = out.metrics;
      if (metrics) for (const t of Object.values(metrics)) tf.keep(t);
      sumTensor = tf.keep(out.sum);
      return tf.div(out.sum, totalWeight) as tf.Scalar;
    }, variables);
    value.dispose();
    lossSum += sumTensor!.dataSync()[0];
    sumTensor!.dispose();
    for (const [key, t] of Object.entries(metrics ?? {})) {
      metricSums[key] = (metricSums[key] ?? 0) + t.dataSync()[0];
      t.dispose();
    }
    if (acc === undefined) {
      acc = new Map();
      for (const [varName, g] of Object.entries(grads)) acc.set(nameOf.get(varName)!, g);
    } else {
      for (const [varName, g] of Object.entries(grads)) {
        const name = nameOf.get(varName)!;
        const prev = acc.get(name);
        if (prev === undefined) acc.set(name, g);
        else {
          acc.set(name, tf.add(prev, g));
          prev.dispose();
          g.dispose();
        }
      }
    }
  }
  return { grads: acc ?? new Map(), lossSum, metricSums, tokens };
}
