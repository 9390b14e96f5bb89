import { defineConfig } from "vitest/config";

// Tests spawn real processes (CLI, SIGKILL/resume, Python reference checks), so they get generous timeouts.
// Speed goals live in bench/, never here.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ["default"],
  },
});
