/**
 * `tokensqueeze convert <in> <out>`: a GGUF file (llama.cpp, Ollama) → an HF model folder the engines load, or an
 * HF model folder → a GGUF file (--type f32 | f16 | q8_0) that llama.cpp and Ollama run. Progress goes to stderr;
 * stdout gets one summary line, or a JSON object with --json.
 */
import type { Command } from "commander";
import { DEFAULT_OUTPUT_TYPE, OUTPUT_TYPES } from "../../gguf/constants.js";

interface ConvertFlags {
  type?: string;
  json?: boolean;
  progress?: string;
}

export function register(program: Command): void {
  program
    .command("convert")
    .description("convert a GGUF file to an HF model folder, or an HF model folder to a GGUF file (direction from <in>)")
    .argument("<in>", "a .gguf file or an HF model folder")
    .argument("<out>", "the model folder or .gguf file to write")
    .option("--type <type>", `GGUF tensor type when writing GGUF: ${OUTPUT_TYPES.join(" | ")} (default ${DEFAULT_OUTPUT_TYPE})`)
    .option("--json", "print the result as JSON")
    .option("--progress <mode>", "auto | bar | plain | json | none (stderr)")
    .action(async (input: string, output: string, flags: ConvertFlags) => {
      const { convertModel } = await import("../../gguf/index.js");
      const { createProgress, progressModeFrom } = await import("../../util/progress.js");
      const progress = createProgress({ mode: progressModeFrom(flags) });
      let started = false;
      const result = await convertModel(input, output, {
        type: flags.type,
        onProgress: (done, total) => {
          if (!started) progress.stageStart({ stage: "convert", total });
          started = true;
          progress.update({ done, failed: 0, resumed: 0 });
          if (done === total) progress.stageEnd({ status: "complete", done, failed: 0, resumed: 0 });
        },
      });
      if (flags.json) process.stdout.write(JSON.stringify(result) + "\n");
      else if (result.direction === "folder-to-gguf") process.stdout.write(`wrote ${result.output} (${result.type}) in ${result.seconds.toFixed(1)} s\n`);
      else {
        const types = Object.entries(result.sourceTypes ?? {}).map(([t, n]) => `${n} ${t}`).join(", ");
        process.stdout.write(`wrote ${result.output} (${result.architecture}, ${result.tensors} tensors from ${types}, as F32) in ${result.seconds.toFixed(1)} s\n`);
      }
    });
}
