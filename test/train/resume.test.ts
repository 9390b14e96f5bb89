import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCheckpoint } from "../../src/train/checkpoint.js";
import { repoRoot, tempDir } from "../helpers.js";

const child = join(repoRoot, "test", "train", "train-child.ts");
const STEPS = 40;

/** Runs to the end; returns the first step the run reported (1 for a fresh run, k+1 after a checkpoint at k). */
function runToEnd(dir: string, threads: number): number {
  const r = spawnSync(process.execPath, ["--import", "tsx", child, "--dir", dir, "--steps", String(STEPS), "--threads", String(threads)], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 240_000,
  });
  if (r.status !== 0) throw new Error(`training child failed (exit ${r.status}, signal ${r.signal}): ${r.stderr}`);
  return Number(/^step (\d+)$/m.exec(r.stdout)![1]);
}

/** Starts a run and SIGKILLs it as soon as it reports `killAt` (it is then mid-way through the next step). */
function runAndKill(dir: string, threads: number, killAt: number): Promise<{ firstReported: number; lastReported: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", child, "--dir", dir, "--steps", String(STEPS), "--threads", String(threads)], { cwd: repoRoot });
    let firstReported = 0;
    let lastReported = 0;
    let buffered = "";
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const m = /^step (\d+)$/.exec(line);
        if (m) {
          lastReported = Number(m[1]);
          if (firstReported === 0) firstReported = lastReported;
        }
        if (lastReported >= killAt) p.kill("SIGKILL");
      }
    });
    p.on("error", reject);
    p.on("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`child was meant to be killed but exited with ${code}: ${stderr}`));
      else resolve({ firstReported, lastReported });
    });
  });
}

function finalParams(dir: string): Map<string, Float32Array> {
  const ckpt = readCheckpoint(join(dir, "checkpoint.safetensors"));
  expect(ckpt.state.step).toBe(STEPS);
  expect(ckpt.state.examplesSeen).toBe(STEPS * 16);
  return new Map([...ckpt.tensors.params].map(([k, v]) => [k, v.data]));
}

describe("checkpoints resume exactly", () => {
  for (const threads of [1, 2]) {
    it(`a run SIGKILLed at random steps and resumed ends with the weights of an uninterrupted run (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
      const straight = tempDir("ts-train-straight-");
      expect(runToEnd(straight, threads)).toBe(1);

      const interrupted = tempDir("ts-train-killed-");
      // Two kills at random steps (the second after the first resume), logged so a failure can be replayed.
      const first = 2 + Math.floor(Math.random() * (STEPS / 2 - 2));
      const second = first + 1 + Math.floor(Math.random() * (STEPS - first - 3));
      console.log(`kill steps: ${first}, ${second} (threads ${threads})`);
      const k1 = await runAndKill(interrupted, threads, first);
      const atKill1 = readCheckpoint(join(interrupted, "checkpoint.safetensors")).state.step;
      expect(atKill1).toBeGreaterThanOrEqual(first);
      expect(atKill1).toBeLessThan(STEPS);
      expect(k1.lastReported).toBeLessThan(STEPS);
      expect(k1.firstReported).toBe(1);
      const k2 = await runAndKill(interrupted, threads, second);
      // The second run continued from the checkpoint instead of starting over.
      expect(k2.firstReported).toBe(atKill1 + 1);
      expect(k2.lastReported).toBeLessThan(STEPS);
      const atKill2 = readCheckpoint(join(interrupted, "checkpoint.safetensors")).state.step;
      expect(runToEnd(interrupted, threads)).toBe(atKill2 + 1);
      // A temporary file left by a kill during a checkpoint write is cleaned up by the next run.
      expect(readdirSync(interrupted).filter((f) => f.includes(".tmp-"))).toEqual([]);
      expect(existsSync(join(interrupted, "checkpoint.safetensors"))).toBe(true);

      const a = finalParams(straight);
      const b = finalParams(interrupted);
      let maxDiff = 0;
      for (const [name, x] of a) {
        const y = b.get(name)!;
        for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
      }
      console.log(`max |Δweight| after resume: ${maxDiff} (threads ${threads})`);
      expect(maxDiff).toBeLessThanOrEqual(1e-6);
    }, 300_000);
  }
});
