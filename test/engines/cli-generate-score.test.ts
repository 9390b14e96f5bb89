/** `tokensqueeze generate` and `tokensqueeze score` as a user runs them, on the tiny-llama fixture. */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot, runCli, tempDir } from "../helpers.js";
import { tinyLlamaDir } from "../model/reference.js";

interface GenerateJson {
  promptTokens: number;
  completions: Array<{ index: number; text: string; tokenIds: number[]; finishReason: string; stopReason?: string | number }>;
}

describe("tokensqueeze generate / score", () => {
  it("generate --json is reproducible for a seed and honours --stop, --n and --max-tokens", () => {
    const args = ["generate", "--model", tinyLlamaDir, "--prompt", "What is 6 times 7?", "--chat", "--n", "3", "--seed", "5", "--temperature", "0.8", "--top-p", "0.9", "--top-k", "40", "--max-tokens", "30", "--json"];
    const a = runCli(args);
    expect(a.stderr).toBe("");
    expect(a.status).toBe(0);
    const b = runCli(args);
    expect(b.stdout).toBe(a.stdout);
    const out = JSON.parse(a.stdout) as GenerateJson;
    expect(out.completions.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of out.completions) expect(c.tokenIds.length).toBeLessThanOrEqual(30);

    const stopped = JSON.parse(runCli([...args, "--stop", "\n"]).stdout) as GenerateJson;
    for (const c of stopped.completions) {
      expect(c.text.includes("\n")).toBe(false);
      if (c.finishReason === "stop" && typeof c.stopReason === "string") expect(c.stopReason).toBe("\n");
    }
    expect(stopped.completions.some((c) => c.stopReason === "\n")).toBe(true);
  });

  it("gives the same completions with worker threads, run from any directory", () => {
    const args = ["generate", "--model", tinyLlamaDir, "--prompt", "Ana has", "--n", "5", "--seed", "3", "--max-tokens", "12", "--json"];
    const inThread = runCli([...args, "--workers", "0"]);
    // From another directory (runCli's bare `--import tsx` only resolves inside the repo, so name the loader).
    const loader = pathToFileURL(join(repoRoot, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const threaded = spawnSync(process.execPath, ["--import", loader, join(repoRoot, "src", "cli", "main.ts"), ...args, "--workers", "2"], { cwd: tempDir(), encoding: "utf8", timeout: 120_000 });
    expect(threaded.stderr).toBe("");
    expect(threaded.status).toBe(0);
    expect(threaded.stdout).toBe(inThread.stdout);
  });

  it("generate prints completions as text by default", () => {
    const r = runCli(["generate", "--model", tinyLlamaDir, "--prompt", "Ana has", "--n", "2", "--max-tokens", "8", "--temperature", "0"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^--- completion 0 \(\d+ tokens, (length|stop token \d+ .*)\)\n/);
    expect(r.stdout).toContain("--- completion 1");
  });

  it("takes its defaults from the run configuration's evaluation section; the flags are spellings of its keys", () => {
    const base = ["generate", "--model", tinyLlamaDir, "--prompt", "Ana has", "--json"];
    const viaSet = runCli([...base, "--set", "evaluation.samples=3", "--set", "evaluation.maxTokens=6"]);
    expect(viaSet.status, viaSet.stderr).toBe(0);
    const viaFlags = runCli([...base, "--n", "3", "--max-tokens", "6", "--seed", "42", "--temperature", "0.6", "--top-p", "0.95"]);
    expect(viaFlags.stdout).toBe(viaSet.stdout);
    const out = JSON.parse(viaSet.stdout) as GenerateJson;
    expect(out.completions).toHaveLength(3);
    for (const c of out.completions) expect(c.tokenIds.length).toBeLessThanOrEqual(6);
    // The evaluation's 32768 max tokens do not fit the tiny model's 512-token context: said before sampling.
    const long = runCli([...base, "--n", "1"]);
    expect(long.status, long.stderr).toBe(0);
    expect(long.stderr).toMatch(/^warning: --max-tokens 32768 does not fit the model's context of 512 tokens after the \d+-token prompt/);
  });

  it("score --json gives per-token log-probs and their sum", () => {
    const r = runCli(["score", "--model", tinyLlamaDir, "--prefix", "What is 3 times 4?", "--continuation", " 3 × 4 = 12.", "--continuation", " no", "--top-k", "2", "--json"]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { prefixTokens: number; continuations: Array<{ tokens: Array<{ id: number; text: string; logprob: number; top: unknown[] }>; sum: number }> };
    expect(out.prefixTokens).toBeGreaterThan(3);
    expect(out.continuations).toHaveLength(2);
    const c = out.continuations[0];
    expect(c.tokens.map((t) => t.text).join("")).toBe(" 3 × 4 = 12.");
    expect(c.sum).toBeCloseTo(c.tokens.reduce((s, t) => s + t.logprob, 0), 10);
    for (const t of c.tokens) {
      expect(t.logprob).toBeLessThan(0);
      expect(t.top).toHaveLength(2);
    }
  });

  it("a missing model folder or a bad flag is a clear error with exit 2", () => {
    const missing = runCli(["generate", "--model", "/no/such/model", "--prompt", "x"]);
    expect(missing.status).toBe(2);
    // Opened through openEngine, like every command's model.
    expect(missing.stderr).toContain("model folder not found: /no/such/model");
    const scoreMissing = runCli(["score", "--model", "/no/such/model", "--prefix", "a", "--continuation", "b"]);
    expect(scoreMissing.status).toBe(2);
    expect(scoreMissing.stderr).toContain("model folder not found: /no/such/model");
    const badN = runCli(["generate", "--model", tinyLlamaDir, "--prompt", "x", "--n", "zero"]);
    expect(badN.status).toBe(2);
    expect(badN.stderr).toMatch(/--n: expected an integer ≥ 1, got "zero"/);
    const badP = runCli(["generate", "--model", tinyLlamaDir, "--prompt", "x", "--top-p", "1.5"]);
    expect(badP.status).toBe(2);
  });
});
