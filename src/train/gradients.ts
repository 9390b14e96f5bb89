/**
 * Where gradients come from. The trainer asks for the gradient of (Σ over micro-batches of lossSum) / totalWeight;
 * a source computes it here, in this thread, or could split the work across worker threads — the trainer does not
 * care, as long as the sum is taken in a fixed order (that keeps runs reproducible).
 */
import * as tf from "@tensorflow/tfjs";
import type { NamedParameter } from "./adamw.js";
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

/** The step's gradients as host arrays in parameter order, with the loss and metric sums. */
export function accumulateGradients<E>(
  params: readonly NamedParameter[],
  objective: Objective<E>,
  microBatches: ReadonlyArray<readonly E[]>,
  totalWeight: number,
): { grads: Float32Array[]; lossSum: number; metricSums: Record<string, number>; tokens: number } {
  if (!(totalWeight > 0)) throw new Error(`objective ${objective.name}: the step has total weight ${totalWeight}; nothing to learn from`);
  const weights = params.map((p) => p.variable.dataSync() as Float32Array);
  const grads = params.map((p) => new Float32Array(p.variable.size));
  let lossSum = 0;
  const metricSums: Record<string, number> = {};
  let tokens = 0;
  for (const micro of microBatches) {
    if (micro.length === 0) continue;
    tokens += objective.tokens(micro);
    const r = objective.accumulate(weights, micro, totalWeight, grads);
    lossSum += r.lossSum;
    for (const [key, v] of Object.entries(r.metrics)) metricSums[key] = (metricSums[key] ?? 0) + v;
  }
  return { grads, lossSum, metricSums, tokens };
}

export function computeLocalGradients<E>(
  params: readonly NamedParameter[],
  objective: Objective<E>,
  microBatches: ReadonlyArray<readonly E[]>,
  totalWeight: number,
): GradientResult {
  const r = accumulateGradients(params, objective, microBatches, totalWeight);
  const grads = new Map(params.map((p, i) => [p.name, tf.tensor(r.grads[i], p.variable.shape, "float32")]));
  return { grads, lossSum: r.lossSum, metricSums: r.metricSums, tokens: r.tokens };
}
