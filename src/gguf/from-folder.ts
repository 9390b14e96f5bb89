/** HF model folder → GGUF (F32, F16 or Q8_0), runnable by llama.cpp and Ollama. */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseJsonText } from "../data/json-error.js";
import { parseConfigJson } from "../model/config.js";
import { parameterSpecs } from "../model/weights.js";
import { InputError, UserError } from "../util/errors.js";
import { FILE_TYPE, GGML_TYPE, OUTPUT_TYPES, type OutputType } from "./constants.js";
import { configToMetadata } from "./config-metadata.js";
import { meta, type Metadata } from "./metadata.js";
import { encodeTensor } from "./quantize.js";
import { ropeFreqFactors } from "./rope-factors.js";
import { hfToGgufName, permuteRows, permutedHeads } from "./tensor-names.js";
import { LazySafetensors } from "./safetensors-lazy.js";
import { hfTokenizerToGguf } from "./tokenizer.js";
import { writeGgufFile, type TensorToWrite } from "./write.js";

export interface WriteGgufOptions {
  type: OutputType;
  /** Called after each tensor is written. */
  onProgress?: (done: number, total: number) => void;
}

function readJsonObject(file: string): Record<string, unknown> {
  const raw = parseJsonText(file, readFileSync(file, "utf8"));
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new InputError({ file }, "expected a JSON object");
  return raw as Record<string, unknown>;
}

/** The ggml type a tensor is stored as: 1-D tensors (norms, biases) stay F32, as llama.cpp's converter keeps them. */
function storageType(out: OutputType, dims: number[]): number {
  if (dims.length === 1 || out === "f32") return GGML_TYPE.F32;
  if (out === "q8_0" && dims[0] % 32 === 0) return GGML_TYPE.Q8_0;
  return GGML_TYPE.F16;
}

export async function writeGgufFromFolder(folder: string, out: string, opts: WriteGgufOptions): Promise<void> {
  if (!OUTPUT_TYPES.includes(opts.type)) throw new UserError(`GGUF type ${JSON.stringify(opts.type)} is not supported (${OUTPUT_TYPES.join(", ")})`);
  if (!existsSync(folder)) throw new UserError(`model folder ${folder} does not exist`);
  for (const f of ["config.json", "tokenizer.json"]) {
    if (!existsSync(join(folder, f))) throw new InputError({ file: join(folder, f) }, "file missing (an HF model folder needs config.json, model.safetensors and tokenizer.json)");
  }
  const configFile = join(folder, "config.json");
  const cfg = parseConfigJson(readJsonObject(configFile), configFile);
  const tokenizerJson = readJsonObject(join(folder, "tokenizer.json"));
  const tokenizerConfigFile = join(folder, "tokenizer_config.json");
  const tokenizerConfig = existsSync(tokenizerConfigFile) ? readJsonObject(tokenizerConfigFile) : {};
  const jinja = join(folder, "chat_template.jinja");
  const chatTemplate = existsSync(jinja) ? readFileSync(jinja, "utf8") : typeof tokenizerConfig.chat_template === "string" ? tokenizerConfig.chat_template : null;

  const metadata: Metadata = new Map();
  metadata.set("general.architecture", meta.str(cfg.architecture));
  metadata.set("general.type", meta.str("model"));
  metadata.set("general.name", meta.str(basename(resolve(folder))));
  metadata.set("general.file_type", meta.u32(FILE_TYPE[opts.type]));
  if (opts.type === "q8_0") metadata.set("general.quantization_version", meta.u32(2));
  for (const [k, v] of configToMetadata(cfg)) metadata.set(k, v);
  const tokenizerMeta = hfTokenizerToGguf({
    tokenizerJson,
    tokenizerConfig,
    chatTemplate,
    vocabSize: cfg.vocabSize,
    bosTokenId: cfg.bosTokenId,
    eosTokenId: cfg.eosTokenIds[0] ?? null,
    padTokenId: cfg.padTokenId,
    file: join(folder, "tokenizer.json"),
  });
  for (const [k, v] of tokenizerMeta) metadata.set(k, v);

  const tensors = LazySafetensors.openFolder(folder);
  const toWrite: TensorToWrite[] = [];
  if (cfg.ropeScaling !== null) {
    const factors = ropeFreqFactors(cfg.headDim, cfg.ropeTheta, cfg.ropeScaling);
    toWrite.push({ name: "rope_freqs.weight", dims: [factors.length], type: GGML_TYPE.F32, encode: () => encodeTensor(GGML_TYPE.F32, factors) });
  }
  for (const spec of parameterSpecs(cfg)) {
    const shape = tensors.shape(spec.name);
    if (shape === undefined) throw new InputError({ file: join(folder, "model.safetensors"), field: spec.name }, "tensor missing");
    const hfShape = spec.transposed ? [spec.shape[1], spec.shape[0]] : spec.shape;
    if (shape.length !== hfShape.length || shape.some((d, i) => d !== hfShape[i])) {
      throw new InputError({ file: tensors.file(spec.name)!, field: spec.name }, `shape [${shape.join(", ")}] does not match config.json (expected [${hfShape.join(", ")}])`);
    }
    const name = hfToGgufName(spec.name);
    if (name === undefined) throw new Error(`no GGUF name for ${spec.name}`);
    // ggml lists dimensions fastest first: HF [out, in] is [in, out] there, with the same bytes.
    const dims = [...shape].reverse();
    const type = storageType(opts.type, dims);
    const heads = permutedHeads(cfg.architecture, spec.name, cfg.numAttentionHeads, cfg.numKeyValueHeads);
    const cols = shape.length === 2 ? shape[1] : 1;
    // Read when written: one tensor in memory at a time.
    toWrite.push({
      name,
      dims,
      type,
      encode: () => {
        const data = tensors.read(spec.name);
        return encodeTensor(type, heads === null ? data : permuteRows(data, heads, cols, true));
      },
    });
  }
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeGgufFile(out, metadata, toWrite, opts.onProgress);
}
