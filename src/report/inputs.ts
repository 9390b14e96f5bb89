/**
 * What the report is given: evaluation runs, squeeze runs, or a demo directory (`<demo>/base-eval`,
 * `<demo>/squeeze`, `<demo>/squeezed-eval`, `<demo>/demo.json`, and `round-<r>/…` for later rounds), in any mix.
 * Each input is classified by the tables its run holds, so a report never guesses from a directory's name alone.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { evalSamplesTable } from "../eval/evaluate.js";
import { RunStore } from "../store/index.js";
import { UserError } from "../util/errors.js";
import { problemsTable, samplesTable } from "../squeeze/tables.js";

export type RunKind = "eval" | "squeeze";

export interface ReportRun {
  kind: RunKind;
  /** Absolute run directory. */
  dir: string;
  /** Shown in legends and headings: the directory name, made unique among the inputs. */
  label: string;
}

export interface ResolvedInputs {
  runs: ReportRun[];
  /** Demo directories among the inputs (absolute), whose demo.json the report shows. */
  demos: string[];
  /** Parts of a demo directory that are not there yet (an interrupted demo), as "<dir>/<part>". */
  missingDemoParts: string[];
}

const DEMO_PARTS = ["base-eval", "squeeze", "squeezed-eval"] as const;

/**
 * Whether `dir` is a demo directory: not a run itself, holding the demo's runs. One of them is enough, so the
 * report of a demo that was interrupted shows what it has and names the parts still missing.
 */
export function isDemoDir(dir: string): boolean {
  return !RunStore.isRun(dir) && DEMO_PARTS.some((p) => RunStore.isRun(join(dir, p)));
}

/** The runs of a demo directory in reading order: base evaluation, then each round's squeeze and evaluation. */
function demoRuns(dir: string): string[] {
  const runs = DEMO_PARTS.map((p) => join(dir, p)).filter((p) => RunStore.isRun(p));
  const rounds = readdirSync(dir)
    .map((name) => /^round-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  for (const r of rounds) for (const part of ["squeeze", "squeezed-eval"]) if (RunStore.isRun(join(dir, `round-${r}`, part))) runs.push(join(dir, `round-${r}`, part));
  return runs;
}

/** The kind of a run directory, from its tables; a UserError when it is neither an evaluation nor a squeeze run. */
export function runKind(dir: string): RunKind {
  const store = RunStore.open(dir, { readonly: true });
  try {
    const names = new Set(store.tables().map((t) => t.name));
    if (names.has(evalSamplesTable.name)) return "eval";
    if (names.has(samplesTable.name) || names.has(problemsTable.name)) return "squeeze";
    throw new UserError(`${store.dir}: neither an evaluation run (no ${evalSamplesTable.name} table) nor a squeeze run (no ${samplesTable.name} table) yet`);
  } finally {
    store.close();
  }
}

export function resolveInputs(inputs: readonly string[], cwd = process.cwd()): ResolvedInputs {
  if (inputs.length === 0) throw new UserError("report: give at least one run directory (an evaluation, a squeeze run or a demo directory)");
  const dirs: string[] = [];
  const demos: string[] = [];
  const missingDemoParts: string[] = [];
  for (const input of inputs) {
    const abs = resolve(cwd, input);
    if (!existsSync(abs)) throw new UserError(`report: ${input}: no such run or directory`);
    if (!statSync(abs).isDirectory()) throw new UserError(`report: ${input}: not a directory (give a run directory or a demo directory)`);
    if (isDemoDir(abs)) {
      demos.push(abs);
      dirs.push(...demoRuns(abs));
      missingDemoParts.push(...DEMO_PARTS.filter((p) => !RunStore.isRun(join(abs, p))).map((p) => join(abs, p)));
    } else if (RunStore.isRun(abs)) {
      dirs.push(abs);
    } else {
      throw new UserError(
        `report: ${input}: not a run (no run.sqlite) and not a demo directory (no ${DEMO_PARTS.join(", ")} run inside)`,
      );
    }
  }
  const fromDemo = new Set(demos.flatMap((d) => demoRuns(d)));
  const kinds = new Map<string, RunKind>();
  for (const dir of new Set(dirs)) {
    try {
      kinds.set(dir, runKind(dir));
    } catch (err) {
      // A demo part created but stopped before its first record is a part not run yet; a run given by name must be one.
      if (!(err instanceof UserError) || !fromDemo.has(dir)) throw err;
      missingDemoParts.push(dir);
    }
  }
  const unique = [...kinds.keys()];
  const labels = uniqueLabels(unique);
  return { runs: unique.map((dir, i) => ({ kind: kinds.get(dir)!, dir, label: labels[i] })), demos, missingDemoParts };
}

/** Directory names, with the parent's name added where two inputs would otherwise read the same. */
function uniqueLabels(dirs: readonly string[]): string[] {
  const names = dirs.map((d) => basename(d));
  return names.map((name, i) => {
    if (names.filter((n) => n === name).length === 1) return name;
    const parent = basename(dirname(dirs[i]));
    const withParent = `${parent}/${name}`;
    return dirs.filter((d, j) => j !== i && `${basename(dirname(d))}/${basename(d)}` === withParent).length === 0 ? withParent : dirs[i];
  });
}
