/**
 * The "Done when": a stage over 10,000 items, killed with SIGKILL at five random moments and
 * resumed each time, ends with exactly 10,000 records, none duplicated, identical to an uninterrupted run
 * with the same seed. Plus clean interruption by SIGINT/SIGTERM and the second-SIGINT escape hatch.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../../src/store/index.js";
import { Rng } from "../../src/util/rng.js";
import { runJob, type JobRecord } from "../fixtures/stage-job.js";
import { tempDir } from "../helpers.js";
import { committedItems, readJob, spawnJob, stageStarted, waitFor } from "./job-helpers.js";

const ITEMS = 10_000;
const SEED = 7;
let reference: JobRecord[];

beforeAll(async () => {
  // The uninterrupted run, in this process, with other concurrency and no sleeping: the records must not
  // depend on either.
  const dir = join(tempDir("ts-ref-"), "run");
  const result = await runJob({ run: dir, items: ITEMS, seed: SEED, concurrency: 3, itemMs: 0 }, { handleSignals: false });
  expect(result.status).toBe("complete");
  reference = readJob(dir).records;
  expect(reference).toHaveLength(ITEMS);
});

describe("a stage killed with SIGKILL and resumed", () => {
  it("ends with exactly the records of an uninterrupted run after five kills at random moments", async () => {
    const dir = join(tempDir("ts-kill-"), "run");
    const args = ["--run", dir, "--items", String(ITEMS), "--seed", String(SEED), "--concurrency", "8", "--item-ms", "4"];
    const testSeed = Date.now() >>> 0;
    const rng = new Rng(testSeed);
    const log: string[] = [`test seed ${testSeed}`];
    let before = 0;
    for (let round = 1; round <= 5; round++) {
      const child = spawnJob(args);
      // Wait until this run has committed something of its own, then kill at a random moment after that.
      await waitFor(() => committedItems(dir) > before, `round ${round} to commit progress`, 60_000, child);
      const delayMs = rng.int(0, 400);
      await sleep(delayMs);
      child.proc.kill("SIGKILL");
      const exit = await child.exited;
      const after = committedItems(dir);
      log.push(`round ${round}: killed ${delayMs} ms after first commit; committed ${before} → ${after}`);
      // It was really killed mid-run: not finished, nothing committed lost, progress made.
      expect(exit.signal, log.join("\n")).toBe("SIGKILL");
      expect(after, log.join("\n")).toBeGreaterThan(before);
      expect(after, log.join("\n")).toBeLessThan(ITEMS);
      before = after;
    }
    // Resume with another concurrency: records must not depend on it (it is not a result-changing setting).
    const final = spawnJob([...args, "--concurrency", "32"]);
    const exit = await final.exited;
    expect(exit.code, final.stderr()).toBe(0);
    const summary = JSON.parse(final.stdout().trim()) as { ok: boolean; result: { resumed: number; processed: number } };
    expect(summary.ok).toBe(true);
    expect(summary.result.resumed).toBe(before);
    expect(summary.result.resumed + summary.result.processed).toBe(ITEMS);

    const got = readJob(dir);
    expect(got.rows).toBe(ITEMS);
    expect(got.distinctKeys).toBe(ITEMS);
    expect(got.okItems).toBe(ITEMS);
    expect(got.errorItems).toBe(0);
    expect(got.records).toEqual(reference);

    // The history shows five killed commands and the one that finished.
    const store = RunStore.open(dir, { readonly: true });
    const history = store.commands();
    store.close();
    expect(history.map((c) => c.status)).toEqual(["running", "running", "running", "running", "running", "ok"]);
    console.log(log.join("\n"));
  });
});

describe("interrupting a stage", () => {
  it("stops cleanly on SIGINT with exit 130, commits what finished and says how to resume", async () => {
    const dir = join(tempDir("ts-int-"), "run");
    const args = ["--run", dir, "--items", String(ITEMS), "--seed", String(SEED), "--concurrency", "8", "--item-ms", "4"];
    const child = spawnJob(args);
    await waitFor(() => committedItems(dir) > 0, "first commit", 60_000, child);
    await sleep(100);
    child.proc.kill("SIGINT");
    const exit = await child.exited;
    expect(exit.code, child.stderr()).toBe(130);
    expect(child.stderr()).toMatch(/SIGINT: stopping stage "job"/);
    expect(child.stderr()).toMatch(/interrupted by SIGINT: stage "job" stopped after \d+ of 10000 items; all finished work is saved/);
    expect(child.stderr()).toContain(`Resume with: node --import tsx test/fixtures/stage-job.ts ${args.join(" ")}`);

    const partial = readJob(dir);
    expect(partial.rows).toBeGreaterThan(0);
    expect(partial.rows).toBeLessThan(ITEMS);
    // Everything that finished is committed with its done mark, and nothing else.
    expect(partial.okItems).toBe(partial.rows);
    const store = RunStore.open(dir, { readonly: true });
    expect(store.stage("job")!.status).toBe("interrupted");
    expect(store.commands().at(-1)!.status).toBe("interrupted");
    store.close();

    const resume = spawnJob([...args, "--concurrency", "32"]);
    expect((await resume.exited).code, resume.stderr()).toBe(0);
    expect(readJob(dir).records).toEqual(reference);
  });

  it("exits at once with 130 on a second SIGINT even while items in flight ignore the first", async () => {
    const dir = join(tempDir("ts-int2-"), "run");
    // Items sleep ~20 s and ignore their abort signal; the grace period is a minute.
    const child = spawnJob(["--run", dir, "--items", "40", "--concurrency", "4", "--item-ms", "20000", "--ignore-abort", "--grace-ms", "60000"]);
    await waitFor(() => stageStarted(dir), "the stage to start", 60_000, child);
    await sleep(200);
    child.proc.kill("SIGINT");
    await sleep(500);
    expect(child.proc.exitCode).toBeNull(); // still draining after the first
    const t0 = Date.now();
    child.proc.kill("SIGINT");
    const exit = await child.exited;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(exit.code, child.stderr()).toBe(130);
    expect(child.stderr()).toMatch(/SIGINT again: quitting now/);
    const store = RunStore.open(dir, { readonly: true });
    expect(store.stage("job")!.status).toBe("interrupted");
    expect(store.commands().at(-1)!.status).toBe("interrupted");
    store.close();
  });

  it("stops cleanly on SIGTERM with exit 143", async () => {
    const dir = join(tempDir("ts-term-"), "run");
    const child = spawnJob(["--run", dir, "--items", "2000", "--concurrency", "4", "--item-ms", "5"]);
    await waitFor(() => committedItems(dir) > 0, "first commit", 60_000, child);
    child.proc.kill("SIGTERM");
    const exit = await child.exited;
    expect(exit.code, child.stderr()).toBe(143);
    expect(child.stderr()).toMatch(/interrupted by SIGTERM/);
    const partial = readJob(dir);
    expect(partial.okItems).toBe(partial.rows);
  });
});
