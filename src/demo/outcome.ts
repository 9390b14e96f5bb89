/**
 * The demo's verdict in plain language. It states the measured change and compares it with the paper's finding
 * (much shorter thinking at the same accuracy), and says so plainly when the run does not show it: a demo that
 * quietly prints a table of a failed squeeze would teach the wrong lesson.
 */

import type { WasteProfile } from "../world/waste.js";

interface Metrics {
  acc: number;
  lenT: number | null;
  lenA: number;
  auc: number;
}

export interface OutcomeInput {
  base: Metrics;
  squeezed: Metrics;
  byLevel: Record<string, { base: Metrics; squeezed: Metrics }>;
  /** Every round's metrics, first to last (one entry for a single round). */
  rounds: Metrics[];
  /** On the built-in world: where the base and the (last) squeezed model's correct answers spend their tokens. */
  waste?: { base: WasteProfile; squeezed: WasteProfile };
}

/** "Same accuracy": within this many points (the demo's acceptance band). */
export const SAME_ACCURACY_POINTS = 2;
/** "Much shorter": Len-T at least this much lower, in % (the paper halves it on MATH-500). */
export const MUCH_SHORTER_PERCENT = 35;

function change(before: number | null, after: number | null): number | null {
  return before === null || after === null || before === 0 ? null : (100 * (after - before)) / before;
}

function pct(x: number): string {
  return `${x < 0 ? "−" : "+"}${Math.abs(x).toFixed(1)}%`;
}

function points(x: number): string {
  return `${x < 0 ? "−" : "+"}${Math.abs(x).toFixed(1)} points`;
}

export function describeOutcome(o: OutcomeInput): string {
  const lenT = change(o.base.lenT, o.squeezed.lenT);
  const lenA = change(o.base.lenA, o.squeezed.lenA) ?? 0;
  const dAcc = o.squeezed.acc - o.base.acc;
  const sentences: string[] = [];
  if (lenT === null) {
    sentences.push(`One of the models answered nothing correctly, so the length of correct answers cannot be compared (accuracy ${o.base.acc.toFixed(1)}% → ${o.squeezed.acc.toFixed(1)}%).`);
    return sentences.join(" ");
  }
  const shorter = lenT < 0 ? `${Math.abs(lenT).toFixed(1)}% shorter` : `${lenT.toFixed(1)}% longer`;
  sentences.push(
    `The squeezed model's correct answers are ${shorter} than the base model's (Len-T ${Math.round(o.base.lenT!)} → ${Math.round(o.squeezed.lenT!)} tokens; all answers ${pct(lenA)}), ` +
      `at ${o.squeezed.acc.toFixed(1)}% accuracy against ${o.base.acc.toFixed(1)}% (${points(dAcc)}); AUC ${o.base.auc.toFixed(1)} → ${o.squeezed.auc.toFixed(1)}.`,
  );

  const levels = Object.entries(o.byLevel)
    .map(([level, m]) => ({ level, lenT: change(m.base.lenT, m.squeezed.lenT), dAcc: m.squeezed.acc - m.base.acc }))
    .filter((l): l is { level: string; lenT: number; dAcc: number } => l.lenT !== null);
  if (levels.length >= 2) {
    const most = levels.reduce((a, b) => (b.lenT < a.lenT ? b : a));
    const least = levels.reduce((a, b) => (b.lenT > a.lenT ? b : a));
    const worst = levels.reduce((a, b) => (b.dAcc < a.dAcc ? b : a));
    sentences.push(
      `By level, Len-T changed most on level ${most.level} (${pct(most.lenT)}) and least on level ${least.level} (${pct(least.lenT)}); ` +
        `the largest accuracy change was on level ${worst.level} (${points(worst.dAcc)}).`,
    );
  }

  const sameAccuracy = dAcc >= -SAME_ACCURACY_POINTS;
  const muchShorter = lenT <= -MUCH_SHORTER_PERCENT;
  if (sameAccuracy && muchShorter) {
    sentences.push(`This is the paper's finding in miniature: much shorter thinking (≥ ${MUCH_SHORTER_PERCENT}% less) at the same accuracy (within ${SAME_ACCURACY_POINTS} points).`);
  } else {
    const why = [
      ...(muchShorter
        ? []
        : [
            lenT < 0
              ? `thinking shrank by ${(-lenT).toFixed(1)}%, less than the ${MUCH_SHORTER_PERCENT}% this demo looks for (the paper halves it)`
              : `thinking did not shrink (Len-T ${pct(lenT)}; this demo looks for ${MUCH_SHORTER_PERCENT}% less, the paper halves it)`,
          ]),
      ...(sameAccuracy ? [] : [`accuracy fell by ${Math.abs(dAcc).toFixed(1)} points, more than ${SAME_ACCURACY_POINTS}`]),
    ];
    sentences.push(`This run does not reproduce the paper's finding: ${why.join(", and ")}.`);
  }
  if (o.waste !== undefined) sentences.push(describeWaste(o.waste.base, o.waste.squeezed));
  if (o.rounds.length > 1) {
    const steps = o.rounds.map((r, i) => `round ${i + 1} Len-T ${r.lenT === null ? "—" : Math.round(r.lenT)} at ${r.acc.toFixed(1)}%`);
    const prev = o.rounds[o.rounds.length - 2];
    const further = prev.lenT !== null && o.squeezed.lenT !== null && o.squeezed.lenT < prev.lenT;
    sentences.push(`Rounds: ${steps.join("; ")} — the last round ${further ? "shortened further" : "did not shorten further"}.`);
  }
  return sentences.join(" ");
}

/**
 * Where the change came from, in the world's own terms (src/world/waste.ts): free waste (wording, idle checks) and
 * useful checks, tokens per correct answer. It says whether the paper's finding is within what this model allows.
 */
export function describeWaste(base: WasteProfile, squeezed: WasteProfile): string {
  const n = (x: number): string => String(Math.round(x));
  const parts = [
    `wording a shorter phrasing says as well ${n(base.wording)} → ${n(squeezed.wording)}`,
    `checks that cannot change the answer (all on levels 1–2, closing restatements) ${n(base.idleChecks)} → ${n(squeezed.idleChecks)}`,
    `re-checks on levels 3–5, which catch real errors, ${n(base.usefulChecks)} → ${n(squeezed.usefulChecks)}`,
  ];
  const free = base.freeWasteShare;
  const room =
    free < MUCH_SHORTER_PERCENT
      ? `less than the ${MUCH_SHORTER_PERCENT}% this demo looks for, so no squeeze of this model gets there without cutting useful checks or column working`
      : `enough room for the ${MUCH_SHORTER_PERCENT}% this demo looks for`;
  return `Where it came from (the world's analysis of the correct answers, tokens per answer, base → squeezed): ${parts.join("; ")}. The first two are free waste: ${free.toFixed(1)}% of the base model's Len-T, ${room}.`;
}
