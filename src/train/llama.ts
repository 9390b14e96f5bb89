/** The embedded Llama model (src/model) as the trainer sees it. */
import type { LlamaModel } from "../model/llama.js";
import type { NamedParameter } from "./adamw.js";
import type { CausalLm } from "./sft.js";

/**
 * Parameters under their HF names. Weight decay applies to matrices (embeddings, linear layers) and not to the
 * RMSNorm gains, the usual choice for transformers (decaying a gain toward 0 fights the normalisation).
 */
export function llamaParameters(model: LlamaModel): NamedParameter[] {
  return model.specs.map((spec, i) => ({ name: spec.name, variable: model.variables[i], decay: spec.kind !== "norm" }));
}

export function llamaCausalLm(model: LlamaModel): CausalLm {
  return {
    parameters: () => llamaParameters(model),
    forwardLogits: (batch) => model.forwardLogits(batch),
  };
}
