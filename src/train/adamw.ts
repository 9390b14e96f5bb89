/**
 * AdamW (Loshchilov & Hutter) on TensorFlow.js ops, written to match `torch.optim.AdamW` step for step:
 * decoupled weight decay applied to the parameter before the Adam update, bias corrections computed in
 * double precision on the host (as PyTorch does with Python floats), `m` updated with a lerp. Deterministic:
 * the same gradients give bit-identical parameters on the same backend, which is what exact resume relies on.
 */
import * as tf from "@tensorflow/tfjs";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay coefficient (PyTorch's default is 0.01). */
  weightDecay: number;
}

export const defaultAdamWConfig: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** One trainable parameter as the optimizer sees it: a stable name (used by checkpoints) and its variable. */
export interface NamedParameter {
  name: string;
  variable: tf.Variable;
  /** Whether weight decay applies; conventionally matrices decay and norm gains do not. */
  decay: boolean;
}

/** The optimizer's state in host memory: what a checkpoint stores and restores. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  readonly config: AdamWConfig;
  private readonly params: NamedParameter[];
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private stepCount = 0;

  constructor(params: readonly NamedParameter[], config: Partial<AdamWConfig> = {}) {
    this.config = { ...defaultAdamWConfig, ...config };
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new Error(`AdamW: duplicate parameter name ${p.name}`);
      seen.add(p.name);
    }
    this.params = params.slice();
    for (const p of this.params) {
      this.m.set(p.name, tf.variable(tf.zerosLike(p.variable), false));
      this.v.set(p.name, tf.variable(tf.zerosLike(p.variable), false));
    }
  }

  /** Number of updates applied so far (PyTorch's `state["step"]`). */
  get step(): number {
    return this.stepCount;
  }

  /**
   * Applies one update with learning rate `lr`. `grads` maps parameter names to gradients; a parameter with no
   * gradient is left untouched (its moments are not decayed either, as in PyTorch where `p.grad is None`).
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.stepCount += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const t = this.stepCount;
    const biasCorrection1 = 1 - beta1 ** t;
    const biasCorrection2 = 1 - beta2 ** t;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    for (const p of this.params) {
      const g = grads.get(p.name);
      if (g === undefined) continue;
      const m = this.m.get(p.name)!;
      const v = this.v.get(p.name)!;
      tf.tidy(() => {
        const decayed = p.decay && weightDecay !== 0 ? tf.mul(p.variable, 1 - lr * weightDecay) : p.variable;
        // exp_avg.lerp_(grad, 1 - beta1)
        const m2 = tf.add(m, tf.mul(tf.sub(g, m), 1 - beta1));
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        const v2 = tf.add(tf.mul(v, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        // denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + eps; param.addcdiv_(exp_avg, denom, value=-step_size)
        const denom = tf.add(tf.div(tf.sqrt(v2), biasCorrection2Sqrt), eps);
        const updated = tf.sub(decayed, tf.mul(tf.div(m2, denom), stepSize));
        m.assign(m2);
        v.assign(v2);
        p.variable.assign(updated);
      });
    }
  }

  exportState(): AdamWState {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const p of this.params) {
      m.set(p.name, Float32Array.from(this.m.get(p.name)!.dataSync()));
      v.set(p.name, Float32Array.from(this.v.get(p.name)!.dataSync()));
    }
    return { step: this.stepCount, m, v };
  }

  importState(state: AdamWState): void {
    for (const p of this.params) {
      const m = state.m.get(p.name);
      const v = state.v.get(p.name);
      if (m === undefined || v === undefined) throw new Error(`AdamW state lacks moments for parameter ${p.name}`);
      const size = p.variable.size;
      if (m.length !== size || v.length !== size) {
        throw new Error(`AdamW state for ${p.name} has ${m.length} values; the parameter has ${size}`);
      }
      tf.tidy(() => {
        this.m.get(p.name)!.assign(tf.tensor(m, p.variable.shape, "float32"));
        this.v.get(p.name)!.assign(tf.tensor(v, p.variable.shape, "float32"));
      });
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
