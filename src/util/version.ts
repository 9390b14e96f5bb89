import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

/** Root of the installed package (works from src/ under tsx and from dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "tokensqueeze") return dir;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  throw new Error("cannot find the tokensqueeze package root");
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

/** The code version recorded in run snapshots: package version plus git commit when run from a checkout. */
export function codeVersion(): { version: string; gitCommit: string | null; dirty: boolean | null } {
  const version = packageVersion();
  try {
    const cwd = packageRoot();
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd, stdio: ["ignore", "pipe", "ignore"] }).toString();
    return { version, gitCommit: commit, dirty: status.trim().length > 0 };
  } catch {
    return { version, gitCommit: null, dirty: null };
  }
}
