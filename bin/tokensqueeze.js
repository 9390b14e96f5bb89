#!/usr/bin/env node
// Entry point for the `tokensqueeze` bin: runs the compiled CLI from dist/ (built by `npm ci` through `prepare`).
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "cli", "main.js");
if (!existsSync(compiled)) {
  console.error("tokensqueeze: dist/ is missing; run `npm run build` (npm ci does this) first.");
  process.exit(1);
}
// In a development checkout, an edit after the last build would otherwise run the old code without a word.
const src = join(root, "src");
if (existsSync(src) && newestMtime(src) > statSync(compiled).mtimeMs) {
  console.error("tokensqueeze: src/ changed after dist/ was built; running the old build (`npm run build` updates it).");
}
await import(pathToFileURL(compiled).href);

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}
