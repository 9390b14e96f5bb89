/**
 * Learning-rate schedules: linear warmup, then cosine, linear or constant decay to `minLrRatio · lr`.
 * A pure function of the step, so a resumed run needs nothing but the step counter to continue the schedule.
 */

export type DecayKind = "cosine" | "linear" | "constant";

export interface LrSchedule {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Optimizer steps of linear warmup from 0 (step 1 uses lr / warmupSteps). */
  warmupSteps: number;
  /** Total optimizer steps; decay ends here. */
  totalSteps: number;
  decay: DecayKind;
  /** Final learning rate as a fraction of `lr` (0 decays to zero). */
  minLrRatio: number;
}

/** Learning rate for the optimizer step numbered `step` (1-based: the first update is step 1). */
export function learningRateAt(schedule: LrSchedule, step: number): number {
  const { lr, warmupSteps, totalSteps, decay, minLrRatio } = schedule;
  if (step < 1) throw new Error(`learningRateAt: step must be ≥ 1, got ${step}`);
  if (warmupSteps > 0 && step <= warmupSteps) return (lr * step) / warmupSteps;
  const minLr = lr * minLrRatio;
  if (decay === "constant") return lr;
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / decaySteps);
  if (decay === "linear") return minLr + (lr - minLr) * (1 - progress);
  return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export function validateSchedule(schedule: LrSchedule): void {
  const { lr, warmupSteps, totalSteps, minLrRatio } = schedule;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`learning rate must be a positive number, got ${lr}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`total steps must be a positive integer, got ${totalSteps}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new Error(`warmup steps must be a non-negative integer, got ${warmupSteps}`);
  if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new Error(`minLrRatio must be in [0, 1], got ${minLrRatio}`);
}
