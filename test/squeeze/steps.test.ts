/**
 * Reasoning steps (METHOD.md stage 2, step 1): the thinking split on blank lines, the answer after `</think>`
 * kept unchanged, and joining the parts gives back the response exactly.
 */
import { describe, expect, it } from "vitest";
import { joinSteps, splitSteps, STEP_DELIMITER, textAfterStep, textBeforeStep, THINK_CLOSE, THINK_OPEN, type SplitResponse } from "../../src/squeeze/steps.js";
import { Rng } from "../../src/util/rng.js";

/** Every structural promise of splitSteps, for one response. */
function checkSplit(response: string): SplitResponse {
  const split = splitSteps(response);
  // the parts join back to the response, exactly
  expect(joinSteps(split)).toBe(response);
  expect(split.head + split.steps.map((s, i) => s + (split.separators[i] ?? "")).join("") + split.tail).toBe(response);
  // one separator fewer than steps (none when there are no steps)
  expect(split.separators.length).toBe(Math.max(0, split.steps.length - 1));
  // separators are a line break and blank lines; steps never contain a blank line
  for (const sep of split.separators) expect(sep).toMatch(/^\r?\n([ \t]*\r?\n)+$/);
  for (const s of split.steps) expect(s).not.toContain(STEP_DELIMITER);
  // the last step does not end in whitespace (it went to the tail)
  if (split.steps.length > 0) expect(split.steps[split.steps.length - 1]).not.toMatch(/\s$/);
  // head: empty, or an opening <think> with whitespace around it
  expect(split.head).toMatch(/^\s*(<think>\s*)?$/);
  const close = response.indexOf(THINK_CLOSE);
  if (close < 0) {
    // no </think>: no steps, all of it is tail
    expect(split).toEqual({ head: "", steps: [], separators: [], tail: response });
  } else {
    // the tail is whitespace, then the first </think> and everything after it, unchanged
    expect(split.tail).toMatch(/^\s*<\/think>/);
    expect(response.endsWith(split.tail)).toBe(true);
    expect(split.tail.slice(split.tail.indexOf(THINK_CLOSE))).toBe(response.slice(close));
    for (const s of split.steps) expect(s).not.toContain(THINK_CLOSE);
  }
  // text before + step + text after is the whole response, for every step
  for (let i = 0; i < split.steps.length; i++) {
    expect(textBeforeStep(split, i) + split.steps[i] + textAfterStep(split, i)).toBe(response);
    // the continuation starts with the step's separator (or the tail for the last step)
    if (i < split.separators.length) expect(textAfterStep(split, i).startsWith(split.separators[i])).toBe(true);
    else expect(textAfterStep(split, i)).toBe(split.tail);
  }
  if (split.steps.length > 0) expect(textBeforeStep(split, 0)).toBe(split.head);
  return split;
}

