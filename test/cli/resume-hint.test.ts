/**
 * The resume hint reproduces how the command was started: `npx tokensqueeze …` when npx started it, else the
 * bin name (src/store/invocation.ts), whichever command prints it.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { commandLine, invocationPrefix } from "../../src/store/index.js";
import { countInRun, repoRoot, tempDir } from "../helpers.js";

/** What npm gives the command `npx tokensqueeze …` runs (npm 11; checked by running npx on a test bin). */
const npxEnv = { npm_command: "exec", npm_lifecycle_event: "npx", npm_lifecycle_script: "'tokensqueeze'" };
const noNpm = { npm_command: undefined, npm_lifecycle_event: undefined, npm_lifecycle_script: undefined };

describe("invocationPrefix / commandLine", () => {
  it("names npx when npx started the bin, else the bin", () => {
    expect(invocationPrefix(npxEnv)).toEqual(["npx", "tokensqueeze"]);
    expect(invocationPrefix({ ...npxEnv, npm_lifecycle_script: "tokensqueeze" })).toEqual(["npx", "tokensqueeze"]);
    expect(invocationPrefix({})).toEqual(["tokensqueeze"]);
    expect(commandLine(["eval", "--out", "runs/a b"], npxEnv)).toBe("npx tokensqueeze eval --out 'runs/a b'");
    expect(commandLine(["eval", "--out", "runs/x"], {})).toBe("tokensqueeze eval --out runs/x");
  });

  it("does not take npm variables inherited from another tool for its own start", () => {
    // `npx vitest` or `npm test` pass their variables on to every process they start.
    expect(invocationPrefix({ ...npxEnv, npm_lifecycle_script: "'vitest'" })).toEqual(["tokensqueeze"]);
    expect(invocationPrefix({ npm_command: "run", npm_lifecycle_event: "test", npm_lifecycle_script: "tokensqueeze eval" })).toEqual(["tokensqueeze"]);
  });
});

function doneItems(dir: string): number {
  return countInRun(dir, `SELECT count(*) AS n FROM _items WHERE status = 'ok'`);
}

/** Starts `args`, interrupts it with SIGINT once some work is saved, and returns its stderr and exit code. */
async function interrupted(args: string[], out: string, env: Record<string, string | undefined>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const start = Date.now();
  while (doneItems(out) < 1) {
    if (child.exitCode !== null) throw new Error(`exited before it could be interrupted:\n${stderr}`);
    if (Date.now() - start > 120_000) throw new Error(`no progress within 120 s:\n${stderr}`);
    await sleep(20);
  }
  child.kill("SIGINT");
  return { code: await closed, stderr };
}

describe("the resume hint after an interruption", () => {
  const tiny = join(repoRoot, "test", "fixtures", "tiny-llama");
  const args = (out: string) => ["eval", "--model", tiny, "--bench", "world-test", "--samples", "2", "--max-tokens", "40", "--concurrency", "1", "--progress", "none", "--out", out];

  for (const [how, env, prefix] of [
    ["through npx", npxEnv, "npx tokensqueeze"],
    ["through the bin", noNpm, "tokensqueeze"],
  ] as const) {
    it(`started ${how}, names \`${prefix}\``, async () => {
      const out = join(tempDir(), "run");
      const r = await interrupted(args(out), out, env);
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain(`Resume with: ${prefix} eval --model ${tiny} --bench world-test`);
      expect(r.stderr).toContain(`--out ${out}\n`);
    });
  }
});
