/**
 * Stage 3 on the embedded trainer, end to end on the built-in model with a small run (short level-1 problems, so
 * it fits CI): the loss falls, every step's metrics are stored, the reference values are the pairs' own, the
 * model lands in <run>/model and loads, and a run killed with SIGKILL after a checkpoint and resumed ends with the
 * same weights as an uninterrupted one.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../../src/engines/factory.js";
import { loadModelFolder } from "../../src/model/folder.js";
import { referenceLogpsTable, tokenizePairs } from "../../src/squeeze/train.js";
import { RunStore } from "../../src/store/index.js";
import { countInRun, repoRoot, runCliAsync as runCli, tempDir } from "../helpers.js";

const squeezeArgs = [
  "--preset",
  "demo",
  "--set",
  "datasets=[{name: world-train, levels: [1, 2], limit: 24}]",
  "--samples",
  "8",
  "--set",
  "refinement.candidates=4",
  "--set",
  "refinement.window=32",
  "--set",
  "training.globalBatchSize=4",
  "--set",
  "training.microBatchSize=2",
  "--set",
  "training.learningRate=1e-3",
  "--set",
  "training.checkpointEvery=2",
  "--set",
  "training.heldOutFraction=0.25",
  "--set",
  "training.steps=8",
  "--seed",
  "3",
];
// The training settings are the run's (given when it was made), so continuing it needs no flags.
const trainArgs = ["--threads", "1"];

function stepsDone(dir: string): number {
  return countInRun(dir, `SELECT count(*) AS n FROM train_steps`);
}

interface TrainJson {
  steps: number;
  lossFirst: number;
  lossLast: number;
  heldOutRewardAccuracy: number | null;
  model: string;
  training: { pairs: number; heldOutPairs: number; resumedFromStep: number };
}

/**
 * The reference stage scores a problem's pairs together (the prompt once, each distinct response once); every
 * pair's values must be exactly those of the pair scored on its own.
 */
async function expectReferenceOfEachPairAlone(dir: string): Promise<void> {
  const folder = loadModelFolder(join(repoRoot, "models", "world-base"));
  const store = RunStore.open(dir, { readonly: true });
  const engine = await openEngine({ kind: "embedded", model: join(repoRoot, "models", "world-base") });
  try {
    const refs = new Map(store.table(referenceLogpsTable).all().map((r) => [`${r.problemId}/${r.chosenIndex}/${r.rejectedIndex}`, r]));
    const { pairs } = tokenizePairs(store, folder, Infinity);
    const problems = new Set(pairs.map((p) => p.problemId));
    // Problems with several pairs share the chosen answer: the case the grouping is for.
    expect(pairs.length).toBeGreaterThan(problems.size);
    for (const p of pairs.slice(0, 6)) {
      const promptLength = p.chosen.lossMask!.indexOf(1);
      const response = (ids: readonly number[]): number[] => ids.slice(promptLength);
      const res = await engine.score({ prefix: p.chosen.ids.slice(0, promptLength), continuations: [response(p.chosen.ids), response(p.rejected.ids)], distributions: "none" });
      const [chosen, rejected] = res.continuations.map((c) => c.logprobs.reduce((a, x) => a + x, 0));
      const ref = refs.get(`${p.problemId}/${p.chosenIndex}/${p.rejectedIndex}`);
      expect(ref).toBeDefined();
      expect(ref!.refChosen).toBe(chosen);
      expect(ref!.refRejected).toBe(rejected);
    }
  } finally {
    await engine.close();
    store.close();
  }
}

describe("train --backend embedded", () => {
  let base: string;
  beforeAll(async () => {
    base = join(tempDir(), "squeezed");
    const r = await runCli(["squeeze", ...squeezeArgs, "--out", base, "--progress", "none"], { timeoutMs: 300_000 });
    expect(r.status, r.stderr).toBe(0);
  }, 300_000);

  it("trains on the run's pairs: the loss falls, metrics are stored, the model loads", async () => {
    const dir = join(tempDir(), "straight");
    cpSync(base, dir, { recursive: true });
    const r = await runCli(["train", "--run", dir, ...trainArgs, "--json", "--progress", "none"], { timeoutMs: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as TrainJson;
    expect(out.steps).toBe(8);
    expect(out.training.pairs).toBeGreaterThan(0);
    expect(out.lossLast).toBeLessThan(out.lossFirst);
    expect(stepsDone(dir)).toBe(8);
    expect(out.model).toBe(join(dir, "model"));
    await expectReferenceOfEachPairAlone(dir);
    const gen = await runCli(["generate", "--model", out.model, "--prompt", "Compute 2+3.", "--n", "1", "--max-tokens", "8", "--json"]);
    expect(gen.status, gen.stderr).toBe(0);

    // Killed after a checkpoint, resumed: the same weights as the uninterrupted run, byte for byte.
    const killed = join(tempDir(), "killed");
    cpSync(base, killed, { recursive: true });
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "train", "--run", killed, ...trainArgs, "--progress", "none"], {
      cwd: repoRoot,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_c, signal) => resolve(signal)));
    const start = Date.now();
    // Step 3 is stored only after the step-2 checkpoint was written.
    while (stepsDone(killed) < 3) {
      if (child.exitCode !== null) throw new Error(`train exited before it could be killed:\n${stderr}`);
      if (Date.now() - start > 400_000) throw new Error(`no training progress within 400 s:\n${stderr}`);
      await sleep(50);
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(existsSync(join(killed, "model"))).toBe(false);
    const resumed = await runCli(["train", "--run", killed, ...trainArgs, "--json", "--progress", "none"], { timeoutMs: 600_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect((JSON.parse(resumed.stdout) as TrainJson).training.resumedFromStep).toBeGreaterThanOrEqual(2);
    expect(readFileSync(join(killed, "model", "model.safetensors")).equals(readFileSync(join(dir, "model", "model.safetensors")))).toBe(true);
  }, 1_200_000);

  it("--backend trl: prints the accelerate command, and runs it (TRL on CPU, one step) into <run>/model-trl", async () => {
    const dir = join(tempDir(), "trl");
    cpSync(base, dir, { recursive: true });
    const dry = await runCli(["train", "--run", dir, "--backend", "trl", "--dry-run", "--progress", "none"]);
    expect(dry.status, dry.stderr).toBe(0);
    const command = dry.stdout.trim();
    expect(command).toMatch(/accelerate launch .*trainer\/tokensqueeze_trainer\/train\.py --pairs \S*pairs\.trl\.jsonl --model \S*models\/world-base/);
    // The run's training section, spelled as the TRL trainer's flags.
    for (const flag of ["--objective dpo-l+sft", "--beta 0.1", "--lambda 1", "--eta 0.5", "--lr 0.001", "--global-batch 4", "--per-device-batch 2", "--max-steps 8"]) expect(command).toContain(flag);
    expect(existsSync(join(dir, "pairs.trl.jsonl"))).toBe(true);

    const run = await runCli(["train", "--run", dir, "--backend", "trl", "--set", "training.steps=1", "--force", "--json", "--progress", "none"], { timeoutMs: 600_000 });
    expect(run.status, run.stderr.slice(-3000)).toBe(0);
    const out = JSON.parse(run.stdout) as { backend: string; steps: number; lossFirst: number; model: string };
    expect(out.backend).toBe("trl");
    expect(out.steps).toBe(1);
    expect(Number.isFinite(out.lossFirst)).toBe(true);
    expect(existsSync(join(out.model, "model.safetensors"))).toBe(true);
  }, 900_000);
});
