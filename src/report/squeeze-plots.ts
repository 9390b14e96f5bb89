/**
 * The squeeze plots, stage by stage: stage 1's pass-rate histogram and pairs per problem, stage 2's step lengths
 * before and after and acceptance by step position, stage 3's training curves (each loss term, reward margin,
 * implicit-reward accuracy, chosen and rejected lengths). A stage the run lacks gives no plots; the page says so.
 */
import type { TrainStepRow } from "../squeeze/train.js";
import type { SqueezeRunData } from "./collect.js";
import { histogram, niceStep, plotId, type Plot, type Row } from "./plot.js";

const STEP_BINS = 24;
/** The CLI summary's positions (src/squeeze/summary.ts), so the page and the terminal agree. */
const POSITIONS = ["1st fifth", "2nd fifth", "3rd fifth", "4th fifth", "5th fifth"];

function lineSpec(yTitle: string, opts: { yDomain?: [number, number] } = {}): Record<string, unknown> {
  return {
    width: "container",
    height: 200,
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: {
      x: { field: "step", type: "quantitative", title: "optimizer step" },
      y: { field: "value", type: "quantitative", title: yTitle, ...(opts.yDomain ? { scale: { domain: opts.yDomain } } : {}) },
      color: { field: "series", type: "nominal", title: null, legend: { orient: "bottom" } },
      tooltip: [{ field: "series" }, { field: "step" }, { field: "value", format: ".4f" }],
    },
  };
}

export function selectionPlots(run: SqueezeRunData): Plot[] {
  const sel = run.selections;
  if (sel === null) return [];
  const label = run.info.label;
  const byRate = new Map<number, number>();
  for (const s of sel) byRate.set(s.passRate, (byRate.get(s.passRate) ?? 0) + 1);
  const rateRows: Row[] = [...byRate.entries()].sort(([a], [b]) => a - b).map(([passRate, problems]) => ({ passRate, problems }));
  const byPairs = new Map<number, number>();
  for (const s of sel) byPairs.set(s.pairs, (byPairs.get(s.pairs) ?? 0) + 1);
  const pairRows: Row[] = [...byPairs.entries()].sort(([a], [b]) => a - b).map(([pairs, problems]) => ({ pairs, problems }));
  return [
    {
      id: plotId("passrate", label),
      title: "Stage 1: pass rate per training problem",
      caption: "Problems by the share p of their sampled responses that are correct. Only problems with 0 < p < 1 can give pairs.",
      columns: ["passRate", "problems"],
      rows: rateRows,
      spec: {
        width: "container",
        height: 200,
        mark: { type: "bar" },
        encoding: {
          x: { field: "passRate", type: "ordinal", title: "pass rate p", axis: { format: ".2f" } },
          y: { field: "problems", type: "quantitative", title: "problems" },
          tooltip: [{ field: "passRate", format: ".3f" }, { field: "problems" }],
        },
      },
    },
    {
      id: plotId("pairs-per-problem", label),
      title: "Stage 1: preference pairs per problem",
      caption: "Problems by how many (chosen, rejected) pairs adaptive-depth selection made from them.",
      columns: ["pairs", "problems"],
      rows: pairRows,
      spec: {
        width: "container",
        height: 200,
        mark: { type: "bar" },
        encoding: {
          x: { field: "pairs", type: "ordinal", title: "pairs from the problem" },
          y: { field: "problems", type: "quantitative", title: "problems" },
          tooltip: [{ field: "pairs" }, { field: "problems" }],
        },
      },
    },
  ];
}

