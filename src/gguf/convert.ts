/**
 * `convert`: the direction follows the input — a `.gguf` file becomes an HF folder, a folder becomes a GGUF file.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { DEFAULT_OUTPUT_TYPE, OUTPUT_TYPES, type OutputType } from "./constants.js";
import { writeGgufFromFolder } from "./from-folder.js";
import { convertGgufToFolder } from "./to-folder.js";

export interface ConvertOptions {
  /** GGUF tensor type when writing GGUF (default DEFAULT_OUTPUT_TYPE); refused when reading one. */
  type?: string;
  /** Called after each tensor, for inputs of at least PROGRESS_MIN_BYTES (small models convert in well under a second). */
  onProgress?: (done: number, total: number) => void;
}

const PROGRESS_MIN_BYTES = 64 << 20;

export interface ConvertResult {
  direction: "gguf-to-folder" | "folder-to-gguf";
  input: string;
  output: string;
  /** GGUF type written (folder → GGUF). */
  type?: OutputType;
  /** Tensor types found in the GGUF (GGUF → folder). */
  sourceTypes?: Record<string, number>;
  tensors?: number;
  architecture?: string;
  seconds: number;
}

export async function convertModel(input: string, output: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  try {
    return await convert(input, output, opts);
  } catch (err) {
    // A file system refusal (no space, no permission, a file where a folder should be) is the user's to fix.
    if (!(err instanceof UserError) && typeof (err as NodeJS.ErrnoException).code === "string") {
      throw new UserError(`cannot write ${output}: ${(err as Error).message}`);
    }
    throw err;
  }
}

async function convert(input: string, output: string, opts: ConvertOptions): Promise<ConvertResult> {
  if (!existsSync(input)) throw new UserError(`${input} does not exist (expected a .gguf file or an HF model folder)`);
  const started = Date.now();
  const seconds = (): number => (Date.now() - started) / 1000;
  const isFolder = statSync(input).isDirectory();
  const weights = isFolder ? join(input, "model.safetensors") : input;
  const onProgress = existsSync(weights) && statSync(weights).size >= PROGRESS_MIN_BYTES ? opts.onProgress : undefined;
  if (isFolder) {
    const type = (opts.type ?? DEFAULT_OUTPUT_TYPE) as OutputType;
    if (!OUTPUT_TYPES.includes(type)) throw new UserError(`--type: expected one of ${OUTPUT_TYPES.join(", ")}, got "${opts.type}"`);
    if (existsSync(output) && statSync(output).isDirectory()) throw new UserError(`${output} is a directory; converting a folder writes a .gguf file`);
    await writeGgufFromFolder(input, output, { type, onProgress });
    return { direction: "folder-to-gguf", input, output, type, seconds: seconds() };
  }
  if (opts.type !== undefined) throw new UserError("--type applies to folder → GGUF; a GGUF is always converted to an F32 folder");
  if (existsSync(output) && !statSync(output).isDirectory()) throw new UserError(`${output} is a file; converting a GGUF writes a model folder`);
  const r = await convertGgufToFolder(input, output, { onProgress });
  return { direction: "gguf-to-folder", input, output, sourceTypes: r.sourceTypes, tensors: r.tensors, architecture: r.architecture, seconds: seconds() };
}
