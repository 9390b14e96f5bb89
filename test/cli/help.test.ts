import { describe, expect, it } from "vitest";
import { runCli } from "../helpers.js";

describe("tokensqueeze --help", () => {
  it("lists the commands and exits 0", () => {
    const r = runCli(["--help"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("Usage: tokensqueeze");
  });

  it("rejects an unknown command with exit 2", () => {
    const r = runCli(["no-such-command"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
  });
});