describe("splitSteps: response shapes", () => {
  it("paper prompt (the prompt opened the thinking): step\\n\\nstep\\n</think>\\n\\n<answer>", () => {
    const r = "Let me compute 3 + 4.\n\nThat is 7.\n</think>\n\nThe answer is \\boxed{7}.";
    expect(checkSplit(r)).toEqual({
      head: "",
      steps: ["Let me compute 3 + 4.", "That is 7."],
      separators: ["\n\n"],
      tail: "\n</think>\n\nThe answer is \\boxed{7}.",
    });
  });

  it("chat response that opens its own thinking with <think>\\n", () => {
    const r = "<think>\nFirst, read the problem.\n\nSecond, add.\n\nThird, check.\n</think>\n\n**Answer:** \\boxed{12}";
    expect(checkSplit(r)).toEqual({
      head: "<think>\n",
      steps: ["First, read the problem.", "Second, add.", "Third, check."],
      separators: ["\n\n", "\n\n"],
      tail: "\n</think>\n\n**Answer:** \\boxed{12}",
    });
  });

  it("<think> followed by a blank line, and whitespace before <think>", () => {
    expect(checkSplit("<think>\n\nA.\n\nB.</think>x")).toEqual({ head: "<think>\n\n", steps: ["A.", "B."], separators: ["\n\n"], tail: "</think>x" });
    expect(checkSplit("\n  <think>  \n A.\n\nB.\n</think>")).toEqual({ head: "\n  <think>  \n ", steps: ["A.", "B."], separators: ["\n\n"], tail: "\n</think>" });
  });

  it("no </think>: no steps, all of it is tail", () => {
    for (const r of ["Step one.\n\nStep two.\n\nStep th", "<think>\nStep one.\n\nStep two", "", "just an answer \\boxed{3}", "<think>"]) {
      expect(checkSplit(r)).toEqual({ head: "", steps: [], separators: [], tail: r });
    }
  });

  it("runs of three or more newlines are one separator, kept as they are", () => {
    const r = "a\n\n\nb\n\n\n\nc\n\nd</think>x";
    expect(checkSplit(r)).toEqual({ head: "", steps: ["a", "b", "c", "d"], separators: ["\n\n\n", "\n\n\n\n", "\n\n"], tail: "</think>x" });
  });

  it("single newlines stay inside a step", () => {
    const r = "line 1\nline 2\n\nline 3\nline 4\n</think>\n\nanswer";
    expect(checkSplit(r).steps).toEqual(["line 1\nline 2", "line 3\nline 4"]);
  });

  it("empty thinking", () => {
    expect(checkSplit("<think>\n\n</think>\n\nThe answer is 4.")).toEqual({ head: "<think>\n\n", steps: [], separators: [], tail: "</think>\n\nThe answer is 4." });
    expect(checkSplit("<think></think>4")).toEqual({ head: "<think>", steps: [], separators: [], tail: "</think>4" });
    expect(checkSplit("</think>\n\nThe answer is 4.")).toEqual({ head: "", steps: [], separators: [], tail: "</think>\n\nThe answer is 4." });
    // Leading whitespace is head (so no step is ever empty).
    expect(checkSplit("\n\n</think>4")).toEqual({ head: "\n\n", steps: [], separators: [], tail: "</think>4" });
    expect(checkSplit("  \n \n\n </think>")).toEqual({ head: "  \n \n\n ", steps: [], separators: [], tail: "</think>" });
  });

  it("a single step", () => {
    expect(checkSplit("Just one step.\n</think>\n\n7")).toEqual({ head: "", steps: ["Just one step."], separators: [], tail: "\n</think>\n\n7" });
    expect(checkSplit("<think>\nOnly this.</think>7")).toEqual({ head: "<think>\n", steps: ["Only this."], separators: [], tail: "</think>7" });
  });

  it("whitespace and blank lines before </think> go to the tail, not to a last (empty) step", () => {
    expect(checkSplit("a\n\nb\n\n\n</think>")).toEqual({ head: "", steps: ["a", "b"], separators: ["\n\n"], tail: "\n\n\n</think>" });
    expect(checkSplit("a\n\nb  \t\n \n\n</think>ans")).toEqual({ head: "", steps: ["a", "b"], separators: ["\n\n"], tail: "  \t\n \n\n</think>ans" });
  });

  it("spaces around a blank line stay with the steps", () => {
    expect(checkSplit("a  \n\n  b</think>")).toEqual({ head: "", steps: ["a  ", "  b"], separators: ["\n\n"], tail: "</think>" });
  });

  it("the answer after </think> is kept unchanged, blank lines, a second </think> and all", () => {
    const r = "s1\n\ns2\n</think>\n\nPart one.\n\nPart two.\n</think>\n\n\\boxed{1}";
    const split = checkSplit(r);
    expect(split.steps).toEqual(["s1", "s2"]);
    expect(split.tail).toBe("\n</think>\n\nPart one.\n\nPart two.\n</think>\n\n\\boxed{1}");
  });

  it("a <think> that is not at the start is part of the thinking", () => {
    const split = checkSplit("Hmm <think> a\n\nb</think>c");
    expect(split.head).toBe("");
    expect(split.steps).toEqual(["Hmm <think> a", "b"]);
  });

  it("the paper-scale shape: 100 steps", () => {
    const steps = Array.from({ length: 100 }, (_, i) => `Step ${i}: compute ${i} × 2 = ${2 * i}.\nSo far so good.`);
    const r = `<think>\n${steps.join("\n\n")}\n</think>\n\n\\boxed{198}`;
    const split = checkSplit(r);
    expect(split.steps).toEqual(steps);
    expect(split.separators).toEqual(Array(99).fill("\n\n"));
  });

  it("no step is empty: a response that starts with a blank line (paper prompt) has no empty first step", () => {
    // Leading whitespace of a chat response goes to the head; trailing whitespace of the thinking goes to the tail.
    // A paper-prompt response that begins with a blank line should not get an empty step 0 (it would be
    // "refined" — K candidates sampled and scored — for nothing, and counted as a step).
    const r = "\n\nFirst step.\n\nSecond step.\n</think>\n\n7";
    const split = checkSplit(r);
    for (const s of split.steps) expect(s.trim()).not.toBe("");
    expect(split.steps.map((s) => s.trim())).toEqual(["First step.", "Second step."]);
  });
});

