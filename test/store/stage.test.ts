import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  defineTable,
  RunStore,
  runStage,
  StageBusyError,
  StageFailedError,
  StageInterruptedError,
  StageParamsChangedError,
  type ItemContext,
} from "../../src/store/index.js";
import { jobItems, jobTable, runJob, type JobRecord } from "../fixtures/stage-job.js";
import { tempDir } from "../helpers.js";
import { readJob } from "./job-helpers.js";

const quiet = { handleSignals: false };

function runDir(): string {
  return join(tempDir("ts-stage-"), "run");
}

function insertionOrder(dir: string): string[] {
  const store = RunStore.open(dir, { readonly: true });
  const keys = store.db.prepare(`SELECT key FROM job_outputs ORDER BY rowid`).pluck().all() as string[];
  store.close();
  return keys;
}

describe("determinism", () => {
  it("gives identical records with concurrency 1 and 8 (and other batch sizes), whatever the completion order", async () => {
    const a = runDir();
    const b = runDir();
    await runJob({ run: a, items: 1500, seed: 3, concurrency: 1, itemMs: 0, batchSize: 1 }, quiet);
    // Sleeps of 0–6 ms (Node truncates timers to whole ms, so the spread must span several ms to reorder).
    await runJob({ run: b, items: 1500, seed: 3, concurrency: 8, itemMs: 3, batchSize: 200 }, quiet);
    const ra = readJob(a);
    const rb = readJob(b);
    expect(ra.records).toHaveLength(1500);
    expect(rb.records).toEqual(ra.records);
    // The runs really finished items in different orders (so the equality above means something).
    expect(insertionOrder(a)).toEqual(jobItems(1500).map((i) => i.key));
    expect(insertionOrder(b)).not.toEqual(insertionOrder(a));
  });

  it("gives different records for a different run seed", async () => {
    const a = runDir();
    const b = runDir();
    await runJob({ run: a, items: 50, seed: 3, concurrency: 4, itemMs: 0 }, quiet);
    await runJob({ run: b, items: 50, seed: 4, concurrency: 4, itemMs: 0 }, quiet);
    const ra = readJob(a).records;
    const rb = readJob(b).records;
    expect(rb.filter((r, i) => r.value === ra[i].value)).toHaveLength(0);
  });
});

describe("interruption and resumption in one process", () => {
  it("an aborted signal stops the stage (exit code 130) and a second run completes it identically", async () => {
    const ref = runDir();
    await runJob({ run: ref, items: 800, seed: 5, concurrency: 4, itemMs: 0 }, quiet);
    const dir = runDir();
    const controller = new AbortController();
    const first = runJob({ run: dir, items: 800, seed: 5, concurrency: 4, itemMs: 2, batchSize: 16 }, { ...quiet, signal: controller.signal });
    await sleep(150);
    controller.abort();
    const err = await first.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageInterruptedError);
    expect((err as StageInterruptedError).exitCode).toBe(130);
    const partial = readJob(dir);
    expect(partial.rows).toBeGreaterThan(0);
    expect(partial.rows).toBeLessThan(800);
    const result = await runJob({ run: dir, items: 800, seed: 5, concurrency: 4, itemMs: 0 }, quiet);
    expect(result.resumed).toBe(partial.rows);
    expect(result.processed).toBe(800 - partial.rows);
    expect(result.records).toBe(800 - partial.rows);
    expect(readJob(dir).records).toEqual(readJob(ref).records);
  });

  it("aborts items in flight through ctx.signal after the grace period, and drops them (redone on resume)", async () => {
    const store = RunStore.create(runDir(), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    const controller = new AbortController();
    const seenAbort: string[] = [];
    const run = runStage({
      store,
      stage: "slow",
      items: ["a", "b", "c"],
      keyOf: (k) => k,
      output: jobTable,
      concurrency: 3,
      interruptGraceMs: 50,
      handleSignals: false,
      signal: controller.signal,
      process: async (k, ctx: ItemContext) => {
        await sleep(60_000, undefined, { signal: ctx.signal }).catch((e: unknown) => {
          seenAbort.push(k);
          throw e;
        });
        return [];
      },
    });
    await sleep(50);
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(StageInterruptedError);
    expect(seenAbort.sort()).toEqual(["a", "b", "c"]);
    // Aborted items are neither done nor failures.
    expect(store.doneKeys("slow", { includeErrors: true }).size).toBe(0);
    expect(store.stage("slow")!.status).toBe("interrupted");
    store.close();
  });
});

