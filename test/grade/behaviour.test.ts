/**
 * The grader's documented behaviour, one case per rule (docs/GRADER.md): extraction cues and equivalence
 * classes, including the failure modes of common graders it must not repeat.
 */
import { describe, expect, it } from "vitest";
import { extractAnswer, extractChoice, grade, isEquivalent, judge, type ExtractOptions } from "../../src/grade/index.js";

describe("extractAnswer", () => {
  const cases: [string, string, string | null, ExtractOptions?][] = [
    ["last \\boxed with nested braces", "so $x = \\boxed{\\frac{1}{\\sqrt{2}}}$.", "\\frac{1}{\\sqrt{2}}"],
    ["\\fbox", "Hence \\fbox{42}.", "42"],
    ["\\boxed without braces", "The answer is $\\boxed 7$.", "7"],
    ["the last box wins over earlier ones", "First \\boxed{1}. Then, after checking the case n = 3 again, \\boxed{2}.", "2"],
    ["adjacent boxes joined by connectives", "The roots are \\boxed{1} and \\boxed{2}.", "1, 2"],
    ["identical adjacent boxes count once", "\\boxed{5} \\boxed{5}", "5"],
    ["<answer> block (the paper's template)", "<think>maybe \\boxed{9}</think>\n<answer>The answer is \\boxed{5}.</answer>", "5"],
    ["<answer> block without a box", "<think>hmm</think><answer> 7 </answer>", "7"],
    ["\"the answer is\"", "We compute things. The answer is 42.", "42"],
    ["a value right after \"answer\"", "The answer is 12 apples in total, I think.", "12"],
    ["prose after \"answer\" is no answer", "To answer this, note that x = 2 and y = 3. Adding gives a total of 8 marbles.", "8"],
    ["\"Final Answer:\" (Minerva)", "Lots of work.\nFinal Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"],
    ["final answer phrase after an earlier box", "so \\boxed{200} here. Then $10,200 + $255. Final Answer: The final answer is $10,455$. I hope it is correct.", "10,455"],
    ["GSM8K #### N", "She has 3 + 4 = 7 apples.\n#### 1,234", "1,234", { format: "gsm8k" }],
    ["**N** emphasis", "Adding these up gives a total of **73**.", "73"],
    ["**Final Answer** then a box", "**Final Answer**\n\\boxed{189}", "189"],
    ["<think> ignored when an answer follows", "<think>I guess \\boxed{1}</think>\nSo the answer is \\boxed{2}.", "2"],
    ["answer inside <think> used when nothing follows", "<think>… so \\boxed{3}</think>", "3"],
    ["truncated response: <think> never closed", "<think>Let me see, \\boxed{3} maybe, and then", null],
    ["thinking required: no </think> means truncated", "so \\boxed{4}", null, { thinking: "required" }],
    ["thinking required, closed", "hmm</think> so \\boxed{4}", "4", { thinking: "required" }],
    ["format boxed needs a box", "The answer is 4.", null, { format: "boxed" }],
    ["format answer-tag needs the tag", "\\boxed{4}", null, { format: "answer-tag" }],
    ["a new turn the model wrote is not its answer", "\\boxed{1}<|im_end|>\n<|im_start|>user\n\\boxed{2}", "1"],
    ["bare answer", "\\frac{3}{4}", "\\frac{3}{4}"],
    ["last formula when there is no cue", "We find that $x = 2$ and therefore $y = \\frac{1}{3}$ works.", "y = \\frac{1}{3}"],
    ["last number when there is no cue", "Therefore, there are 12 sequences that meet the three conditions.", "12"],
    ["an exponent is not the answer", "so the area is 1,000.99m²", "1,000.99"],
  ];
  it.each(cases)("%s", (_name, response, expected, opts) => {
    expect(extractAnswer(response, opts)).toBe(expected);
  });

  it("multiple-choice letters", () => {
    expect(extractChoice("I think the answer is (C).")?.value).toBe("c");
    expect(extractChoice("B. Because A is wrong", { lowercase: false })?.value).toBe("B");
    expect(extractChoice("None of these.")).toBeNull();
    expect(extractAnswer("Final answer: D", { format: "choice", lowercase: false })).toBe("D");
  });
});

