import { describe, expect, it } from "vitest";
import { gradeResponse } from "../../src/sampling/sample-problem.js";
import { paperPrompt } from "../../src/sampling/prompts.js";
import { Rng } from "../../src/util/rng.js";
import { columnsFor, columnsResult, renderColumns } from "../../src/world/columns.js";
import { apply, generateProblem, heldoutProblems, isHeldout, MAX_LEVEL, operations, type Op } from "../../src/world/expression.js";
import { analyzeResponse, analyzeStep } from "../../src/world/analysis.js";
import { DEFAULT_POLICY, errorSpans, generateTrace, paperResponse, THINK_OPEN } from "../../src/world/traces.js";

const LEVELS = [1, 2, 3, 4, 5];

describe("world problems", () => {
  it("are deterministic in (split, level, seed, index) and vary with the seed", () => {
    for (const level of LEVELS) {
      const a = generateProblem("train", level, 7, 3);
      const b = generateProblem("train", level, 7, 3);
      expect(b).toEqual(a);
      const others = [8, 9, 10, 11].map((s) => generateProblem("train", level, s, 3).text);
      expect(others.some((t) => t !== a.text)).toBe(true);
    }
    expect(heldoutProblems(5)).toEqual(heldoutProblems(5));
  });

  it("have integer answers equal to evaluating their operations in order", () => {
    for (const level of LEVELS)
      for (let i = 0; i < 200; i++) {
        const p = generateProblem("train", level, 1, i);
        const ops = operations(p.expr);
        expect(ops.at(-1)!.value).toBe(p.answer);
        expect(Number.isInteger(p.answer) && p.answer > 0).toBe(true);
        expect(p.question).toBe(`Compute ${p.text}.`);
        // The text means the same thing to a reader: evaluate it with JavaScript's own precedence rules.
        expect(Function(`return ${p.text}`)()).toBe(p.answer);
      }
  });

  it("keep the held-out split disjoint from training", () => {
    const held = heldoutProblems();
    expect(held).toHaveLength(200);
    expect(new Set(held.map((p) => p.text)).size).toBe(200);
    for (const p of held) expect(isHeldout(p.text)).toBe(true);
    const heldTexts = new Set(held.map((p) => p.text));
    for (const level of LEVELS)
      for (let i = 0; i < 2000; i++) {
        const p = generateProblem("train", level, 1, i);
        expect(isHeldout(p.text)).toBe(false);
        expect(heldTexts.has(p.text)).toBe(false);
      }
    // The interleaved order keeps any prefix balanced across levels.
    expect(held.slice(0, 10).map((p) => p.level)).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
  });

  it("grow with the level: more operations and bigger operands", () => {
    const stats = LEVELS.map((level) => {
      let ops = 0;
      let digits = 0;
      const n = 400;
      for (let i = 0; i < n; i++) {
        const p = generateProblem("train", level, 3, i);
        const o = operations(p.expr);
        ops += o.length;
        digits += o.reduce((a, x) => a + String(Math.max(x.left, x.right)).length, 0) / o.length;
      }
      return { ops: ops / n, digits: digits / n };
    });
    for (let l = 1; l < MAX_LEVEL; l++) {
      expect(stats[l].ops).toBeGreaterThanOrEqual(stats[l - 1].ops);
      expect(stats[l].ops * stats[l].digits).toBeGreaterThan(stats[l - 1].ops * stats[l - 1].digits);
    }
    expect(stats[4].digits).toBeGreaterThan(stats[0].digits + 1.5);
  });
});

describe("column arithmetic", () => {
  it("spells out the right result for +, - and one-digit ×", () => {
    const rng = new Rng(5);
    for (let i = 0; i < 3000; i++) {
      const op = rng.pick<Op>(["+", "-", "*"]);
      let a = rng.int(10, 99999);
      let b = op === "*" ? rng.int(2, 9) : rng.int(1, 99999);
      if (op === "-" && b > a) [a, b] = [b, a];
      if (op === "*" && rng.next() < 0.5) [a, b] = [b, a];
      const cols = columnsFor(op, a, b);
      expect(columnsResult(cols)).toBe(apply(op, a, b));
      for (const c of cols) {
        const [lhs, rhs] = c.calc.split("=");
        expect(Function(`return ${lhs}`)()).toBe(Number(rhs));
      }
    }
    expect(renderColumns(columnsFor("+", 4729, 3856), 0)).toBe("ones 9+6=15, tens 2+5+1=8, hundreds 7+8=15, thousands 4+3+1=8");
    expect(renderColumns(columnsFor("-", 623, 269), 0)).toBe("ones 13-9=4, tens 12-1-6=5, hundreds 6-1-2=3");
    expect(renderColumns(columnsFor("*", 47, 6), 1)).toBe("ones: 7*6=42, write 2 carry 4; tens: 4*6+4=28");
  });
});

