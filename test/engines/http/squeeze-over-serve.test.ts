/**
 * The squeeze pipeline through `serve` and the vLLM dialect: the pair exports are byte-identical to an
 * in-process run, also when the server sits behind three fault-injecting replicas (one dies mid-run) and the
 * squeeze is killed with SIGKILL during sampling and resumed.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServeSchema } from "../../../src/config/schema.js";
import { serveModel, type ServeHandle } from "../../../src/serve/run.js";
import { countInRun, repoRoot, runCliAsync, tempDir } from "../../helpers.js";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.js";

// The ci preset with enough problems and samples that some pairs form and refinement accepts steps; 128 new tokens
// (level-1 answers finish) keep the several squeezes through HTTP quick.
const squeeze = ["squeeze", "--preset", "ci", "--limit", "16", "--samples", "8", "--max-tokens", "128", "--progress", "none"];
const exportsOf = ["pairs.trl.jsonl", "pairs.llama-factory.jsonl", "dataset_info.json"];
const model = join(repoRoot, "models", "world-base");

let server: ServeHandle;
let proxies: FaultProxy[] = [];
let inProcessDir: string;

beforeAll(async () => {
  server = await serveModel(ServeSchema.parse({ model, port: 0 }));
  inProcessDir = join(tempDir(), "in-process");
  const r = await runCliAsync([...squeeze, "--out", inProcessDir, "--json"], { timeoutMs: 300_000 });
  expect(r.status, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout) as { pairs: number; summary: { refinement: { stepsAccepted: number } } };
  expect(summary.pairs).toBeGreaterThan(0);
  expect(summary.summary.refinement.stepsAccepted).toBeGreaterThan(0);
}, 300_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.kill()));
  await server?.stop();
});

function sameExports(dir: string): void {
  for (const file of exportsOf) expect(readFileSync(join(dir, file)).equals(readFileSync(join(inProcessDir, file))), file).toBe(true);
}

describe("squeeze --preset ci through serve", () => {
  it("writes byte-identical pair exports to the in-process run", async () => {
    const dir = join(tempDir(), "served");
    const r = await runCliAsync([...squeeze, "--engine", "vllm", "--base-url", server.url, "--out", dir, "--json"], { timeoutMs: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).summary.refinement.estimator).toBe("exact");
    sameExports(dir);
  }, 300_000);

  it("over three faulty replicas (one dies), killed during sampling and resumed: the same exports", async () => {
    // No stalls here: a stall costs a whole request timeout, which must exceed the slowest real request (a
    // refinement score with full distributions); faults.test.ts covers stalls with short requests.
    const rates = { dropBefore: 0.02, dropAfter: 0.02, error500: 0.02, error429: 0.02, stall: 0, malformed: 0.02 };
    proxies = await Promise.all([11, 12, 13].map((seed) => startFaultProxy(server.url, rates, { seed })));
    const flags = [...squeeze, ...proxies.flatMap((p) => ["--base-url", p.url]), "--engine", "vllm", "--set", "engine.retries=40"];
    const dir = join(tempDir(), "faulty");

    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), ...flags, "--out", dir], { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    const sampled = (): number => countInRun(dir, `SELECT count(*) AS n FROM _items WHERE stage = 'sample' AND status = 'ok'`);
    const start = Date.now();
    while (sampled() < 3) {
      if (child.exitCode !== null) throw new Error(`squeeze exited before it could be killed:\n${stderr}`);
      if (Date.now() - start > 120_000) throw new Error(`no sampling progress within 120 s:\n${stderr}`);
      await sleep(20);
    }
    await proxies[2].kill();
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(sampled()).toBeLessThan(16);

    const resumed = await runCliAsync([...flags, "--out", dir, "--json"], { timeoutMs: 300_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    sameExports(dir);
    const faults = proxies.slice(0, 2).reduce((a, p) => a + p.counts.dropAfter + p.counts.error500 + p.counts.malformed + p.counts.dropBefore + p.counts.error429, 0);
    expect(faults).toBeGreaterThan(0);
  }, 300_000);
});
