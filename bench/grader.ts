/**
 * Grader throughput on one core: comparisons per second on typical MATH-500 answers (each reference answer
 * against equivalence-preserving and -breaking rewrites of it, test/grade/rewrites.ts), next to Python
 * math-verify on the same pairs in the same run (the baseline; its time covers parse + verify only, not process
 * start-up). Also whole-response grading (extraction + comparison) on the same pairs in response templates.
 * With --pool N, also whole-response grading of long responses (MATH-500 solutions behind a long <think>) in
 * this thread against a GraderPool of N workers (same items, same run).
 * Usage:
 *   node --import tsx bench/grader.ts [--seconds 3] [--no-python] [--pool N]
 * Prints one JSON line per measurement and a summary with the ratios (wall-clock, both sides in the same run) and
 * our throughput per CPU second.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { GraderPool, grade, gradeMany, isEquivalent } from "../src/grade/index.js";
import { generatePairs } from "../test/grade/rewrites.js";
import { repoRoot, requireVenvPython } from "../test/helpers.js";

const args = process.argv.slice(2);
const seconds = Number(args.includes("--seconds") ? args[args.indexOf("--seconds") + 1] : "3");
const withPython = !args.includes("--no-python");
const poolWorkers = args.includes("--pool") ? Number(args[args.indexOf("--pool") + 1]) : 0;

const pairs = generatePairs().filter((p) => p.id.startsWith("test/"));
const answerPairs = pairs.map((p) => ({ id: p.id, gold: p.gold, prediction: `\\boxed{${p.answer}}` }));
const responsePairs = pairs.map((p) => ({ id: p.id, gold: p.gold, prediction: p.prediction }));

/**
 * Runs `f` over all pairs repeatedly for at least `seconds` (after one warm-up pass); returns calls per second of
 * wall-clock time, and per second of CPU time this process received (the figure that a machine shared with other
 * jobs does not dilute).
 */
function measure(f: (k: number) => void, n: number): { calls: number; seconds: number; perSecond: number; cpuSeconds: number; perCpuSecond: number } {
  for (let k = 0; k < n; k++) f(k);
  let calls = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < seconds * 1000) {
    for (let k = 0; k < n; k++) f(k);
    calls += n;
    t = performance.now();
  }
  const cpu = process.cpuUsage(c0);
  const s = (t - t0) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { calls, seconds: s, perSecond: calls / s, cpuSeconds, perCpuSecond: calls / cpuSeconds };
}

function mathVerify(rows: { id: string; gold: string; prediction: string }[]): { calls: number; seconds: number; perSecond: number } {
  const python = requireVenvPython();
  const run = spawnSync(python, [join(repoRoot, "test", "reference", "math_verify_grader.py")], {
    input: rows.map((r) => JSON.stringify(r)).join("\n") + "\n",
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`math-verify failed: ${run.stderr}`);
  const out = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as { seconds: number });
  const s = out.reduce((a, r) => a + r.seconds, 0);
  return { calls: out.length, seconds: s, perSecond: out.length / s };
}

const ours = measure((k) => void isEquivalent(answerPairs[k]!.gold, answerPairs[k]!.prediction), answerPairs.length);
console.log(JSON.stringify({ what: "ours: isEquivalent on MATH-500 answer pairs", pairs: answerPairs.length, ...ours }));
const oursResp = measure((k) => void grade(responsePairs[k]!.gold, responsePairs[k]!.prediction), responsePairs.length);
console.log(JSON.stringify({ what: "ours: grade (extract + compare) on responses", pairs: responsePairs.length, ...oursResp }));

if (withPython) {
  const mv = mathVerify(answerPairs);
  console.log(JSON.stringify({ what: "math-verify: parse + verify on the same answer pairs", pairs: answerPairs.length, ...mv }));
  const mvResp = mathVerify(responsePairs);
  console.log(JSON.stringify({ what: "math-verify: parse + verify on the same responses", pairs: responsePairs.length, ...mvResp }));
  console.log(
    JSON.stringify({
      summary: true,
      oursComparisonsPerSecond: Math.round(ours.perSecond),
      oursComparisonsPerCpuSecond: Math.round(ours.perCpuSecond),
      mathVerifyComparisonsPerSecond: Math.round(mv.perSecond),
      ratio: Number((ours.perSecond / mv.perSecond).toFixed(1)),
      oursResponsesPerSecond: Math.round(oursResp.perSecond),
      oursResponsesPerCpuSecond: Math.round(oursResp.perCpuSecond),
      mathVerifyResponsesPerSecond: Math.round(mvResp.perSecond),
      responseRatio: Number((oursResp.perSecond / mvResp.perSecond).toFixed(1)),
    }),
  );
}

if (poolWorkers > 0) {
  const { readFileSync } = await import("node:fs");
  const { sharedData } = await import("../test/helpers.js");
  const rows = readFileSync(join(sharedData, "math500", "test.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { answer: string; solution: string });
  const items = [];
  for (let k = 0; k < 40; k++) for (const r of rows) items.push({ gold: r.answer, prediction: `<think>${r.solution.repeat(8)}</think>${r.solution}` });
  const chars = Math.round(items.reduce((a, b) => a + b.prediction.length, 0) / items.length);
  gradeMany(items.slice(0, 500));
  let t0 = performance.now();
  gradeMany(items);
  const inThread = items.length / ((performance.now() - t0) / 1000);
  const pool = new GraderPool({ workers: poolWorkers });
  await pool.grade(items.slice(0, 500));
  t0 = performance.now();
  await pool.grade(items);
  const pooled = items.length / ((performance.now() - t0) / 1000);
  await pool.close();
  console.log(JSON.stringify({ what: "long responses: in-thread vs pool", items: items.length, meanChars: chars, inThreadPerSecond: Math.round(inThread), poolWorkers, poolPerSecond: Math.round(pooled), ratio: Number((pooled / inThread).toFixed(2)) }));
}
