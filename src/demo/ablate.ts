/**
 * `tokensqueeze ablate`: the paper's Tables 2–4 on one set of samples — selection variants, refinement on/off,
 * and training objectives — each arm trained and evaluated on the same held-out problems as the base model.
 *
 * Nothing is computed twice:
 *   <out>/base-eval          the base model's evaluation (shared by every row's Δ%)
 *   <out>/q-dyn/squeeze      sample → select (q-dyn) → refine → pairs: the method, and the source of every arm
 *   <out>/<arm>/squeeze      a copy of that run with the arm's settings adopted: only the stages whose
 *                            parameters changed are redone (selection arms reselect; refinement is reused for
 *                            every response another arm already refined; objective arms only retrain)
 *   <out>/<arm>/eval         the arm's trained model on the held-out problems
 *   <out>/ablate.json        the table and the findings
 * Every part is a resumable run; running `ablate` again continues.
 */
import { cpSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunConfig } from "../config/schema.js";
import type { Engine } from "../engines/engine.js";
import { openEngine, withResolvedModelPath } from "../engines/factory.js";
import { evalSamplesTable, toSampleRecord } from "../eval/evaluate.js";
import { groupMetrics, type GroupMetrics, type SampleRecord } from "../eval/metrics.js";
import { runEvaluation } from "../eval/run.js";
import { runSqueeze, type SqueezeStep } from "../squeeze/pipeline.js";
import type { RefineDonor } from "../squeeze/stages.js";
import { RunStore } from "../store/index.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { formatDifferences, paperDifferences } from "./config-differences.js";
import type { PipelineRunOptions } from "./demo.js";
import { isWorldBenchmark, wasteOfRuns } from "./waste-of-runs.js";
import type { WasteProfile } from "../world/waste.js";

export interface AblationArm {
  /** Directory name and row label. */
  name: string;
  /** Which table of the paper it belongs to. */
  group: "selection" | "refinement" | "objective";
  /** Config overrides (dotted keys) on top of the method's settings. */
  overrides: Record<string, unknown>;
}

/** The method itself: q-dyn, refinement on, dpo-l+sft. Every other arm changes one thing. */
export const METHOD_ARM = "q-dyn";

export const ABLATION_ARMS: readonly AblationArm[] = [
  { name: METHOD_ARM, group: "selection", overrides: {} },
  { name: "shortest", group: "selection", overrides: { "selection.variant": "shortest" } },
  { name: "q-fix", group: "selection", overrides: { "selection.variant": "q-fix" } },
  { name: "q-dyn-extra-neg", group: "selection", overrides: { "selection.variant": "q-dyn-extra-neg" } },
  { name: "no-refinement", group: "refinement", overrides: { "refinement.enabled": false } },
  { name: "sft", group: "objective", overrides: { "training.objective": "sft" } },
  { name: "dpo", group: "objective", overrides: { "training.objective": "dpo" } },
  { name: "dpo+sft", group: "objective", overrides: { "training.objective": "dpo+sft" } },
];

export interface AblateOptions extends PipelineRunOptions {
  /** Only these arms (default: all); the method's arm always runs, since every other arm starts from it. */
  arms?: readonly string[];
}

/** Metrics of one evaluation, overall and pooled over easy (1–2) and hard (4–5) levels. */
export interface ArmMetrics {
  /** The benchmark the metrics are of (the run's first). */
  benchmark: string;
  overall: GroupMetrics;
  easy: GroupMetrics | null;
  hard: GroupMetrics | null;
}

export interface AblationRow {
  name: string;
  group: AblationArm["group"] | "base";
  metrics: ArmMetrics;
  pairs: number | null;
  /** Len-T change against the base model, %. */
  lenTDelta: number | null;
  /** On the built-in world: where the correct answers spend their tokens (src/world/waste.ts). */
  waste?: WasteProfile;
}

export interface Finding {
  claim: string;
  holds: boolean | null;
  evidence: string;
}

export interface AblateResult {
  out: string;
  rows: AblationRow[];
  findings: Finding[];
  table: string;
  differences: string[];
  seconds: number;
}