describe("joinSteps", () => {
  const r = "<think>\nA long first step.\n\nB.\n\n\nAnother long step here.\n</think>\n\n\\boxed{5}";
  const split = splitSteps(r);

  it("is the inverse of splitSteps (default: the original steps)", () => {
    expect(joinSteps(split)).toBe(r);
    expect(joinSteps(split, split.steps)).toBe(r);
  });

  it("replaces steps and keeps the head, separators and tail", () => {
    expect(joinSteps(split, ["A.", "B.", "C."])).toBe("<think>\nA.\n\nB.\n\n\nC.\n</think>\n\n\\boxed{5}");
    expect(joinSteps(split, [split.steps[0], split.steps[1], "Shorter."])).toBe("<think>\nA long first step.\n\nB.\n\n\nShorter.\n</think>\n\n\\boxed{5}");
    // the text around step i is the same before and after replacing it
    const replaced = ["X", split.steps[1], split.steps[2]];
    expect(joinSteps(split, replaced)).toBe(textBeforeStep(split, 0) + "X" + textAfterStep(split, 0));
  });

  it("a replaced step joins as textBeforeStep + replacement + textAfterStep, for every i", () => {
    for (let i = 0; i < split.steps.length; i++) {
      const steps = split.steps.slice();
      steps[i] = `<replacement ${i}>`;
      expect(joinSteps(split, steps)).toBe(textBeforeStep(split, i) + steps[i] + textAfterStep(split, i));
    }
  });

  it("wrong step count is an error", () => {
    expect(() => joinSteps(split, ["A.", "B."])).toThrow(RangeError);
    expect(() => joinSteps(split, ["A.", "B.", "C.", "D."])).toThrow(/4 steps for 3 places/);
    expect(() => joinSteps(splitSteps("no close tag"), ["x"])).toThrow(RangeError);
  });

  it("no steps: head + tail", () => {
    const s = splitSteps("<think>\n</think>\n\nanswer");
    expect(joinSteps(s, [])).toBe("<think>\n</think>\n\nanswer");
  });
});

describe("textBeforeStep / textAfterStep", () => {
  it("by hand for a three-step chat response", () => {
    const r = "<think>\na\n\nb\n\n\nc\n</think>\n\nans";
    const split = splitSteps(r);
    expect(textBeforeStep(split, 0)).toBe("<think>\n");
    expect(textBeforeStep(split, 1)).toBe("<think>\na\n\n");
    expect(textBeforeStep(split, 2)).toBe("<think>\na\n\nb\n\n\n");
    expect(textAfterStep(split, 0)).toBe("\n\nb\n\n\nc\n</think>\n\nans");
    expect(textAfterStep(split, 1)).toBe("\n\n\nc\n</think>\n\nans");
    expect(textAfterStep(split, 2)).toBe("\n</think>\n\nans");
  });
});

describe("splitSteps: random responses round-trip", () => {
  const pieces = ["word", "x = 3", "So", " ", "  ", "\t", "\n", "\n\n", "\n\n\n", "\n\n\n\n", "$\\frac{1}{2}$", "Wait,", "<think>", "think", "é", "\u00a0"];

  function randomText(rng: Rng, n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += rng.pick(pieces);
    return s;
  }

  it("1000 seeded responses of every shape", () => {
    const rng = new Rng(4242);
    for (let t = 0; t < 1000; t++) {
      const lead = rng.pick(["", "", "\n", " ", "\n\n"]);
      const open = rng.pick(["", `${THINK_OPEN}\n`, THINK_OPEN, `${THINK_OPEN}\n\n`]);
      const thinking = randomText(rng, rng.int(0, 30));
      const close = rng.next() < 0.85 ? rng.pick([THINK_CLOSE, `\n${THINK_CLOSE}`, `\n\n${THINK_CLOSE}`]) : "";
      const answer = close ? randomText(rng, rng.int(0, 8)) + rng.pick(["", "\\boxed{42}", `\n${THINK_CLOSE}x`]) : "";
      const response = lead + open + thinking + close + answer;
      const split = checkSplit(response);
      // replacing every step with a marker and splitting again gives the markers back (when they are plain)
      if (split.steps.length > 0) {
        const markers = split.steps.map((_, i) => `S${i}`);
        const again = splitSteps(joinSteps(split, markers));
        expect(again.steps).toEqual(markers);
        expect(again.separators).toEqual(split.separators);
        expect(again.tail).toBe(split.tail);
      }
    }
  });
});
