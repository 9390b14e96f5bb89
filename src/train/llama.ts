/** The embedded Llama model (src/model) as the trainer sees it. */
import type { LlamaModel } from "../model/llama.js";
import type { NamedParameter } from "./adamw.js";
import type { LlamaGrad } from "./llama-grad.js";
import type { Objective, SequenceLoss } from "./objective.js";
import type { TokenSequence } from "./token-loss.js";

/**
 * Parameters under their HF names. Weight decay applies to matrices (embeddings, linear layers) and not to the
 * RMSNorm gains, the usual choice for transformers (decaying a gain toward 0 fights the normalisation).
 */
export function llamaParameters(model: LlamaModel): NamedParameter[] {
  return model.specs.map((spec, i) => ({ name: spec.name, variable: model.variables[i], decay: spec.kind !== "norm" }));
}

/** Σ of each sequence's target log-probs (in float64, in token order). */
export function sequenceSums(logprobs: readonly Float32Array[]): Float64Array {
  return Float64Array.from(logprobs, (lp) => lp.reduce((a, x) => a + x, 0));
}

/**
 * A Llama objective: the hand-written forward pass gives each sequence's target log-probs, the loss their
 * gradient per sequence, and the hand-written backward pass turns that into parameter gradients (every target
 * token of sequence i gets upstream gradient dSums[i] / totalWeight). `weights` and `grads` follow the model's
 * parameter order (parameterSpecs).
 */
export function llamaObjective<E>(net: LlamaGrad, loss: SequenceLoss<E>): Objective<E> {
  return {
    name: loss.name,
    weight: (batch) => loss.weight(batch),
    tokens: (batch) => loss.tokens(batch),
    accumulate(weights, batch, totalWeight, grads) {
      const seqs = loss.sequences(batch);
      const fwd = net.forward(weights, seqs);
      const out = loss.loss(batch, sequenceSums(fwd.logprobs), fwd.correct);
      const upstream = seqs.map((s, i) => {
        const g = Math.fround(out.dSums[i] / totalWeight);
        // Entries at untrained positions are ignored by the backward pass.
        return new Float32Array(fwd.logprobs[i].length).fill(g);
      });
      net.backward(upstream, grads);
      return { lossSum: out.lossSum, metrics: out.metrics };
    },
  };
}

/** Each sequence's summed target log-probs under `weights` (forward only), in chunks of `chunk` sequences. */
export function sequenceLogprobSums(net: LlamaGrad, weights: readonly Float32Array[], seqs: readonly TokenSequence[], chunk = 16): Float64Array {
  const out = new Float64Array(seqs.length);
  for (let i = 0; i < seqs.length; i += chunk) {
    const part = seqs.slice(i, i + chunk);
    const fwd = net.forward(weights, part);
    net.release();
    out.set(sequenceSums(fwd.logprobs), i);
  }
  return out;
}

/** The current values of a model's parameters, in parameter order (copies). */
export function llamaWeights(model: LlamaModel): Float32Array[] {
  return model.variables.map((v) => Float32Array.from(v.dataSync() as Float32Array));
}