const EASY = new Set([1, 2]);
const HARD = new Set([4, 5]);

function applyOverrides(config: RunConfig, overrides: Record<string, unknown>): RunConfig {
  const out = structuredClone(config) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    const path = key.split(".");
    let node = out;
    for (const p of path.slice(0, -1)) node = node[p] as Record<string, unknown>;
    node[path[path.length - 1]] = value;
  }
  return out as unknown as RunConfig;
}

/** Overall, easy and hard metrics from an evaluation run's stored samples (the first benchmark). */
export function armMetrics(dir: string): ArmMetrics {
  const store = RunStore.open(dir, { readonly: true });
  try {
    const budget = (store.config as { evaluation: { aucBudget?: number; maxTokens: number } }).evaluation;
    const samples: SampleRecord[] = [];
    let benchmark: string | undefined;
    for (const r of store.table(evalSamplesTable).iterate()) {
      benchmark ??= r.benchmark;
      if (r.benchmark === benchmark) samples.push(toSampleRecord(r));
    }
    const opts = { budget: budget.aucBudget ?? budget.maxTokens };
    const pick = (levels: Set<number>) => {
      const s = samples.filter((x) => x.level !== undefined && levels.has(x.level));
      return s.length > 0 ? groupMetrics(s, opts) : null;
    };
    if (benchmark === undefined) throw new Error(`${dir}: the evaluation has no samples`);
    return { benchmark, overall: groupMetrics(samples, opts), easy: pick(EASY), hard: pick(HARD) };
  } finally {
    store.close();
  }
}

/**
 * Copies a closed run directory so an arm can adopt its own settings on top of the shared records: the stored
 * records only, never the source's stage-3 checkpoint or trained model (an arm trains its own).
 */
function copyRun(from: string, to: string): void {
  if (existsSync(to)) return;
  const skip = new Set([join(from, "model"), join(from, "train"), join(from, "model-trl")]);
  cpSync(from, to, { recursive: true, filter: (src) => !skip.has(src) });
}

