/**
 * HF model folders: `config.json`, `model.safetensors`, `tokenizer.json`, `tokenizer_config.json` (with the
 * Jinja `chat_template`) and `generation_config.json`. A folder saved here loads in Python
 * `transformers.AutoModelForCausalLM` and a folder saved by transformers loads here (tests check both ways).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { InputError, UserError } from "../util/errors.js";
import { parseJsonText } from "../data/json-error.js";
import { configToJson, parseConfigJson, type LlamaConfig } from "./config.js";
import { readSafetensorsFile, writeSafetensorsFile } from "./safetensors.js";
import { ModelTokenizer } from "./tokenizer.js";
import { weightsFromTensorMap, weightsToTensorMap, type LlamaWeights } from "./weights.js";

export interface ModelFolder {
  dir: string;
  config: LlamaConfig;
  weights: LlamaWeights;
  tokenizer: ModelTokenizer;
  /** The Jinja chat template from tokenizer_config.json, or null. */
  chatTemplate: string | null;
  /** Raw generation_config.json ({} when absent). */
  generationConfig: Record<string, unknown>;
  /** End-of-sequence ids: config.json's, generation_config.json's and the tokenizer's eos_token, merged. */
  eosTokenIds: number[];
  /** sha256 of model.safetensors (the run store records it). */
  weightsSha256: string;
}

function readJson(file: string, required: boolean): Record<string, unknown> | null {
  if (!existsSync(file)) {
    if (required) throw new InputError({ file }, "file missing (an HF model folder needs config.json, model.safetensors and tokenizer.json)");
    return null;
  }
  const raw = parseJsonText(file, readFileSync(file, "utf8"));
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new InputError({ file }, "expected a JSON object");
  return raw as Record<string, unknown>;
}

/** Loads and checks a model folder; every problem names the file and field. */
export function loadModelFolder(dir: string): ModelFolder {
  if (!existsSync(dir)) throw new UserError(`model folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new UserError(`model folder ${dir} is not a directory`);
  const configFile = join(dir, "config.json");
  const config = parseConfigJson(readJson(configFile, true), configFile);
  const tokenizerFile = join(dir, "tokenizer.json");
  const tokenizerJson = readJson(tokenizerFile, true)!;
  const tokenizerConfigFile = join(dir, "tokenizer_config.json");
  const tokenizerConfig = readJson(tokenizerConfigFile, false) ?? {};
  const generationConfig = readJson(join(dir, "generation_config.json"), false) ?? {};
  const tokenizer = new ModelTokenizer({ tokenizerJson, tokenizerConfig }, tokenizerFile);
  if (tokenizer.size > config.vocabSize) {
    throw new InputError({ file: tokenizerFile }, `the tokenizer has ${tokenizer.size} tokens but config.json's vocab_size is ${config.vocabSize}`);
  }
  // transformers ≥ 4.43 may save the template as chat_template.jinja beside (or instead of) tokenizer_config.json's field;
  // the separate file wins, as it does in transformers.
  const jinjaFile = join(dir, "chat_template.jinja");
  const chatTemplate = existsSync(jinjaFile)
    ? readChatTemplate({ chat_template: readFileSync(jinjaFile, "utf8") }, jinjaFile)
    : readChatTemplate(tokenizerConfig, tokenizerConfigFile);

  const weightsFile = join(dir, "model.safetensors");
  if (!existsSync(weightsFile)) throw new InputError({ file: weightsFile }, "file missing (sharded checkpoints are not supported)");
  const bytes = readFileSync(weightsFile);
  const weightsSha256 = createHash("sha256").update(bytes).digest("hex");
  const { tensors } = readSafetensorsFile(weightsFile);
  const weights = weightsFromTensorMap(config, tensors, weightsFile);

  const eos = new Set<number>(config.eosTokenIds);
  const g = generationConfig.eos_token_id;
  if (typeof g === "number") eos.add(g);
  else if (Array.isArray(g)) for (const x of g) if (typeof x === "number") eos.add(x);
  const eosTok = specialTokenContent(tokenizerConfig.eos_token);
  if (eosTok !== null) {
    const id = tokenizer.tokenToId(eosTok);
    if (id !== undefined) eos.add(id);
  }
  return { dir, config, weights, tokenizer, chatTemplate, generationConfig, eosTokenIds: [...eos].sort((a, b) => a - b), weightsSha256 };
}

function readChatTemplate(tokenizerConfig: Record<string, unknown>, file: string): string | null {
  const t = tokenizerConfig.chat_template;
  if (t === undefined || t === null) return null;
  let template: string | null = null;
  if (typeof t === "string") template = t;
  else if (Array.isArray(t)) {
    // HF allows a list of named templates; "default" is the one used without a name.
    const def = (t as Array<{ name?: unknown; template?: unknown }>).find((x) => x.name === "default");
    if (def !== undefined && typeof def.template === "string") template = def.template;
  }
  if (template === null) throw new InputError({ file, field: "chat_template" }, "expected a Jinja template string");
  try {
    new Template(template);
  } catch (err) {
    throw new InputError({ file, field: "chat_template" }, `cannot parse the Jinja template: ${(err as Error).message}`);
  }
  return template;
}

/** tokenizer_config stores special tokens as a string or as {content: ...}. */
export function specialTokenContent(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v !== null && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return null;
}

/**
 * The token a training example ends with: the tokenizer's eos_token when it names one of its tokens, else the
 * first end-of-sequence id of the folder.
 */
export function trainingEosTokenId(folder: Pick<ModelFolder, "tokenizer" | "eosTokenIds">): number | undefined {
  const content = specialTokenContent(folder.tokenizer.files.tokenizerConfig.eos_token);
  return (content !== null ? folder.tokenizer.tokenToId(content) : undefined) ?? folder.eosTokenIds[0];
}

export interface SaveModelFolderInput {
  config: LlamaConfig;
  weights: LlamaWeights;
  /** Tokenizer files to write unchanged (e.g. `folder.tokenizer.files` of the model this one was trained from). */
  tokenizer: { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> };
  generationConfig?: Record<string, unknown>;
}

/** Writes an HF model folder (weights as F32 safetensors). Creates `dir` if needed; overwrites the five files. */
export function saveModelFolder(dir: string, input: SaveModelFolderInput): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(configToJson(input.config), null, 2) + "\n");
  writeSafetensorsFile(join(dir, "model.safetensors"), weightsToTensorMap(input.config, input.weights), { format: "pt" });
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(input.tokenizer.tokenizerJson) + "\n");
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(input.tokenizer.tokenizerConfig, null, 2) + "\n");
  const gen: Record<string, unknown> = {
    bos_token_id: input.config.bosTokenId,
    eos_token_id: input.config.eosTokenIds.length === 1 ? input.config.eosTokenIds[0] : input.config.eosTokenIds,
    ...(input.generationConfig ?? {}),
  };
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify(gen, null, 2) + "\n");
}
