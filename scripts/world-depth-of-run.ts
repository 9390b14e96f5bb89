/**
 * What an evaluation run's samples of the built-in world do, level by level: the share that reflect (re-check,
 * correct or verify) and the share that decompose an operation column by column, read back with the world's own
 * analysis. docs/BENCHMARKS.md ("The demo") compares a demo's base and squeezed evaluations with it.
 *
 *   tsx scripts/world-depth-of-run.ts runs/demo/base-eval runs/demo/squeezed-eval
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { analyzeResponse } from "../src/world/analysis.js";

interface Row { level: number; text: string }
const pct = (n: number, d: number): number => (d === 0 ? 0 : Math.round((1000 * n) / d) / 10);
const runs = process.argv.slice(2);
if (runs.length === 0) throw new Error("usage: world-depth-of-run.ts <eval run dir> [more run dirs]");
const out: Record<string, Record<string, { samples: number; reflecting: number; decomposing: number }>> = {};
for (const run of runs) {
  const db = new Database(join(run, "run.sqlite"), { readonly: true });
  const rows = db.prepare("SELECT level, text FROM eval_samples WHERE level IS NOT NULL").all() as Row[];
  db.close();
  const byLevel: Record<string, { samples: number; reflecting: number; decomposing: number }> = {};
  for (const level of [...new Set(rows.map((r) => r.level))].sort((a, b) => a - b)) {
    const analyses = rows.filter((r) => r.level === level).map((r) => analyzeResponse(r.text));
    byLevel[level] = {
      samples: analyses.length,
      reflecting: pct(analyses.filter((a) => a.hasReflection).length, analyses.length),
      decomposing: pct(analyses.filter((a) => a.hasDecomposed).length, analyses.length),
    };
  }
  out[run] = byLevel;
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
