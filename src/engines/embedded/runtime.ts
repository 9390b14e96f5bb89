/**
 * What one thread of the embedded engine runs: a tfjs backend, the inference model, a continuous-batching
 * generator and the scorer. The engine keeps one runtime per worker thread (or one in-thread with workers: 0).
 */
import { initTf, type TfBackendName } from "../../model/tf.js";
import type { LlamaConfig } from "../../model/config.js";
import { BatchGenerator, type GeneratedCompletion, type GenerationRequest } from "../../model/generate.js";
import { InferenceModel } from "../../model/inference.js";
import { encodePrefix, scoreContinuations, type EncodedPrefix, type ScoredTokens, type ScoreOptions } from "../../model/score.js";
import { ModelTokenizer, type TokenizerFiles } from "../../model/tokenizer.js";
import type { LlamaWeights } from "../../model/weights.js";

/** Everything a runtime needs, structured-clonable (sent to workers). */
export interface RuntimeSource {
  config: LlamaConfig;
  weights: LlamaWeights;
  tokenizer: TokenizerFiles;
  eosTokenIds: number[];
}

export interface RuntimeOptions {
  backend?: TfBackendName;
  /** Largest number of sequences one generation step advances. */
  maxBatch?: number;
}

export class ModelRuntime {
  private constructor(
    readonly model: InferenceModel,
    private readonly generator: BatchGenerator,
  ) {}

  static async create(source: RuntimeSource, opts: RuntimeOptions = {}): Promise<ModelRuntime> {
    await initTf(opts.backend ?? "wasm");
    const model = new InferenceModel(source.config, source.weights);
    const tokenizer = new ModelTokenizer(source.tokenizer);
    return new ModelRuntime(model, new BatchGenerator(model, tokenizer, source.eosTokenIds, { maxBatch: opts.maxBatch }));
  }

  generate(req: GenerationRequest): Promise<GeneratedCompletion[]> {
    return this.generator.generate(req);
  }

  score(prefix: readonly number[], continuations: ReadonlyArray<readonly number[]>, opts: ScoreOptions, encoded?: EncodedPrefix): ScoredTokens[] {
    return scoreContinuations(this.model, prefix, continuations, opts, encoded);
  }

  encodePrefix(prefix: readonly number[]): EncodedPrefix {
    return encodePrefix(this.model, prefix);
  }

  dispose(): void {
    this.model.dispose();
  }
}
