/**
 * Stage 2 reusing another run's refinements (what lets the ablation's selection arms share one refinement): a run
 * that reuses gives exactly the records it would have computed, and asks the engine for nothing it reused.
 */
import { cpSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/resolve.js";
import type { RunConfig } from "../../src/config/schema.js";
import type { Engine, GenerateRequest } from "../../src/engines/engine.js";
import { openEngine } from "../../src/engines/factory.js";
import { runSqueeze } from "../../src/squeeze/pipeline.js";
import { refinedResponsesTable, refinedStepsTable } from "../../src/squeeze/tables.js";
import { RunStore } from "../../src/store/index.js";
import { repoRoot, tempDir } from "../helpers.js";

/** Counts generate calls (the refinement's candidate sampling) and passes everything through. */
function counting(engine: Engine): { engine: Engine; calls: () => number } {
  let calls = 0;
  const generate = (req: GenerateRequest, opts?: Parameters<Engine["generate"]>[1]) => {
    calls++;
    return engine.generate(req, opts);
  };
  const wrapped = new Proxy(engine, {
    get: (target, prop, receiver) => {
      if (prop === "generate") return generate;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { engine: wrapped, calls: () => calls };
}

function rowsOf(dir: string): { responses: unknown[]; steps: unknown[] } {
  const s = RunStore.open(dir, { readonly: true });
  try {
    return { responses: s.table(refinedResponsesTable).all(), steps: s.table(refinedStepsTable).all() };
  } finally {
    s.close();
  }
}

describe("refine stage: reuse of another run's refinements", () => {
  const root = tempDir("ts-reuse-");
  const source = join(root, "q-dyn");
  let engine: Engine;
  let config: RunConfig;

  beforeAll(async () => {
    config = resolveConfig({
      preset: "ci",
      overrides: { "engine.model": join(repoRoot, "models", "world-base"), "sampling.maxTokens": 384, datasets: [{ name: "world-train", levels: [1, 2, 3], limit: 6 }] },
    });
    engine = await openEngine(config.engine, { cwd: repoRoot });
    await runSqueeze({ config, dir: source, steps: ["sample", "select", "refine"], create: true, engine, handleSignals: false });
    cpSync(source, join(root, "reused"), { recursive: true });
    cpSync(source, join(root, "computed"), { recursive: true });
  }, 600_000);

  afterAll(async () => {
    await engine?.close();
  });

  it("gives the records a fresh refinement gives, without sampling what it reused", async () => {
    const shortest = { ...config, selection: { ...config.selection, variant: "shortest" as const } };
    const reusedEngine = counting(engine);
    const donor = RunStore.open(source, { readonly: true });
    try {
      await runSqueeze({ config: shortest, dir: join(root, "reused"), steps: ["select", "refine"], create: false, force: true, engine: reusedEngine.engine, refineReuse: [{ store: donor }], handleSignals: false });
    } finally {
      donor.close();
    }
    const computedEngine = counting(engine);
    await runSqueeze({ config: shortest, dir: join(root, "computed"), steps: ["select", "refine"], create: false, force: true, engine: computedEngine.engine, handleSignals: false });

    const reused = rowsOf(join(root, "reused"));
    const computed = rowsOf(join(root, "computed"));
    expect(computed.responses.length).toBeGreaterThan(0);
    expect(computed.steps.length).toBeGreaterThan(0);
    expect(reused).toEqual(computed);
    // Every response shortest chose was also chosen (and refined) by q-dyn: nothing left to sample.
    expect(computedEngine.calls()).toBeGreaterThan(0);
    expect(reusedEngine.calls()).toBe(0);
  }, 600_000);

  it("does not reuse refinements made with other settings", async () => {
    const other = { ...config, selection: { ...config.selection, variant: "shortest" as const }, refinement: { ...config.refinement, epsilon: config.refinement.epsilon * 2 } };
    cpSync(source, join(root, "other"), { recursive: true });
    const e = counting(engine);
    const donor = RunStore.open(source, { readonly: true });
    try {
      await runSqueeze({ config: other, dir: join(root, "other"), steps: ["select", "refine"], create: false, force: true, engine: e.engine, refineReuse: [{ store: donor }], handleSignals: false });
    } finally {
      donor.close();
    }
    expect(e.calls()).toBeGreaterThan(0);
  }, 600_000);
});
