/** Helpers for the store tests: run the fixture stage as a child process, watch its commits, read results. */
import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RunStore } from "../../src/store/index.js";
import { jobTable, type JobRecord } from "../fixtures/stage-job.js";
import { countInRun, repoRoot } from "../helpers.js";

export const stageJobScript = join(repoRoot, "test", "fixtures", "stage-job.ts");

export interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnJob(args: string[]): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", stageJobScript, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("close", (code, signal) => resolve({ code, signal })),
  );
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Items of stage "job" committed as done, read straight from run.sqlite (0 before the run exists). */
export function committedItems(dir: string, status: "ok" | "error" = "ok"): number {
  return countInRun(dir, `SELECT count(*) AS n FROM _items WHERE stage = 'job' AND status = ?`, status);
}

/** Whether stage "job" has been started (its row exists). */
export function stageStarted(dir: string): boolean {
  const path = join(dir, "run.sqlite");
  if (!existsSync(path)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    return db.prepare(`SELECT 1 FROM _stages WHERE name = 'job'`).get() !== undefined;
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000, child?: Child): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${child ? `\nchild stderr:\n${child.stderr()}` : ""}`);
    }
    if (child && child.proc.exitCode !== null) throw new Error(`child exited (${child.proc.exitCode}) while waiting for ${what}:\n${child.stderr()}`);
    await sleep(15);
  }
}

/** All records of the job table, in key order, plus the raw counts used to check for duplicates. */
export function readJob(dir: string): { records: JobRecord[]; rows: number; distinctKeys: number; okItems: number; errorItems: number } {
  const store = RunStore.open(dir, { readonly: true });
  try {
    const table = store.table(jobTable);
    const records = table.all();
    const rows = (store.db.prepare(`SELECT count(*) AS n FROM job_outputs`).get() as { n: number }).n;
    const distinctKeys = (store.db.prepare(`SELECT count(DISTINCT key) AS n FROM job_outputs`).get() as { n: number }).n;
    const okItems = store.doneKeys("job").size;
    const errorItems = store.itemErrors("job").length;
    return { records, rows, distinctKeys, okItems, errorItems };
  } finally {
    store.close();
  }
}