export async function runAblation(opts: AblateOptions): Promise<AblateResult> {
  const t0 = performance.now();
  const cwd = opts.cwd ?? process.cwd();
  const out = resolve(cwd, opts.out);
  const config = withResolvedModelPath(opts.config, cwd);
  const wanted = new Set(opts.arms ?? ABLATION_ARMS.map((a) => a.name));
  for (const name of wanted) {
    if (!ABLATION_ARMS.some((a) => a.name === name)) throw new RangeError(`unknown ablation arm "${name}" (arms: ${ABLATION_ARMS.map((a) => a.name).join(", ")})`);
  }
  const arms = ABLATION_ARMS.filter((a) => a.name === METHOD_ARM || wanted.has(a.name));
  const common = { progress: opts.progress, signal: opts.signal, handleSignals: opts.handleSignals, resumeCommand: opts.resumeCommand, argv: opts.argv, cwd };
  const log = (msg: string) => opts.progress?.log(`ablate: ${msg}`);
  const squeezeDir = (arm: string) => join(out, arm, "squeeze");
  const source = squeezeDir(METHOD_ARM);

  const engine: Engine = await openEngine(config.engine, { cwd });
  const trained = new Map<string, { model: string; pairs: number }>();
  try {
    log("evaluate the base model");
    await runEvaluation({ ...common, config, outDir: join(out, "base-eval"), engine });

    // Stages 1–2 once, with the method's settings: every arm starts from these records.
    log(`${METHOD_ARM}: sample → select → refine → pairs`);
    await runSqueeze({ ...common, config, dir: source, steps: ["sample", "select", "refine", "pairs"], create: true, engine });

    // Copied before the method's arm trains, so each copy holds stages 1–2 only.
    for (const arm of arms) if (arm.name !== METHOD_ARM) copyRun(source, squeezeDir(arm.name));
    for (const arm of arms) {
      const dir = squeezeDir(arm.name);
      const armConfig = applyOverrides(config, arm.overrides);
      const donors: RefineDonor[] = [];
      if (arm.name !== METHOD_ARM) {
        // Refinements made by the arms before this one, valid here when their settings match.
        for (const other of arms) if (other !== arm && RunStore.isRun(squeezeDir(other.name))) donors.push({ store: RunStore.open(squeezeDir(other.name), { readonly: true }) });
      }
      try {
        const steps: SqueezeStep[] = ["select", "refine", "pairs", "train"];
        log(`${arm.name}: ${arm.name === METHOD_ARM ? "train" : `${Object.entries(arm.overrides).map(([k, v]) => `${k}=${String(v)}`).join(", ")} → select → refine → pairs → train`}`);
        const result = await runSqueeze({ ...common, config: armConfig, dir, steps, create: false, engine, force: arm.name !== METHOD_ARM, threads: opts.threads, refineReuse: donors });
        if (result.training === undefined) throw new Error(`${arm.name}: the squeeze ran no training`);
        trained.set(arm.name, { model: result.training.model, pairs: result.summary.pairs });
      } finally {
        for (const d of donors) d.store.close();
      }
    }
  } finally {
    await engine.close();
  }

  for (const arm of arms) {
    const t = trained.get(arm.name)!;
    log(`${arm.name}: evaluate the trained model`);
    await runEvaluation({ ...common, config: { ...config, engine: { ...config.engine, model: t.model } }, outDir: join(out, arm.name, "eval") });
  }

  const base = armMetrics(join(out, "base-eval"));
  const delta = (m: ArmMetrics) => (base.overall.lenT !== null && m.overall.lenT !== null ? (100 * (m.overall.lenT - base.overall.lenT)) / base.overall.lenT : null);
  const rows: AblationRow[] = [
    { name: "base model", group: "base", metrics: base, pairs: null, lenTDelta: null },
    ...arms.map((a) => {
      const m = armMetrics(join(out, a.name, "eval"));
      return { name: a.name, group: a.group, metrics: m, pairs: trained.get(a.name)!.pairs, lenTDelta: delta(m) };
    }),
  ];
  // What each arm cut, in the world's terms: the base model's tokenizer is every arm's (they are its fine-tunes).
  // Opened only on the world's benchmarks: elsewhere there is nothing to count, and a real model is slow to load.
  if (isWorldBenchmark(base.benchmark)) {
    const counter = await openEngine(config.engine, { cwd });
    try {
      const runs = [join(out, "base-eval"), ...arms.map((a) => join(out, a.name, "eval"))];
      const profiles = await wasteOfRuns(runs, base.benchmark, counter, log);
      if (profiles !== undefined) rows.forEach((r, i) => (r.waste = profiles[i]));
    } finally {
      await counter.close();
    }
  }
  const result: AblateResult = {
    out,
    rows,
    findings: ablationFindings(rows),
    table: formatAblationTable(rows),
    differences: formatDifferences(paperDifferences(opts.config)),
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileAtomic(join(out, "ablate.json"), JSON.stringify(ablateJson(result), null, 2) + "\n");
  return result;
}

/** Accuracy is "no worse" within this many points: the evaluation's sampling noise at demo sizes. */
export const ACCURACY_TOLERANCE = 1;

/** The paper's orderings, checked on these rows; `holds` is null when a row needed for the check is missing. */
export function ablationFindings(rows: readonly AblationRow[]): Finding[] {
  const row = (name: string) => rows.find((r) => r.name === name);
  const f = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? "—" : x.toFixed(digits));
  const out: Finding[] = [];
  const qdyn = row(METHOD_ARM);
  const shortest = row("shortest");
  {
    const claim = "Table 2: on levels 4–5, q-dyn is at least as accurate as shortest";
    const a = qdyn?.metrics.hard?.acc;
    const b = shortest?.metrics.hard?.acc;
    out.push({ claim, holds: a === undefined || b === undefined ? null : a >= b - ACCURACY_TOLERANCE, evidence: `levels 4–5 accuracy: q-dyn ${f(a)}%, shortest ${f(b)}%` });
  }
  /** `method` is shorter than `other` (overall Len-T) at no worse accuracy. */
  const shorterAtNoCost = (claim: string, other: AblationRow | undefined, names: [string, string]): Finding => {
    const a = qdyn?.metrics.overall;
    const b = other?.metrics.overall;
    const holds = a && b && a.lenT !== null && b.lenT !== null ? a.lenT < b.lenT && a.acc >= b.acc - ACCURACY_TOLERANCE : null;
    return { claim, holds, evidence: `Len-T ${names[0]} ${f(a?.lenT, 0)} vs ${names[1]} ${f(b?.lenT, 0)} tokens; accuracy ${f(a?.acc)}% vs ${f(b?.acc)}%` };
  };
  out.push(shorterAtNoCost("Table 3: refinement shortens answers at no accuracy cost", row("no-refinement"), ["with refinement", "without"]));
  out.push(shorterAtNoCost("Table 4: dpo-l+sft is shorter than sft alone at no worse accuracy", row("sft"), ["dpo-l+sft", "sft"]));
  return out;
}