describe("isEquivalent", () => {
  const equal: [string, string][] = [
    // numbers
    ["1234", "1,234"], ["1234", "1 234"], ["12345", "12{,}345"], ["10080", "10,\\!080"], ["0.5", ".5"], ["1500", "1.5e3"],
    ["2500", "2.5 \\times 10^{3}"], ["50\\%", "50"], ["50\\%", "0.5"], ["-4\\%", "-4"], ["10", "10 \\text{ cm}"], ["864 \\mbox{ inches}^2", "864"],
    ["90^\\circ", "90"], ["90^\\circ", "\\frac{\\pi}{2}"], ["\\$18.90", "18.9"], ["5", "5.0"], ["52_8", "52"], ["52_8", "52_{8}"],
    // fractions
    ["\\frac{3}{4}", "\\dfrac34"], ["\\frac{3}{4}", "3/4"], ["\\frac{3}{4}", "0.75"], ["1\\frac{4}{5}", "9/5"], ["137 \\frac{1}{2}", "137.5"],
    ["\\frac{1}{3}", "0.333333"], ["\\frac{1}{3}", "0.\\overline{3}"], ["-\\frac{1}{2}", "\\frac{-1}{2}"],
    // radicals and π
    ["2\\sqrt{2}", "\\sqrt{8}"], ["\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"], ["\\sqrt[3]{8}", "2"], ["2\\pi", "\\pi \\cdot 2"],
    ["\\frac{9}{4}\\pi", "2.25\\pi"], ["\\sqrt{2}+\\sqrt{5}", "\\sqrt 5+\\sqrt 2"],
    // LaTeX noise
    ["\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\pi/2)"], ["(x-2)(x+2)", "\\left(x-2\\right)\\left(x+2\\right)"], ["$7$", "7"],
    // intervals, unions, inequalities
    ["(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty)\\cup(-\\infty,2)"], ["[0, 2]", "[0,1) \\cup [1,2]"], ["x \\in [-2,7]", "[-2,7]"],
    ["[-2, 7]", "-2 \\le x \\le 7"], ["(2, \\infty)", "x > 2"], ["x < 1", "-x > -1"], ["x \\leq 5", "5 \\geq x"],
    // sets and lists
    ["\\{1, 2\\}", "\\{2, 1\\}"], ["1, 2", "2, 1"], ["3 \\pm 2\\sqrt{2}", "3 - 2\\sqrt{2}, 3 + 2\\sqrt{2}"], ["(1, 2)", "1, 2"],
    // matrices
    ["\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}"],
    ["\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}"],
    // equations
    ["x = 3", "3"], ["3", "x = 3"], ["y = 2x + 3", "y = 3 + 2x"], ["2x + 4y = 6", "x + 2y = 3"], ["y = 2x + 3", "2x + 3"],
    // multiple choice and words
    ["\\text{(C)}", "C"], ["(C)", "\\text{c}"], ["\\text{Evelyn}", "Evelyn"], ["\\text{east}", "East"],
    // symbolic
    ["(x+1)^2", "x^2+2x+1"], ["\\frac{x^2-1}{x-1}", "x+1"], ["\\sin^2 x + \\cos^2 x", "1"], ["e^{i\\pi}", "-1"], ["\\ln(e^2)", "2"],
    ["\\tan^2(y)+1", "\\sec^2(y)"], ["3+4i", "4i+3"], ["\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}"],
  ];
  const different: [string, string][] = [
    // the failure modes of common graders
    ["\\frac{1}{2004!}", "\\frac{1}{2006!}"], ["10^{100}", "10^{100}+1"], ["\\frac{\\sqrt{2}}{2004!}", "\\frac{\\sqrt{2}}{2006!}"],
    ["y = 2x", "y = 2x + 1"], ["x + y = 1", "x - y = 1"], ["x = 3", "y = 3"], ["x^2 = 4", "x = 2"], ["7 = 11a + c", "11a + c"],
    // numbers
    ["1234", "1235"], ["\\frac{1}{3}", "0.33"], ["\\pi", "3.14"], ["52_8", "42"], ["32349", "32, 349"], ["2", "-2"],
    // structures
    ["[0, 1)", "(0, 1)"], ["(1, 2)", "(2, 1)"], ["(1, 2)", "\\{1, 2\\}"], ["\\{1, 2\\}", "\\{1, 2, 3\\}"], ["3 \\pm 2\\sqrt{2}", "3 + 2\\sqrt{2}"],
    ["\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}"], ["x < 1", "x > -1"], ["x \\geq 5", "x \\leq 5"],
    // symbolic
    ["2 \\sin b \\cos a", "2 \\sin a \\cos b"], ["1 - \\frac{1}{e}", "1 + \\frac{1}{e}"], ["i", "-i"], ["(a+5)(b+2)", "(5)(b+2)"], ["\\sqrt{x^2}", "x"],
    // words and letters
    ["C", "D"], ["\\text{east}", "\\text{west}"], ["", "0"], ["0", ""],
  ];
  it.each(equal)("%s ≡ %s", (g, p) => expect(isEquivalent(g, p), JSON.stringify(judge(g, p))).toBe(true));
  it.each(different)("%s ≢ %s", (g, p) => expect(isEquivalent(g, p), JSON.stringify(judge(g, p))).toBe(false));

  it("honours floatRounding, strict and bareLists", () => {
    expect(isEquivalent("\\frac{1}{3}", "0.3333", { floatRounding: 4 })).toBe(true);
    expect(isEquivalent("\\frac{1}{3}", "0.3333")).toBe(false);
    expect(isEquivalent("f(x)", "f(y)")).toBe(false);
    expect(isEquivalent("f(x)", "f(y)", { strict: false })).toBe(true);
    expect(isEquivalent("10, 4, -2", "4, 10, -2")).toBe(true);
    expect(isEquivalent("10, 4, -2", "4, 10, -2", { bareLists: "ordered" })).toBe(false);
    expect(isEquivalent("1000.99", "1000,99", { decimalComma: true })).toBe(true);
  });
});

describe("grade", () => {
  it("extracts then compares, and says why", () => {
    expect(grade("\\frac{1}{2}", "<think>so 0.5?</think> The answer is $\\boxed{\\dfrac{1}{2}}$.")).toMatchObject({ extracted: "\\dfrac{1}{2}", equal: true });
    const r = grade("3", "<think>still thinking");
    expect(r).toEqual({ extracted: null, equal: false, reason: "no answer" });
    expect(grade("Natalia sold 48/2 = 24 clips in May.\n#### 72", "#### 72", { format: "gsm8k" }).equal).toBe(true);
  });
});
