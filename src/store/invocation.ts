/**
 * How to run a command again, written the way the user started it. Messages that tell the user what to type
 * (the resume hint after an interruption or a failure) use `commandLine` and nothing else, so they all agree:
 *
 *   npx tokensqueeze eval --out runs/x     when the process was started by `npx tokensqueeze …` (or `npm exec`)
 *   tokensqueeze eval --out runs/x         otherwise (the bin on PATH, or a global install)
 *
 * npx is recognised from the environment npm gives the command it runs: npm_command=exec,
 * npm_lifecycle_event=npx and npm_lifecycle_script naming the bin. All three are checked because npm's
 * variables are inherited: a tool started by `npx vitest` or `npm test` passes them on to every process it
 * starts, and those processes were not started by npx themselves.
 */

/** The name of the command-line program (package.json's bin). */
export const BIN_NAME = "tokensqueeze";

/** The words that start the CLI as this process was started: `["npx", "tokensqueeze"]` or `["tokensqueeze"]`. */
export function invocationPrefix(env: NodeJS.ProcessEnv = process.env): string[] {
  const script = (env.npm_lifecycle_script ?? "").trim().replace(/^(['"])(.*)\1$/, "$2");
  const viaNpx = env.npm_command === "exec" && env.npm_lifecycle_event === "npx" && script === BIN_NAME;
  return viaNpx ? ["npx", BIN_NAME] : [BIN_NAME];
}

/** `args` (the arguments after the program name) as one shell command line that starts the CLI the same way. */
export function commandLine(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  return [...invocationPrefix(env), ...args].map(shellQuote).join(" ");
}

/** Quotes one argument for a POSIX shell (left bare when it holds only safe characters). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-./=:@%+,]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