export function refinementPlots(run: SqueezeRunData): Plot[] {
  const ref = run.refinement;
  if (ref === null || ref.steps.length === 0) return [];
  const label = run.info.label;
  const before = ref.steps.map((s) => s.originalTokens);
  const after = ref.steps.map((s) => s.acceptedTokens ?? s.originalTokens);
  const max = Math.max(1, ...before, ...after);
  const step = niceStep(max, STEP_BINS);
  const lengthRows: Row[] = [];
  for (const [version, values] of [["original", before], ["refined", after]] as const) {
    histogram(values, max, step).counts.forEach((count, i) => lengthRows.push({ version, binStart: i * step, binEnd: (i + 1) * step, steps: count }));
  }
  const stepsOf = new Map<string, number>();
  for (const r of ref.responses) stepsOf.set(`${r.problemId}/${r.sampleIndex}`, r.steps);
  const pos = POSITIONS.map((position) => ({ position, steps: 0, accepted: 0 }));
  for (const s of ref.steps) {
    const n = stepsOf.get(`${s.problemId}/${s.sampleIndex}`) ?? 1;
    const b = pos[Math.min(4, Math.floor((5 * s.stepIndex) / n))];
    b.steps++;
    if (s.accepted !== undefined) b.accepted++;
  }
  const posRows: Row[] = pos.map((p) => ({ position: p.position, steps: p.steps, accepted: p.accepted, rate: p.steps === 0 ? null : (100 * p.accepted) / p.steps }));
  return [
    {
      id: plotId("step-lengths", label),
      title: "Stage 2: step lengths before and after refinement",
      caption: `Steps of the chosen responses per length bin (${step} tokens wide): the original step and the step as kept (the accepted rewrite, else the original).`,
      columns: ["version", "binStart", "binEnd", "steps"],
      rows: lengthRows,
      spec: {
        width: "container",
        height: 200,
        mark: { type: "bar", opacity: 0.55, binSpacing: 0 },
        encoding: {
          x: { field: "binStart", type: "quantitative", title: "step tokens", bin: { binned: true, step } },
          x2: { field: "binEnd" },
          y: { field: "steps", type: "quantitative", title: "steps", stack: null },
          color: { field: "version", type: "nominal", title: null, legend: { orient: "bottom" } },
          tooltip: [{ field: "version" }, { field: "binStart", title: "from" }, { field: "binEnd", title: "to" }, { field: "steps" }],
        },
      },
    },
    {
      id: plotId("acceptance", label),
      title: "Stage 2: rewrites accepted by step position",
      caption: "The share of steps whose shorter rewrite was accepted (divergence below ε), by where the step sits in its response.",
      columns: ["position", "steps", "accepted", "rate"],
      rows: posRows,
      spec: {
        width: "container",
        height: 200,
        mark: { type: "bar" },
        encoding: {
          x: { field: "position", type: "ordinal", title: "position in the response", sort: POSITIONS },
          y: { field: "rate", type: "quantitative", title: "accepted (%)", scale: { domain: [0, 100] } },
          tooltip: [{ field: "position" }, { field: "accepted" }, { field: "steps" }, { field: "rate", format: ".1f" }],
        },
      },
    },
  ];
}

export function trainingPlots(run: SqueezeRunData): Plot[] {
  const t = run.training;
  if (t === null) return [];
  const label = run.info.label;
  const fold = (series: Array<[string, (s: TrainStepRow) => number]>): Row[] =>
    t.steps.flatMap((s) => series.map(([name, f]) => ({ step: s.step, series: name, value: f(s) })));
  const curve = (id: string, title: string, caption: string, yTitle: string, rows: Row[], yDomain?: [number, number]): Plot => ({
    id: plotId(id, label),
    title,
    caption,
    columns: ["step", "series", "value"],
    rows,
    spec: lineSpec(yTitle, { yDomain }),
  });
  return [
    curve(
      "train-loss",
      "Stage 3: loss terms",
      "The training loss per optimizer step and its two terms: the preference term (DPO-L or DPO) and the SFT term on the chosen response.",
      "loss",
      fold([
        ["loss", (s) => s.loss],
        ["preference term", (s) => s.dpo],
        ["SFT term", (s) => s.sft],
      ]),
    ),
    curve(
      "train-margin",
      "Stage 3: implicit rewards and their margin",
      "β·log(π/πref) of the chosen and the rejected response, and the margin the preference term acts on (DPO-L adds its length term to the reward difference), averaged over the step's pairs.",
      "reward",
      fold([
        ["margin", (s) => s.margin],
        ["chosen reward", (s) => s.chosenReward],
        ["rejected reward", (s) => s.rejectedReward],
      ]),
    ),
    curve(
      "train-reward-accuracy",
      "Stage 3: implicit-reward accuracy",
      "The share of the step's pairs whose chosen response has the higher implicit reward.",
      "accuracy",
      fold([["reward accuracy", (s) => s.rewardAccuracy]]),
      [0, 1],
    ),
    curve(
      "train-lengths",
      "Stage 3: chosen and rejected lengths",
      "Mean response tokens of the chosen and the rejected responses in each step's pairs.",
      "tokens",
      fold([
        ["chosen", (s) => s.chosenLength],
        ["rejected", (s) => s.rejectedLength],
      ]),
    ),
  ];
}
