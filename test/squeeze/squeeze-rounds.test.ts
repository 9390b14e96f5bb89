/**
 * `squeeze --rounds N`: N rounds of sample → select → refine → pairs → train, each sampling from the previous
 * round's trained model, through the CLI on the built-in model at CI sizes.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RunStore } from "../../src/store/index.js";
import { runCliAsync, tempDir } from "../helpers.js";

/** The ci preset (easy levels) with room for most level-2 answers too, so every round finds pairs. */
const SMALL = [
  "--preset", "ci",
  "--set", "sampling.maxTokens=384",
  "--limit", "6",
  "--threads", "1",
  "--progress", "none",
];

interface RoundJson {
  round: number;
  sampledFrom: string;
  model: string;
  run: string;
  pairs: number;
  steps: number;
}

describe("tokensqueeze squeeze --rounds", () => {
  const out = join(tempDir("ts-rounds-"), "run");
  let first: { status: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    first = await runCliAsync(["squeeze", ...SMALL, "--rounds", "2", "--out", out, "--json"], { timeoutMs: 600_000 });
  }, 620_000);

  it("trains every round, and round 2 samples from round 1's model", () => {
    expect(first.status, first.stderr).toBe(0);
    const r = JSON.parse(first.stdout) as { rounds: RoundJson[]; model: string };
    expect(r.rounds.map((x) => x.round)).toEqual([1, 2]);
    const [one, two] = r.rounds;
    expect(one.run).toBe(out);
    expect(two.run).toBe(join(out, "round-2"));
    expect(one.model).toBe(join(out, "model"));
    expect(two.sampledFrom).toBe(one.model);
    expect(r.model).toBe(two.model);
    for (const x of r.rounds) {
      expect(x.pairs).toBeGreaterThan(0);
      expect(x.steps).toBeGreaterThan(0);
      expect(existsSync(join(x.model, "model.safetensors"))).toBe(true);
    }
    // Each round's run records the model it sampled from: round 2's is round 1's trained weights, not the base.
    const a = RunStore.open(one.run, { readonly: true });
    const b = RunStore.open(two.run, { readonly: true });
    try {
      expect(b.model.name).not.toBe(a.model.name);
      expect(JSON.stringify(b.model)).not.toBe(JSON.stringify(a.model));
    } finally {
      a.close();
      b.close();
    }
  });

  it("continues from its records when run again (nothing is recomputed)", async () => {
    const again = await runCliAsync(["squeeze", ...SMALL, "--rounds", "2", "--out", out, "--json"], { timeoutMs: 300_000 });
    expect(again.status, again.stderr).toBe(0);
    const before = JSON.parse(first.stdout) as { rounds: RoundJson[] };
    const after = JSON.parse(again.stdout) as { rounds: RoundJson[] };
    expect(after.rounds.map((x) => [x.pairs, x.steps, x.model])).toEqual(before.rounds.map((x) => [x.pairs, x.steps, x.model]));
  }, 320_000);

  it("refuses bad --rounds and server engines with exit 2", async () => {
    const bad = await runCliAsync(["squeeze", "--preset", "ci", "--rounds", "0", "--out", join(tempDir(), "x")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--rounds/);
    const server = await runCliAsync(["squeeze", "--preset", "ci", "--rounds", "2", "--engine", "vllm", "--base-url", "http://127.0.0.1:9/v1", "--served-model", "m", "--out", join(tempDir(), "y")]);
    expect(server.status).toBe(2);
    expect(server.stderr).toMatch(/--rounds: .*only the embedded engine loads/);
  });
});
