import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/store/index.js";
import { runJob } from "../fixtures/stage-job.js";
import { runCli, tempDir } from "../helpers.js";

describe("tokensqueeze runs show", () => {
  it("prints the manifest, stage states, table counts and history, as text and as JSON", async () => {
    const dir = join(tempDir("ts-show-"), "run");
    await runJob({ run: dir, items: 120, seed: 4, concurrency: 4, itemMs: 0, failKeys: ["item-00007"], onError: "record", argv: ["job", "--run", dir] }, { handleSignals: false });

    const json = runCli(["runs", "show", dir, "--json"]);
    expect(json.status, json.stderr).toBe(0);
    const s = JSON.parse(json.stdout) as RunSummary;
    expect(s.dir).toBe(dir);
    expect(s.seed).toBe(4);
    expect(s.model).toEqual({ name: "fixture-model", engine: "none" });
    expect(s.config).toEqual({ seed: 4, job: { items: 120, variant: "v1", concurrency: 4 } });
    expect(s.stages).toHaveLength(1);
    expect(s.stages[0]).toMatchObject({ name: "job", state: "complete-with-errors", done: 119, failed: 1, total: 120, records: 119 });
    expect(s.stages[0].lastError).toBe("item-00007: fixture failure at item-00007");
    expect(s.tables).toEqual([expect.objectContaining({ name: "job_outputs", version: 1, rows: 119, ownerStage: "job", key: ["key"] })]);
    expect(s.history.map((c) => [c.argv, c.state])).toEqual([[["job", "--run", dir], "ok"]]);

    const text = runCli(["runs", "show", dir]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Run ${dir}`);
    expect(text.stdout).toMatch(/model\s+fixture-model \(none\)/);
    expect(text.stdout).toMatch(/job\s+complete-with-errors\s+119\/120\s+1\s+119/);
    expect(text.stdout).toMatch(/job_outputs\s+v1\s+119\s+job\s+key/);
    expect(text.stdout).toContain("job: last error: item-00007: fixture failure at item-00007");
    expect(text.stderr).toBe("");
  });

  it("is a clear error (exit 2) for a directory that is not a run", () => {
    const dir = tempDir("ts-show-");
    const r = runCli(["runs", "show", dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`tokensqueeze: ${dir} is not a tokensqueeze run: it has no run.sqlite`);
    expect(r.stdout).toBe("");
  });
});
