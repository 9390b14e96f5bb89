/** Builds an SFT replica of a Llama model inside a gradient worker thread (see ./parallel.ts). */
import type { LlamaConfig } from "../model/config.js";
import { LlamaModel } from "../model/llama.js";
import type { LlamaWeights } from "../model/weights.js";
import { llamaParameters } from "./llama.js";
import type { Replica } from "./parallel.js";
import { sftObjective } from "./sft.js";
import type { TokenSequence } from "./token-loss.js";

export interface SftReplicaArgs {
  config: LlamaConfig;
  /** Initial weights; the trainer overwrites them before every step, so any weights of the right shapes do. */
  weights: LlamaWeights;
}

export async function createReplica(args: SftReplicaArgs): Promise<Replica<TokenSequence>> {
  const model = LlamaModel.fromWeights(args.config, args.weights);
  return { params: llamaParameters(model), objective: sftObjective(args.config) };
}
