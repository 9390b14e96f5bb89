/**
 * Ending a command against a run: its history entry says whether it finished, failed or was interrupted.
 *
 *   const store = RunStore.openOrCreate(dir, { config, model, command: { argv: process.argv.slice(2) }, force });
 *   await withRun(store, async (store) => { await runStage({ store, ... }); });
 */
import { errorMessage } from "../util/errors.js";
import type { CommandStatus, RunStore } from "./run-store.js";
import { StageInterruptedError } from "./stage.js";

export function commandOutcome(err: unknown): { status: Exclude<CommandStatus, "running">; message?: string } {
  if (err === undefined) return { status: "ok" };
  if (err instanceof StageInterruptedError) return { status: "interrupted", message: err.message.split("\n")[0] };
  return { status: "failed", message: errorMessage(err).split("\n")[0] };
}

/** Runs `fn`, then closes the store recording how the command ended; rethrows `fn`'s error. */
export async function withRun<R>(store: RunStore, fn: (store: RunStore) => Promise<R>): Promise<R> {
  let result: R;
  try {
    result = await fn(store);
  } catch (err) {
    store.close(commandOutcome(err));
    throw err;
  }
  store.close({ status: "ok" });
  return result;
}
