/**
 * `tokensqueeze squeeze` killed with SIGKILL during `sample` and again during `refine`, then resumed, writes
 * byte-identical pair exports to an uninterrupted run (at another concurrency, so results depend on neither).
 * 200 training problems of the built-in world, with small sampling and refinement sizes (N = 4, K = 2, L = 16)
 * so the three runs fit in a minute or two of CI.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { countInRun, repoRoot, runCliAsync as runCli, tempDir } from "../helpers.js";

const args = [
  "squeeze",
  "--preset",
  "demo",
  "--limit",
  "200",
  "--samples",
  "4",
  "--set",
  "refinement.candidates=2",
  "--set",
  "refinement.window=16",
  "--seed",
  "11",
];

function doneItems(dir: string, stage: string): number {
  return countInRun(dir, `SELECT count(*) AS n FROM _items WHERE stage = ? AND status = 'ok'`, stage);
}

/** Starts the squeeze, waits until `stage` has committed at least `atLeast` items, and kills it with SIGKILL. */
async function killDuring(dir: string, stage: string, atLeast: number): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), ...args, "--concurrency", "1", "--out", dir, "--progress", "none"], {
    cwd: repoRoot,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
  const start = Date.now();
  while (doneItems(dir, stage) < atLeast) {
    if (child.exitCode !== null) throw new Error(`squeeze exited before it could be killed during ${stage}:\n${stderr}`);
    if (Date.now() - start > 300_000) throw new Error(`no ${stage} progress within 300 s:\n${stderr}`);
    await sleep(20);
  }
  child.kill("SIGKILL");
  expect(await exited).toBe("SIGKILL");
  return doneItems(dir, stage);
}

describe("squeeze: kill-safe resume", () => {
  it("SIGKILL during sample and during refine, resumed: byte-identical pair exports", async () => {
    const straightDir = join(tempDir(), "straight");
    const straight = await runCli([...args, "--concurrency", "3", "--out", straightDir, "--json", "--progress", "none"], { timeoutMs: 600_000 });
    expect(straight.status, straight.stderr).toBe(0);
    const summary = JSON.parse(straight.stdout) as { problems: number; pairs: number; acceptanceRate: number | null };
    expect(summary.problems).toBe(200);
    expect(summary.pairs).toBeGreaterThan(30);
    expect(summary.acceptanceRate).not.toBeNull();

    const dir = join(tempDir(), "killed");
    const inSample = await killDuring(dir, "sample", 5);
    expect(inSample).toBeLessThan(200);
    const inRefine = await killDuring(dir, "refine", 3);
    expect(doneItems(dir, "sample")).toBe(200);
    expect(inRefine).toBeGreaterThanOrEqual(3);

    const resumed = await runCli([...args, "--concurrency", "1", "--out", dir, "--json", "--progress", "none"], { timeoutMs: 600_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).pairs).toBe(summary.pairs);
    for (const file of ["pairs.trl.jsonl", "pairs.llama-factory.jsonl", "dataset_info.json"]) {
      expect(readFileSync(join(dir, file)).equals(readFileSync(join(straightDir, file))), file).toBe(true);
    }
  }, 1_500_000);
});
