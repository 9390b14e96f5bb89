#!/usr/bin/env node
// Entry point for the `tokensqueeze` bin: runs the compiled CLI from dist/ (built by `npm ci` through `prepare`).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "cli", "main.js");
if (!existsSync(compiled)) {
  console.error("tokensqueeze: dist/ is missing; run `npm run build` (npm ci does this) first.");
  process.exit(1);
}
await import(pathToFileURL(compiled).href);