/**
 * The table; on the built-in world with three more columns, tokens per correct answer: wording a shorter phrasing
 * says as well, checks that cannot change the answer, and re-checks on levels 3–5 that catch real errors.
 */
export function formatAblationTable(rows: readonly AblationRow[]): string {
  const withWaste = rows.every((r) => r.waste !== undefined);
  const header = ["arm", "table", "pairs", "Acc", "Len-T (Δ%)", "Len-A", "AUC", "Acc L1–2", "Acc L4–5", "Len-T L4–5", ...(withWaste ? ["wording", "idle checks", "useful checks"] : [])];
  const cells = rows.map((r) => [
    r.name === METHOD_ARM ? `${r.name} (method)` : r.name,
    r.group,
    r.pairs === null ? "—" : String(r.pairs),
    r.metrics.overall.acc.toFixed(1),
    r.metrics.overall.lenT === null ? "—" : `${Math.round(r.metrics.overall.lenT)}${r.lenTDelta === null ? "" : ` (${r.lenTDelta >= 0 ? "+" : "−"}${Math.abs(r.lenTDelta).toFixed(1)}%)`}`,
    String(Math.round(r.metrics.overall.lenA)),
    r.metrics.overall.auc.toFixed(1),
    r.metrics.easy ? r.metrics.easy.acc.toFixed(1) : "—",
    r.metrics.hard ? r.metrics.hard.acc.toFixed(1) : "—",
    r.metrics.hard?.lenT != null ? String(Math.round(r.metrics.hard.lenT)) : "—",
    ...(withWaste ? [r.waste!.wording, r.waste!.idleChecks, r.waste!.usefulChecks].map((x) => x.toFixed(1)) : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((s, i) => (i < 2 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join("  ");
  return [line(header), ...cells.map(line)].join("\n") + "\n";
}

export function ablateJson(r: AblateResult): Record<string, unknown> {
  return {
    rows: r.rows.map((row) => ({
      name: row.name,
      group: row.group,
      pairs: row.pairs,
      acc: row.metrics.overall.acc,
      lenT: row.metrics.overall.lenT,
      lenTDelta: row.lenTDelta,
      lenA: row.metrics.overall.lenA,
      auc: row.metrics.overall.auc,
      easyAcc: row.metrics.easy?.acc ?? null,
      hardAcc: row.metrics.hard?.acc ?? null,
      hardLenT: row.metrics.hard?.lenT ?? null,
      ...(row.waste === undefined ? {} : { waste: row.waste }),
    })),
    findings: r.findings,
    out: r.out,
    differences: r.differences,
    seconds: r.seconds,
  };
}

export function formatAblation(r: AblateResult): string {
  const lines = ["TokenSqueeze ablation (Tables 2–4 of the paper) on the built-in world", "", r.table.trimEnd(), ""];
  for (const f of r.findings) lines.push(`${f.holds === null ? "?" : f.holds ? "reproduced" : "NOT reproduced"}: ${f.claim} — ${f.evidence}`);
  if (r.differences.length > 0) {
    lines.push("", "Settings that differ from the paper's:");
    for (const d of r.differences) lines.push(`  ${d}`);
  }
  lines.push("", `Runs: ${r.out}. Took ${(r.seconds / 60).toFixed(1)} min.`);
  return lines.join("\n") + "\n";
}
