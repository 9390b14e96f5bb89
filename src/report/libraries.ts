/**
 * The plotting libraries the page inlines (Vega and vega-embed: their minified browser builds from node_modules),
 * so the report opens with no network. Vega-Lite runs at report time, in Node (./compile.ts). Read once per process.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Load order matters: vega-embed finds `vega` as a global (and needs no `vegaLite` for Vega specs). */
const BUILDS = [
  ["vega", "vega.min.js"],
  ["vega-embed", "vega-embed.min.js"],
] as const;

/** The version of an installed package, from the package.json beside its build/ folder. */
export function packageVersionOf(name: string): string {
  const buildDir = dirname(createRequire(import.meta.url).resolve(name));
  return (JSON.parse(readFileSync(join(buildDir, "..", "package.json"), "utf8")) as { version: string }).version;
}

let cached: Array<{ name: string; version: string; code: string }> | undefined;

export function plottingLibraries(): Array<{ name: string; version: string; code: string }> {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  cached = BUILDS.map(([name, file]) => {
    // Each package's entry point sits in its build/ folder beside the minified browser bundle.
    const buildDir = dirname(require.resolve(name));
    const path = join(buildDir, file);
    if (!existsSync(path)) throw new Error(`report: ${name}'s browser build is missing at ${path} (reinstall dependencies)`);
    // An inline <script> ends at the first "</script", wherever it appears; none of the builds has one today.
    const code = readFileSync(path, "utf8").replace(/<\/script/gi, "<\\/script");
    return { name, version: packageVersionOf(name), code };
  });
  return cached;
}