describe("world traces", () => {
  it("are deterministic per (problem, seed, sample) and differ across samples", () => {
    const p = generateProblem("train", 4, 1, 0);
    expect(generateTrace(p, 1, 0)).toEqual(generateTrace(p, 1, 0));
    const texts = new Set(Array.from({ length: 8 }, (_, k) => generateTrace(p, 1, k).response));
    expect(texts.size).toBeGreaterThan(4);
  });

  it("are graded correct by the project's grader, in both prompt formats", () => {
    for (const level of LEVELS)
      for (let i = 0; i < 60; i++) {
        const p = generateProblem("train", level, 2, i);
        const t = generateTrace(p, 2, i);
        expect(t.response.startsWith("<think>\n")).toBe(true);
        expect(t.response).toMatch(/\n<\/think>\n\nThe answer is \\boxed\{\d+\}\.$/);
        // A trace is right unless it left a direct step wrong; then it answers what its chain gives.
        const right = t.answer === p.answer;
        if (t.uncaughtErrors === 0) expect(right).toBe(true);
        const chat = gradeResponse(t.response, String(p.answer));
        expect(chat.extracted).toBe(String(t.answer));
        expect(chat.equal).toBe(right);
        const paper = gradeResponse(paperResponse(t), String(p.answer), { promptOpensThinking: paperPrompt(p.question).prompt.endsWith("<think>\n") });
        expect(paper.equal).toBe(right);
      }
  });

  it("parse back step by step: every step classified with its kind, phrasing and shortest phrasing", () => {
    let steps = 0;
    const kinds = new Set<string>();
    for (const level of LEVELS)
      for (let i = 0; i < 150; i++) {
        const p = generateProblem("train", level, 4, i);
        const t = generateTrace(p, 4, 0);
        const a = analyzeResponse(t.response);
        expect(a.closed).toBe(true);
        expect(a.unknownSteps).toBe(0);
        expect(a.steps).toHaveLength(t.steps.length);
        expect(a.usesDepth).toBe(t.usesDepth);
        a.steps.forEach((s, j) => {
          const g = t.steps[j];
          expect(s.kind).toBe(g.kind);
          expect(s.phrasing).toBe(g.phrasing);
          expect(s.shortest).toBe(g.shortest);
          expect(s.shortest!.length).toBeLessThanOrEqual(s.text.length);
          if (g.phrasing === 0 && g.rest <= 0 && !s.text.includes("write")) expect(s.shortest).toBe(s.text);
          if (g.phrasing > 0) expect(s.shortest!.length).toBeLessThan(s.text.length);
          // Written arithmetic is right except the injected errors a reflection corrects and the uncaught ones.
          if (s.arithmeticCorrect === false) expect(t.injectedErrors + t.uncaughtErrors).toBeGreaterThan(0);
          kinds.add(s.kind);
          steps++;
        });
      }
    expect(steps).toBeGreaterThan(2000);
    expect([...kinds].sort()).toEqual(["conclude", "confirm", "correct", "decomposed", "direct", "intro", "verify"]);
  });

  it("mix quick and deep traces, and correct every injected error", () => {
    let decomposed = 0;
    let injected = 0;
    const n = 600;
    for (let i = 0; i < n; i++) {
      const p = generateProblem("train", 5, 6, i);
      const t = generateTrace(p, 6, 0);
      const a = analyzeResponse(t.response);
      if (a.hasDecomposed) decomposed++;
      injected += t.injectedErrors;
      expect(a.steps.filter((s) => s.kind === "correct")).toHaveLength(t.injectedErrors);
    }
    expect(decomposed / n).toBeGreaterThan(0.5);
    expect(decomposed / n).toBeLessThan(0.9);
    expect(injected).toBeGreaterThan(0);
    expect(injected / n).toBeLessThan(0.3);
  });

  it("with extra verifications, end about p of the traces with 1–3 more restatements of the result, and change nothing else", () => {
    const extra = { ...DEFAULT_POLICY, extraVerify: { p: 0.5, max: 3 } };
    let withExtra = 0;
    const n = 600;
    for (let i = 0; i < n; i++) {
      const p = generateProblem("train", 1 + (i % 5), 5, Math.floor(i / 5));
      const plain = generateTrace(p, 5);
      const t = generateTrace(p, 5, 0, extra);
      // The same trace up to its closing verifications: the extra ones come after, right before the conclusion.
      const body = plain.steps.slice(0, -1);
      expect(t.steps.slice(0, body.length).map((s) => s.text)).toEqual(body.map((s) => s.text));
      const added = t.steps.slice(body.length, -1);
      expect(added.length).toBeLessThanOrEqual(3);
      for (const s of added) {
        expect(s.kind).toBe("verify");
        expect(s.text).toContain(`=${t.answer}`);
      }
      expect(t.answer).toBe(plain.answer);
      if (added.length > 0) withExtra++;
    }
    expect(withExtra / n).toBeGreaterThan(0.4);
    expect(withExtra / n).toBeLessThan(0.6);
  });

  it("with a style spread, word a whole trace in one style: terse traces mostly pick the shortest phrasings, wordy ones none of them", () => {
    const styled = { ...DEFAULT_POLICY, styleSpread: 0.2 };
    // Verbosity: characters of the steps over the characters of the same steps in their shortest phrasing.
    const by = { terse: { chars: 0, shortest: 0, steps: 0, tersest: 0 }, wordy: { chars: 0, shortest: 0, steps: 0, tersest: 0 } };
    let all = 0;
    let allShortest = 0;
    for (let i = 0; i < 1500; i++) {
      const p = generateProblem("train", 1 + (i % 5), 8, Math.floor(i / 5));
      // The default world has no style: its traces are the ones the committed model was trained on.
      expect(generateTrace(p, 8).style).toBeUndefined();
      const t = generateTrace(p, 8, 0, styled);
      const style = t.style!;
      expect(style).toBeGreaterThanOrEqual(0);
      expect(style).toBeLessThan(1);
      const group = style < 1 / 3 ? by.terse : style > 2 / 3 ? by.wordy : undefined;
      for (const s of t.steps) {
        all += s.text.length;
        allShortest += s.shortest.length;
        if (group === undefined) continue;
        group.chars += s.text.length;
        group.shortest += s.shortest.length;
        group.steps++;
        if (s.phrasing === 0) group.tersest++;
      }
    }
    // Overall as wordy as the uniform pick per step (2.0): only how the wording is spread over traces differs.
    expect(all / allShortest).toBeGreaterThan(1.8);
    expect(all / allShortest).toBeLessThan(2.2);
    expect(by.terse.chars / by.terse.shortest).toBeLessThan(1.5);
    expect(by.wordy.chars / by.wordy.shortest).toBeGreaterThan(2.4);
    expect(by.terse.tersest / by.terse.steps).toBeGreaterThan(0.4);
    expect(by.wordy.tersest / by.wordy.steps).toBeLessThan(0.05);
  });

  it("leave some direct steps on big operands wrong, only on hard levels and only in traces that never reflect", () => {
    const wrongByLevel: number[] = [];
    for (const level of LEVELS) {
      let wrong = 0;
      const n = 400;
      for (let i = 0; i < n; i++) {
        const p = generateProblem("train", level, 7, i);
        const t = generateTrace(p, 7, 0);
        if (t.uncaughtErrors === 0) continue;
        wrong++;
        const a = analyzeResponse(t.response);
        expect(a.hasReflection).toBe(false);
        expect(a.steps.some((s) => s.kind === "direct" && s.arithmeticCorrect === false)).toBe(true);
        // One wrong step always gives a wrong answer (+, − and × by 2–9 keep a difference); two can cancel.
        if (t.uncaughtErrors === 1) expect(t.answer).not.toBe(p.answer);
        expect(t.answer).toBeGreaterThan(0);
      }
      wrongByLevel.push(wrong / n);
    }
    expect(wrongByLevel.slice(0, 2)).toEqual([0, 0]);
    // Most traces reflect, so uncaught errors are a small share even on the hardest level.
    for (const share of wrongByLevel.slice(2)) expect(share).toBeLessThan(0.1);
    expect(wrongByLevel[4]).toBeGreaterThan(0);
  });

  it("mark where they write a wrong result on purpose, in both response formats (the pretraining masks it)", () => {
    let marked = 0;
    for (let i = 0; i < 400; i++) {
      const p = generateProblem("train", 5, 8, i);
      const t = generateTrace(p, 8, 0);
      const wrongSteps = t.steps.filter((s) => s.kind === "direct" && analyzeStep(s.text).arithmeticCorrect === false);
      expect(t.steps.filter((s) => s.error !== undefined)).toHaveLength(wrongSteps.length);
      expect(wrongSteps.length).toBe(t.injectedErrors + t.uncaughtErrors);
      for (const [response, offset] of [[t.response, THINK_OPEN.length], [paperResponse(t), 0]] as const) {
        const spans = errorSpans(t, offset);
        expect(spans).toHaveLength(wrongSteps.length);
        spans.forEach(([a, b], k) => {
          // The span is the wrong result itself, right after its "a op b=".
          const step = wrongSteps[k]!;
          expect(response.slice(a, b)).toBe(analyzeStep(step.text).slots.r);
          expect(response.slice(0, a)).toMatch(/\d+[-+*]\d+=$/);
        });
        marked += spans.length;
      }
    }
    expect(marked).toBeGreaterThan(0);
  });

  it("leave a step the templates do not know as unknown", () => {
    expect(analyzeStep("The cat sat on 17+25=42.").kind).toBe("unknown");
    // Repeated slots must agree: a step that restates a different sum is not a phrasing of one content.
    expect(analyzeStep("First, I compute 17+25. That gives 17+26=43.").kind).toBe("unknown");
    const s = analyzeStep("First, I compute 17+25. That gives 17+25=43. Now 43*3.");
    expect(s.kind).toBe("direct");
    expect(s.arithmeticCorrect).toBe(false);
    expect(s.shortest).toBe("17+25=43. Now 43*3.");
  });
});
