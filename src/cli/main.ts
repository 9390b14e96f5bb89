/**
 * The `tokensqueeze` command line. Each command lives in its own module under ./commands/ and exports
 * `register(program)`; modules import heavy dependencies (tfjs, the CAS) lazily inside their actions so
 * that `--help` and light commands start fast.
 */
import { Command, CommanderError } from "commander";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UserError } from "../util/errors.js";
import { packageVersion } from "../util/version.js";

export interface CommandModule {
  register(program: Command): void;
}

async function loadCommands(program: Command): Promise<void> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), "commands");
  const files = readdirSync(dir)
    .filter((f) => (f.endsWith(".js") || f.endsWith(".ts")) && !f.endsWith(".d.ts") && !f.endsWith(".map"))
    .sort();
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Partial<CommandModule>;
    if (typeof mod.register === "function") mod.register(program);
  }
}

export async function buildProgram(): Promise<Command> {
  const program = new Command();
  program
    .name("tokensqueeze")
    .description("Make reasoning LLMs think in fewer tokens without losing accuracy (the TokenSqueeze method).")
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  await loadCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through exitOverride with code 0; usage errors are exit 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UserError) {
      process.stderr.write(`tokensqueeze: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`tokensqueeze: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
const invokedThroughBin = process.argv[1] !== undefined && /tokensqueeze(\.js)?$/.test(process.argv[1]);
if (invokedDirectly || invokedThroughBin) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`tokensqueeze: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
