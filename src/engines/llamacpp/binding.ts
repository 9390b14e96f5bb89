/**
 * Loading llama.cpp (node-llama-cpp 3.21.1) and a GGUF file.
 *
 * The native library is the CPU build that npm installed with node-llama-cpp (@node-llama-cpp/linux-x64 and
 * friends): `build: "never"` and `skipDownload` make a missing or unusable binary an error instead of a compile
 * or a download at run time. One binding serves the whole process (node-llama-cpp keeps per-binding state).
 *
 * llama.cpp reports load failures (an unknown architecture, a truncated tensor) only through its log, and
 * node-llama-cpp then throws a generic error; the log lines are therefore kept and put into our error message
 * rather than printed, so a command's stderr stays clean when nothing is wrong.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import { UserError } from "../../util/errors.js";
import { EngineUnavailableError } from "../engine.js";

const recentErrors: string[] = [];
let binding: Promise<Llama> | null = null;

function keepLog(level: LlamaLogLevel, message: string): void {
  if (level !== LlamaLogLevel.error && level !== LlamaLogLevel.fatal) return;
  const line = message.trim();
  if (line === "") return;
  recentErrors.push(line);
  if (recentErrors.length > 20) recentErrors.shift();
}

/** The process's llama.cpp binding (CPU only, prebuilt). */
export function llamaBinding(): Promise<Llama> {
  binding ??= getLlama({
    build: "never",
    gpu: false,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
    logger: keepLog,
  }).catch((err: unknown) => {
    binding = null;
    throw new EngineUnavailableError(
      `node-llama-cpp could not load its prebuilt CPU binary (${(err as Error).message}); reinstall with 'npm install' (this project never compiles llama.cpp at run time)`,
    );
  });
  return binding;
}

/** Checks that `path` is a GGUF file before llama.cpp sees it (its own errors on other files are vague). */
export function checkGgufFile(path: string, shownAs: string): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UserError(`--model ${shownAs}: not a file (the llamacpp engine reads one .gguf file)`);
    size = st.size;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`GGUF model not found: ${shownAs} (looked at ${path})`);
  }
  const head = Buffer.alloc(8);
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 8 || head.toString("latin1", 0, 4) !== "GGUF") {
    throw new UserError(`${path}: not a GGUF file (it does not start with the bytes "GGUF"); the llamacpp engine reads GGUF models (convert a Hugging Face folder with 'tokensqueeze convert')`);
  }
  const version = head.readUInt32LE(4);
  if (version < 2 || version > 3) throw new UserError(`${path}: GGUF version ${version} is not supported by llama.cpp (versions 2 and 3 are)`);
}

/** Loads a GGUF file into llama.cpp on the CPU; failures become a UserError naming the file and llama.cpp's reason. */
export async function loadGguf(path: string, shownAs: string): Promise<LlamaModel> {
  checkGgufFile(path, shownAs);
  const llama = await llamaBinding();
  const before = recentErrors.length;
  try {
    return await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  } catch (err) {
    const logged = recentErrors.slice(before).join("; ");
    recentErrors.length = 0;
    throw new UserError(`${path}: llama.cpp could not load this GGUF: ${(err as Error).message}${logged ? ` (llama.cpp: ${logged})` : ""}`);
  }
}
