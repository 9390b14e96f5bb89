/** Builds a stage-3 preference replica of a Llama model inside a gradient worker thread (see ./parallel.ts). */
import type { LlamaConfig } from "../model/config.js";
import { LlamaModel } from "../model/llama.js";
import type { LlamaWeights } from "../model/weights.js";
import { llamaParameters } from "./llama.js";
import type { Replica } from "./parallel.js";
import { preferenceObjective, type PairExample, type PreferenceSettings } from "./preference.js";

export interface PreferenceReplicaArgs {
  config: LlamaConfig;
  /** Initial weights; the trainer overwrites them before every step. */
  weights: LlamaWeights;
  settings: PreferenceSettings;
}

export async function createReplica(args: PreferenceReplicaArgs): Promise<Replica<PairExample>> {
  const model = LlamaModel.fromWeights(args.config, args.weights);
  return { params: llamaParameters(model), objective: preferenceObjective(args.config, args.settings) };
}