describe("item failures", () => {
  it("stop (default): commits what finished, records the error, and names the item; a resume completes", async () => {
    const dir = runDir();
    const err = await runJob({ run: dir, items: 400, seed: 9, concurrency: 4, itemMs: 0, failKeys: ["item-00150"] }, quiet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageFailedError);
    expect((err as Error).message).toMatch(/stage "job" failed at item "item-00150": fixture failure at item-00150/);
    expect((err as Error).message).toMatch(/resume with: node --import tsx test\/fixtures\/stage-job.ts/);
    expect((err as StageFailedError).exitCode).toBe(1);
    const partial = readJob(dir);
    expect(partial.rows).toBeGreaterThanOrEqual(150);
    expect(partial.rows).toBeLessThan(400);
    expect(partial.okItems).toBe(partial.rows);
    expect(partial.errorItems).toBe(1);
    const store = RunStore.open(dir, { readonly: true });
    expect(store.stage("job")).toMatchObject({ status: "failed", lastError: "item-00150: fixture failure at item-00150" });
    expect(store.commands().at(-1)).toMatchObject({ status: "failed" });
    store.close();

    const result = await runJob({ run: dir, items: 400, seed: 9, concurrency: 4, itemMs: 0 }, quiet);
    expect(result.status).toBe("complete");
    const ref = runDir();
    await runJob({ run: ref, items: 400, seed: 9, concurrency: 2, itemMs: 0 }, quiet);
    expect(readJob(dir).records).toEqual(readJob(ref).records);
    expect(readJob(dir).errorItems).toBe(0);
  });

  it("record: goes on, ends complete-with-errors, and retries the failed items on the next run", async () => {
    const dir = runDir();
    const failKeys = ["item-00010", "item-00200"];
    const result = await runJob({ run: dir, items: 300, seed: 9, concurrency: 4, itemMs: 0, failKeys, onError: "record" }, quiet);
    expect(result).toMatchObject({ status: "complete-with-errors", processed: 298, failed: 2, records: 298 });
    const store = RunStore.open(dir, { readonly: true });
    expect(store.itemErrors("job").map((e) => [e.key, e.error])).toEqual([
      ["item-00010", "fixture failure at item-00010"],
      ["item-00200", "fixture failure at item-00200"],
    ]);
    store.close();
    const again = await runJob({ run: dir, items: 300, seed: 9, concurrency: 4, itemMs: 0, onError: "record" }, quiet);
    expect(again).toMatchObject({ status: "complete", resumed: 298, processed: 2, failed: 0 });
    expect(readJob(dir)).toMatchObject({ rows: 300, okItems: 300, errorItems: 0 });
  });

  it("record with maxErrors stops after that many failures", async () => {
    const store = RunStore.create(runDir(), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    const err = await runStage({
      store,
      stage: "flaky",
      items: Array.from({ length: 100 }, (_, i) => i),
      keyOf: (i) => String(i),
      output: jobTable,
      onItemError: "record",
      maxErrors: 3,
      handleSignals: false,
      process: () => {
        throw new Error("server down");
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageFailedError);
    expect((err as Error).message).toMatch(/stopped after too many failed items; the last item "2": server down/);
    expect(store.itemErrors("flaky")).toHaveLength(3);
    store.close();
  });

  it("a record conflicting with a stored one fails only its own item; the rest of the batch commits", async () => {
    const store = RunStore.create(runDir(), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    // Items 0..9 write key k(i mod 5): items 5..9 collide with 0..4 and carry different values.
    const result = await runStage({
      store,
      stage: "collide",
      items: Array.from({ length: 10 }, (_, i) => i),
      keyOf: (i) => `i${i}`,
      output: jobTable,
      onItemError: "record",
      batchSize: 100,
      handleSignals: false,
      process: (i): JobRecord[] => [{ key: `k${i % 5}`, index: i, value: i, draws: [], label: "x", even: true }],
    });
    expect(result).toMatchObject({ status: "complete-with-errors", processed: 5, failed: 5, records: 5 });
    const t = store.table(jobTable);
    expect(t.all().map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(store.itemErrors("collide").map((e) => e.key)).toEqual(["i5", "i6", "i7", "i8", "i9"]);
    expect(store.itemErrors("collide")[0].error).toMatch(/record \{key="k0"\} is already stored with different contents \(columns index, value\)/);
    store.close();
  });
});

describe("stored records are never lost or mixed", () => {
  it("a command with other parameters is refused and leaves every record as it was", async () => {
    const dir = runDir();
    await runJob({ run: dir, items: 200, seed: 2, concurrency: 4, itemMs: 0 }, quiet);
    const before = readJob(dir).records;
    // Another variant changes results: the run's config differs → refused at open.
    await expect(runJob({ run: dir, items: 200, seed: 2, concurrency: 4, itemMs: 0, variant: "v2" }, quiet)).rejects.toThrow(
      /job.variant: "v1" → "v2"/,
    );
    expect(readJob(dir).records).toEqual(before);
  });

  it("a stage whose own parameters changed refuses to mix, even when the run config did not catch it", async () => {
    const store = RunStore.create(runDir(), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    const run = (n: number) =>
      runStage({
        store,
        stage: "job",
        params: { n },
        items: jobItems(20),
        keyOf: (it) => it.key,
        output: jobTable,
        handleSignals: false,
        process: (it): JobRecord[] => [{ key: it.key, index: it.index, value: n, draws: [], label: "", even: true }],
      });
    await run(1);
    const err = await run(2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageParamsChangedError);
    expect((err as Error).message).toMatch(/stage "job" in run .* holds 20 items made with other parameters:\n {2}params.n: 1 → 2/);
    expect(store.table(jobTable).all().every((r) => r.value === 1)).toBe(true);
    expect(store.stage("job")!.status).toBe("complete");
    store.close();
  });

  it("with --force the old records are archived, not deleted, and the stage starts afresh", async () => {
    const dir = runDir();
    await runJob({ run: dir, items: 200, seed: 2, concurrency: 4, itemMs: 0 }, quiet);
    const v1 = readJob(dir).records;
    const result = await runJob({ run: dir, items: 200, seed: 2, concurrency: 4, itemMs: 0, variant: "v2", force: true }, quiet);
    expect(result).toMatchObject({ resumed: 0, processed: 200 });
    const v2 = readJob(dir).records;
    expect(v2.every((r) => r.label.startsWith("v2:"))).toBe(true);
    const store = RunStore.open(dir, { readonly: true });
    const archived = store.db.prepare(`SELECT * FROM job_outputs__archived_1 ORDER BY key`).all() as Array<Record<string, unknown>>;
    expect(archived.map((r) => r.label)).toEqual(v1.map((r) => r.label));
    expect(store.stages().map((s) => [s.name, s.status, s.done])).toEqual([
      ["job__archived_1", "archived", 200],
      ["job", "complete", 200],
    ]);
    expect(store.tables().map((t) => [t.name, t.rows, t.ownerStage])).toEqual([
      ["job_outputs", 200, "job"],
      ["job_outputs__archived_1", 200, "job__archived_1"],
    ]);
    store.close();
  });
});

describe("stage bookkeeping", () => {
  it("commits records written through ctx.put with the item, and a table has one owner stage", async () => {
    interface Step {
      key: string;
      step: number;
      text: string;
    }
    const steps = defineTable<Step>()({ name: "steps", version: 1, key: ["key", "step"], columns: { key: "text", step: "integer", text: "text" } });
    const store = RunStore.create(runDir(), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    await runStage({
      store,
      stage: "split",
      items: jobItems(30),
      keyOf: (it) => it.key,
      output: jobTable,
      concurrency: 3,
      handleSignals: false,
      process: (it, ctx): JobRecord[] => {
        ctx.put(steps, [0, 1, 2].map((step) => ({ key: it.key, step, text: `${it.key}#${step}` })));
        return [{ key: it.key, index: it.index, value: ctx.rng.next(), draws: [], label: "", even: false }];
      },
    });
    expect(store.table(steps).count()).toBe(90);
    expect(store.stage("split")!.tables.sort()).toEqual(["job_outputs", "steps"]);
    await expect(
      runStage({
        store,
        stage: "other",
        items: [1],
        keyOf: String,
        output: steps,
        handleSignals: false,
        process: () => [],
      }),
    ).rejects.toThrow(/table "steps" belongs to stage "split"; stage "other" cannot write to it/);
    store.close();
  });

  it("rejects duplicate and empty item keys, after committing what finished", async () => {
    const newStore = () => RunStore.create(runDir(), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    const base = { output: jobTable, handleSignals: false, process: (): JobRecord[] => [] };
    const s1 = newStore();
    await expect(runStage({ ...base, store: s1, stage: "dup", items: ["a", "b", "a"], keyOf: (k: string) => k })).rejects.toThrow(
      /two items have the key "a"; keys must be unique/,
    );
    expect(s1.doneKeys("dup")).toEqual(new Set(["a", "b"]));
    expect(s1.stage("dup")!.status).toBe("failed");
    s1.close();
    const s2 = newStore();
    await expect(runStage({ ...base, store: s2, stage: "empty", items: ["x"], keyOf: () => "" })).rejects.toThrow(/keys must be non-empty strings/);
    s2.close();
  });

  it("takes an async item source with a total", async () => {
    const store = RunStore.create(runDir(), { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    async function* source() {
      for (const it of jobItems(25)) {
        await sleep(0);
        yield it;
      }
    }
    const result = await runStage({
      store,
      stage: "stream",
      items: source(),
      total: 25,
      keyOf: (it) => it.key,
      output: jobTable,
      concurrency: 4,
      handleSignals: false,
      process: (it, ctx): JobRecord[] => [{ key: it.key, index: it.index, value: ctx.rng.next(), draws: [], label: "", even: true }],
    });
    expect(result).toMatchObject({ total: 25, processed: 25, records: 25 });
    store.close();
  });

  it("refuses to run a stage another live process is running, and takes over from a dead one", async () => {
    const dir = runDir();
    const store = RunStore.create(dir, { config: { seed: 1 }, model: { name: "m", engine: "none" } });
    const opts = { store, stage: "job", items: jobItems(5), keyOf: (it: { key: string }) => it.key, output: jobTable, handleSignals: false, process: (): JobRecord[] => [] };
    await runStage(opts);
    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      store.db.prepare(`UPDATE _stages SET status = 'running', owner_pid = ? WHERE name = 'job'`).run(other.pid);
      await expect(runStage(opts)).rejects.toBeInstanceOf(StageBusyError);
      await expect(runStage(opts)).rejects.toThrow(new RegExp(`stage "job" in run .* is being run by process ${other.pid}`));
    } finally {
      other.kill("SIGKILL");
      await new Promise((r) => other.on("close", r));
    }
    expect(store.stage("job")!.ownerGone).toBe(true);
    await expect(runStage(opts)).resolves.toMatchObject({ status: "complete", resumed: 5 });
    store.close();
  });
});
