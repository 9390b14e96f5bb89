/**
 * Adversarial inputs: every call returns a verdict (never throws) within its time bound plus a generous 1 s
 * margin for a loaded machine. The bound is enforced inside the grader by step/time budgets, depth limits and
 * size limits on exact arithmetic.
 */
import { describe, expect, it } from "vitest";
import { extractAnswer, grade, isEquivalent, judge } from "../../src/grade/index.js";

const BOUND_MS = 1000;
const MARGIN_MS = 1000;

const nested = (open: string, inner: string, close: string, depth: number): string => open.repeat(depth) + inner + close.repeat(depth);
let soup = "";
for (let k = 0; soup.length < 100_000; k++) soup += ["\\frac{", "}", "{", "\\sqrt[", "]", "^{", "_", "\\left(", "\\right]", "$", "\\boxed{", "1", "x", ",", "=", "\\\\", "&"][(k * 7919) % 17];

const ADVERSARIAL: [string, string][] = [
  ["100,000 x", "x".repeat(100_000)],
  ["100,000-char LaTeX soup", soup],
  ["100,000-char sum", "1+".repeat(50_000) + "1"],
  ["100,000 dollars", "$".repeat(100_000)],
  ["20,000 unclosed boxes", "\\boxed{".repeat(20_000)],
  ["100,000 boxed answers", "\\boxed{1} and ".repeat(7_200)],
  ["10,000 nested braces", nested("{", "1", "}", 10_000)],
  ["10,000 nested braces in a box", "\\boxed{" + nested("{", "1", "}", 10_000) + "}"],
  ["10,000 nested parentheses", nested("(", "1", ")", 10_000)],
  ["tower 10^{10^{10^{10}}}", "10^{10^{10^{10}}}"],
  ["tower 2^2^2^2^2^2^2", "2^{2^{2^{2^{2^{2^{2}}}}}}"],
  ["tiny tower", "10^{-10^{10^{10}}}"],
  ["1,000-deep \\frac", nested("\\frac{", "1", "}{2}", 1000)],
  ["1,000-deep \\sqrt", nested("\\sqrt{", "2", "}", 1000)],
  ["huge factorial", "99999999999999!"],
  ["huge binomial", "\\binom{10^{9}}{5 \\cdot 10^{8}}"],
  ["huge polynomial power", "(x+1)^{100000}"],
  ["long list", Array.from({ length: 3000 }, (_, k) => String(k)).join(", ")],
  ["big matrix", "\\begin{pmatrix}" + Array.from({ length: 60 }, () => Array.from({ length: 60 }, (_, j) => String(j)).join("&")).join("\\\\") + "\\end{pmatrix}"],
  ["unclosed frac", "\\frac{1}{2"],
  ["brace soup", "}}}{{{\\sqrt[\\frac{"],
  ["half a matrix", "\\begin{pmatrix}1&2\\\\"],
  ["lone backslash", "\\"],
  ["carets", "^^^^^^^^"],
  ["unclosed text", "\\text{"],
  ["null bytes", "\u0000\u0000\\boxed{\u0000}"],
  ["division by zero", "\\frac{1}{0}"],
  ["0^0 and i^i", "0^0 + i^i"],
  ["unknown commands", "\\zz\\yy\\xx{1}{2}"],
  ["think without end", "<think>" + "wait ".repeat(20_000)],
  // Paths added for real reasoning-model answers (issue 16).
  ["union of 300 intervals against an inequality", Array.from({ length: 300 }, (_, k) => `[${2 * k}, ${2 * k + 1}]`).join(" \\cup ") + " = x^2 + \\sin x > 3"],
  ["2,000 inequalities joined by and", Array.from({ length: 2000 }, (_, k) => `x > ${k}`).join(" \\text{ and } ")],
  ["power of a big matrix", "\\begin{pmatrix}" + Array.from({ length: 30 }, () => Array.from({ length: 30 }, (_, j) => String(j)).join("&")).join("\\\\") + "\\end{pmatrix}^8"],
  ["sum of 2,000 tuples", Array.from({ length: 2000 }, () => "(1, 2)").join(" + ")],
  ["3,000 repeating digits before dots", "0." + "3".repeat(3000) + "..."],
  ["approximation with 2,000 digits", "\\approx " + "1".repeat(2000) + ".5"],
  ["10,000 spans joined by and", "$1$ and ".repeat(10_000) + "$2$"],
  ["answer line of 20,000 sentences", "**Answer:** " + "12 pieces are left. ".repeat(20_000)],
  ["10,000 bold markers", "**a ".repeat(10_000) + " answer: 3"],
  ["unit vectors in a long sum", Array.from({ length: 3000 }, (_, k) => `${k}\\mathbf{${"ijk"[k % 3]}}`).join(" + ")],
  ["20,000 semicolons", "x=1, y=2; ".repeat(20_000)],
];

describe("adversarial inputs return a verdict within the bound", () => {
  it.each(ADVERSARIAL)("%s", (_name, s) => {
    const checks: [string, () => unknown][] = [
      ["isEquivalent(s, s)", () => isEquivalent(s, s)],
      ["isEquivalent(s, '1')", () => isEquivalent(s, "1")],
      ["isEquivalent('1', s)", () => isEquivalent("1", s)],
      ["isEquivalent(s, s + '+1')", () => isEquivalent(s, s + "+1")],
      ["grade('1', s)", () => grade("1", s)],
      ["grade(s, '\\\\boxed{1}')", () => grade(s, "\\boxed{1}")],
      ["extractAnswer(s)", () => extractAnswer(s)],
    ];
    for (const [what, f] of checks) {
      const t0 = performance.now();
      let out: unknown;
      expect(() => (out = f()), what).not.toThrow();
      const ms = performance.now() - t0;
      expect(ms, `${what} took ${ms.toFixed(0)} ms`).toBeLessThan(BOUND_MS + MARGIN_MS);
      if (what.startsWith("isEquivalent")) expect(typeof out).toBe("boolean");
    }
  });

  it("a tower of powers is not equal to a different tower, and equal to itself", () => {
    expect(isEquivalent("10^{10^{10^{10}}}", "10^{10^{10^{10}}}")).toBe(true);
    expect(isEquivalent("10^{10^{10^{10}}}", "10^{10^{10^{11}}}")).toBe(false);
  });

  it("a small bound is honoured too, and reported", () => {
    // A list of 3,000 numbers against its reverse needs many element comparisons; with 5 ms it must stop.
    const a = Array.from({ length: 3000 }, (_, k) => `\\frac{${k}}{7}`).join(", ");
    const b = Array.from({ length: 3000 }, (_, k) => `\\frac{${2999 - k}}{7}`).join(", ");
    const t0 = performance.now();
    const v = judge(a, b, { timeoutMs: 5 });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(5 + MARGIN_MS);
    expect(typeof v.equal).toBe("boolean");
  });

  it("non-string input is a verdict, not an exception", () => {
    for (const bad of [null, undefined, 42, {}, []]) {
      expect(isEquivalent(bad as unknown as string, "1")).toBe(false);
      expect(isEquivalent("1", bad as unknown as string)).toBe(false);
      expect(extractAnswer(bad as unknown as string)).toBeNull();
      expect(grade("1", bad as unknown as string).equal).toBe(false);
    }
  });
});
