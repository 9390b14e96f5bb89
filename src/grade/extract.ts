/**
 * Final-answer extraction from model responses. See docs/GRADER.md ("Extraction") for the rules; in short:
 * text after </think> only (an unclosed <think> is a truncated response: no answer), inside <answer>…</answer>
 * when present, then the latest of \boxed{…} and "Final Answer: …", then weaker cues ("the answer is …",
 * "#### N", **N**), then the last formula or number. Every scan is linear; no regex can backtrack badly.
 */
import { allBoxed, type BoxedMatch } from "./boxed.js";
import { Budget, BudgetExceeded } from "./budget.js";
import { UNIT_WORDS } from "./lexer.js";
import { cleanAnswer, prepare } from "./normalize.js";

export type AnswerFormat =
  /** Every cue, in the priority order above, with fallbacks. */
  | "auto"
  /** Only \boxed{…} / \fbox{…}. */
  | "boxed"
  /** The paper's template: the <answer> … </answer> block (a \boxed inside it wins). */
  | "answer-tag"
  /** GSM8K's "#### N" first, then as auto. */
  | "gsm8k"
  /** The whole input is the answer (reference answers): only outer $…$ and \boxed are removed. */
  | "bare"
  /** A multiple-choice letter (see `choices`). */
  | "choice";

export interface ExtractOptions {
  format?: AnswerFormat;
  /**
   * "auto" (default): a response with <think> but no </think> is truncated (null); one without think tags is
   * read whole. "required": a response without </think> is truncated — for chat templates that open <think>
   * in the prompt, where the response itself never contains "<think>".
   */
  thinking?: "auto" | "required";
  /** "final answer is X" outranks a \boxed anywhere (default false: the later of the two wins). */
  preferPhrase?: boolean;
  /** Consider \boxed at all (default true). */
  boxed?: boolean;
  /**
   * Join the last box with boxes just before it that only connectives separate ("\boxed{1} and \boxed{2}" →
   * "1, 2"). Default true; false takes the last box alone (the MATH dataset's own convention).
   */
  joinBoxes?: boolean;
  /**
   * When no cue is found, fall back to the whole text if it is short and reads as a formula, else the last
   * number (default true). With false only a math span ($…$, \(…\), \[…\]) can still be the answer.
   */
  fallback?: boolean;
  /** Letters for format "choice" (default A–D). */
  choices?: string[];
  /** Lower-case the extracted choice letter (default false). */
  lowercase?: boolean;
  timeoutMs?: number;
}

/** Chat-template markers after which a model has started a new turn on its own. */
const TURN_MARKERS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>"];

export function extractAnswer(response: string, opts: ExtractOptions = {}): string | null {
  if (typeof response !== "string") return null;
  const budget = new Budget(opts.timeoutMs ?? 1000, 50_000_000);
  try {
    return extractInner(response, opts, budget);
  } catch (e) {
    if (e instanceof BudgetExceeded) return null;
    return null;
  }
}

function extractInner(response: string, opts: ExtractOptions, budget: Budget): string | null {
  const format = opts.format ?? "auto";
  let text = response;
  for (const m of TURN_MARKERS) {
    const k = text.indexOf(m);
    if (k > 0) text = text.slice(0, k);
    else if (k === 0) text = text.slice(m.length);
  }
  if (format === "bare") {
    const a = cleanAnswer(text, budget);
    return a === "" ? null : a;
  }

  // Thinking: only the text after the last </think> counts, unless it holds no answer at all.
  const close = text.lastIndexOf("</think>");
  let region = text;
  let thought: string | null = null;
  if (close >= 0) {
    region = text.slice(close + "</think>".length);
    thought = text.slice(0, close);
  } else if (text.includes("<think>") || opts.thinking === "required") {
    return null;
  }

  if (format === "choice") return extractChoice(region, opts)?.value ?? (thought !== null ? extractChoice(thought, opts)?.value ?? null : null);

  const fromRegion = (r: string): string | null => {
    const prepared = prepare(r, budget);
    // The paper's <answer> … </answer> block.
    const a = answerBlock(prepared);
    if (a !== null) return fromText(a, { ...opts, fallback: true, format: format === "answer-tag" ? "auto" : format }, budget, true);
    if (format === "answer-tag") return null;
    return fromText(prepared, opts, budget, false);
  };
  const found = fromRegion(region);
  if (found !== null || thought === null) return found;
  // Nothing after </think>: the thinking may still end with the answer.
  return fromRegion(thought.replace("<think>", ""));
}

function answerBlock(s: string): string | null {
  const open = s.lastIndexOf("<answer>");
  if (open < 0) return null;
  const end = s.indexOf("</answer>", open);
  return s.slice(open + "<answer>".length, end < 0 ? s.length : end);
}

interface Candidate {
  value: string;
  /** Position of the end of the cue in the text: the later candidate wins among equals. */
  pos: number;
}

function fromText(s: string, opts: ExtractOptions, budget: Budget, insideAnswerBlock: boolean): string | null {
  const format = opts.format ?? "auto";
  const useBoxed = opts.boxed ?? true;

  if (format === "gsm8k") {
    const g = gsm8kAnswer(s);
    if (g !== null) return g;
  }

  const strong: Candidate[] = [];
  const weak: Candidate[] = [];
  if (useBoxed) {
    const box = boxedGroup(s, budget, opts.joinBoxes ?? true);
    if (box !== null) strong.push(box);
  }
  if (format === "boxed") return strong[0]?.value ?? null;

  for (const c of phraseCandidates(s, budget)) (c.strong ? strong : weak).push(c);
  if (format !== "gsm8k") {
    const g = gsm8kAnswer(s);
    if (g !== null) weak.push({ value: g, pos: s.lastIndexOf("####") });
  }
  const bold = lastBold(s, budget);
  if (bold !== null) weak.push(bold);

  const pick = (cs: Candidate[]): string | null => (cs.length === 0 ? null : cs.reduce((a, b) => (b.pos >= a.pos ? b : a)).value);
  if (opts.preferPhrase) {
    const p = pick([...strong, ...weak].filter((c) => (c as PhraseCandidate).kind === "final"));
    if (p !== null) return p;
  }
  const s1 = pick(strong);
  if (s1 !== null) return s1;
  const s2 = pick(weak);
  if (s2 !== null) return s2;
  return fallbackAnswer(s, budget, insideAnswerBlock, opts.fallback ?? true);
}

// ---- boxed ------------------------------------------------------------------------------------------------

/**
 * The last boxed answer, joined with the boxes just before it when only connectives separate them:
 * "\boxed{1} and \boxed{2}" is the answer "1, 2"; "\boxed{1} … prose … \boxed{2}" is "2".
 */
function boxedGroup(s: string, budget: Budget, join: boolean): Candidate | null {
  const boxes = allBoxed(s, budget);
  if (boxes.length === 0) return null;
  let last = boxes[boxes.length - 1]!;
  // A box cut off by truncation is trusted only when short (a reference answer written without its brace).
  if (!last.closed && last.content.length > 200) {
    boxes.pop();
    if (boxes.length === 0) return null;
    last = boxes[boxes.length - 1]!;
  }
  // An explicitly empty box is an empty answer (it equals only an empty reference).
  if (last.content.trim() === "" || !join) return { value: last.content.trim(), pos: last.end };
  const group: BoxedMatch[] = [last];
  for (let k = boxes.length - 2; k >= 0; k--) {
    if (boxes[k]!.content.trim() === "") break;
    const gap = s.slice(boxes[k]!.end, group[0]!.start);
    if (!isConnective(gap)) break;
    group.unshift(boxes[k]!);
  }
  const contents: string[] = [];
  for (const b of group) {
    const c = b.content.trim();
    if (!contents.includes(c)) contents.push(c);
  }
  return { value: contents.join(", "), pos: last.end };
}

function isConnective(gap: string): boolean {
  if (gap.length > 120 || /\n\s*\n/.test(gap)) return false;
  const t = gap
    .replace(/\\text\{([^{}]*)\}/g, " $1 ")
    .replace(/\\(quad|qquad|[,;: !]|\[|\]|\(|\))/g, " ")
    .replace(/\$/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (t === "") return true;
  if (!/[A-Za-z0-9]/.test(t)) return true;
  if (/\.\s+[A-Z]/.test(t)) return false;
  return t.length <= 40 && /(^|[^A-Za-z])(and|or)([^A-Za-z]|$)|,/.test(t);
}

// ---- phrases ------------------------------------------------------------------------------------------------

interface PhraseCandidate extends Candidate {
  strong: boolean;
  kind: "final" | "answer";
}

const FINAL_RE = /final answer/gi;
const ANSWER_RE = /\banswer\b/gi;

function phraseCandidates(s: string, budget: Budget): PhraseCandidate[] {
  const out: PhraseCandidate[] = [];
  const finals: number[] = [];
  FINAL_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = FINAL_RE.exec(s)) !== null) {
    budget.tick();
    finals.push(m.index);
  }
  // Only the last few occurrences matter; a long response may repeat the phrase thousands of times.
  for (const at of finals.slice(-3)) {
    const c = phraseContent(s, at + "final answer".length, budget);
    if (c === null) continue;
    if (c.boxed) continue; // the boxed candidate covers it
    const math = looksLikeMath(c.text);
    if (math) out.push({ value: c.text, pos: c.end, strong: true, kind: "final" });
    else {
      const n = firstNumber(c.text);
      if (n !== null) out.push({ value: n, pos: c.end, strong: false, kind: "final" });
    }
  }
  const answers: number[] = [];
  ANSWER_RE.lastIndex = 0;
  while ((m = ANSWER_RE.exec(s)) !== null) {
    budget.tick();
    const before = s.slice(Math.max(0, m.index - 6), m.index).toLowerCase();
    if (before.endsWith("final ")) continue;
    answers.push(m.index);
  }
  for (const at of answers.slice(-3)) {
    const c = phraseContent(s, at + "answer".length, budget);
    if (c === null || c.boxed) continue;
    if (looksLikeMath(c.text)) out.push({ value: c.text, pos: c.end, strong: false, kind: "answer" });
    else if (/^\s*-?\.?\d/.test(c.text)) {
      // "the answer is 12 apples": a value right after the cue. Prose after "answer" ("to answer this, note
      // that x = 2 …") is not an answer.
      const n = firstNumber(c.text.slice(0, 60));
      if (n !== null) out.push({ value: n, pos: c.end, strong: false, kind: "answer" });
    }
  }
  return out;
}

const LEADS = [/^\s*(\*\*)?\s*[:：]\s*(\*\*)?/, /^\s*(is|would be|will be|should be|=|must be)\b\s*[:]?/i, /^\s*(\*\*)+/, /^\s*the final answer\b/i, /^\s*the answer\b/i, /^\s*(therefore|thus|so|hence)\b,?/i];

/** The text a phrase announces: a math span if one follows at once, else the rest of the sentence. */
function phraseContent(s: string, from: number, budget: Budget): { text: string; end: number; boxed: boolean } | null {
  let rest = s.slice(from, from + 400);
  budget.tick(rest.length >> 4);
  let consumed = 0;
  for (let k = 0; k < 8; k++) {
    let changed = false;
    for (const re of LEADS) {
      const m = re.exec(rest);
      if (m && m[0].length > 0) {
        rest = rest.slice(m[0].length);
        consumed += m[0].length;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const lead = rest.length - rest.trimStart().length;
  rest = rest.trimStart();
  consumed += lead;
  if (rest === "") return null;
  const span = leadingMathSpan(rest);
  let text: string;
  let used: number;
  if (span !== null) {
    text = span.content;
    used = span.length;
  } else {
    used = sentenceEnd(rest);
    text = rest.slice(0, used);
    // "The largest $n$ is 34": the value follows the last "is".
    const isAt = text.search(/\s(is|are|equals)\s(?![^$]*\$[^$]*$)/);
    if (isAt >= 0) {
      const after = text.slice(isAt).replace(/^\s(is|are|equals)\s/, "");
      const lastIs = lastIndexOfWord(after, ["is", "are", "equals"]);
      text = lastIs >= 0 ? after.slice(lastIs) : after;
      const inner = leadingMathSpan(text.trimStart());
      if (inner !== null) text = inner.content;
    }
  }
  const boxed = /\\(boxed|fbox)/.test(text);
  text = cleanSpan(text);
  if (text === "") return null;
  return { text, end: from + consumed + used, boxed };
}

function lastIndexOfWord(s: string, words: string[]): number {
  let best = -1;
  for (const w of words) {
    const re = new RegExp(`\\s${w}\\s`, "g");
    let m: RegExpExecArray | null;
    while ((m = re.exec(s)) !== null) if (m.index > best) best = m.index + m[0].length;
  }
  return best;
}

/** A math span at the very start: $…$, $$…$$, \(…\), \[…\]. */
function leadingMathSpan(s: string): { content: string; length: number } | null {
  const pairs: [string, string][] = [["$$", "$$"], ["\\[", "\\]"], ["\\(", "\\)"], ["$", "$"]];
  for (const [o, c] of pairs) {
    if (!s.startsWith(o)) continue;
    let k = o.length;
    while (k < s.length) {
      const j = s.indexOf(c, k);
      if (j < 0) return null;
      if (c === "$" && s[j - 1] === "\\") {
        k = j + 1;
        continue;
      }
      return { content: s.slice(o.length, j), length: j + c.length };
    }
    return null;
  }
  return null;
}

/** End of the sentence starting at 0: newline, "I hope", or a full stop not inside a number or a math span. */
function sentenceEnd(s: string): number {
  let inDollar = false;
  for (let k = 0; k < s.length; k++) {
    const c = s[k]!;
    if (c === "$" && s[k - 1] !== "\\") inDollar = !inDollar;
    if (inDollar) continue;
    if (c === "\n") return k;
    if (c === "." && !/\d/.test(s[k + 1] ?? "") && !(s[k - 1] === "." || s[k + 1] === ".")) return k;
    if (s.startsWith("I hope", k)) return k;
  }
  return s.length;
}

function cleanSpan(t: string): string {
  let x = t.trim();
  for (let k = 0; k < 4; k++) {
    const before = x;
    x = x.replace(/^\*\*+|\*\*+$/g, "").trim();
    const span = leadingMathSpan(x);
    if (span !== null && span.length === x.length) x = span.content.trim();
    x = x.replace(/[.,;:!]+$/, "").trim();
    if (x === before) break;
  }
  return x;
}

/** Text that reads as a formula or short answer rather than a sentence. */
export function looksLikeMath(t: string): boolean {
  const stripped = t
    .replace(/\\(begin|end)\{[^{}]*\}/g, " ")
    .replace(/\\(text|mbox|textbf|mathrm|operatorname)\{[^{}]*\}/g, " ")
    .replace(/\$[^$]*\$/g, " M ")
    .replace(/\\[a-zA-Z]+/g, " ");
  const words = stripped.match(/[A-Za-z]{3,}/g) ?? [];
  const prose = words.filter((w) => !UNIT_WORDS.has(w.toLowerCase()) && !["and", "or", "sqrt", "pi", "sin", "cos", "tan", "log"].includes(w.toLowerCase()));
  if (prose.length === 0) return true;
  // A single word answer ("Evelyn", "east") is fine; two or more words are a sentence.
  return prose.length === 1 && stripped.trim().split(/\s+/).length <= 2;
}

const NUMBER_RE = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?/g;

function firstNumber(t: string): string | null {
  NUMBER_RE.lastIndex = 0;
  const m = NUMBER_RE.exec(t);
  return m ? m[0].replace(/\s+/g, "") : null;
}

function gsm8kAnswer(s: string): string | null {
  const k = s.lastIndexOf("####");
  if (k < 0) return null;
  const line = s.slice(k + 4).split("\n")[0]!.trim();
  const v = cleanSpan(line.replace(/^\$/, ""));
  return v === "" ? null : v;
}

function lastBold(s: string, budget: Budget): Candidate | null {
  let end = s.length;
  for (let tries = 0; tries < 20; tries++) {
    budget.tick();
    const close = s.lastIndexOf("**", end - 1);
    if (close <= 0) return null;
    const open = s.lastIndexOf("**", close - 1);
    if (open < 0) return null;
    const inner = s.slice(open + 2, close).trim();
    if (inner.length > 0 && inner.length <= 80 && !inner.includes("\n") && /[0-9]|\\|\$/.test(inner) && looksLikeMath(inner)) {
      return { value: cleanSpan(inner), pos: close + 2 };
    }
    end = open;
  }
  return null;
}

// ---- fallback ----------------------------------------------------------------------------------------------

/**
 * No cue at all: a short text that reads as a formula is itself the answer; otherwise the last math span or
 * the last number, whichever comes later.
 */
function fallbackAnswer(s: string, budget: Budget, insideAnswerBlock: boolean, full: boolean): string | null {
  const t = s.trim();
  if (t === "") return null;
  if (!full) {
    const span = lastMathSpan(t, budget);
    return span === null ? null : cleanSpan(span.content) || null;
  }
  if ((t.length <= 200 || insideAnswerBlock) && looksLikeMath(t)) {
    const c = cleanAnswer(t, budget);
    return c === "" ? null : c;
  }
  const span = lastMathSpan(t, budget);
  NUMBER_RE.lastIndex = 0;
  let num: RegExpExecArray | null = null;
  let m: RegExpExecArray | null;
  while ((m = NUMBER_RE.exec(t)) !== null) {
    budget.tick();
    // Skip digits glued to letters (XDY2K is not the number 2).
    const prev = t[m.index - 1] ?? " ";
    const next = t[m.index + m[0].length] ?? " ";
    if (/[A-Za-z]/.test(prev) && /[A-Za-z]/.test(next)) continue;
    // Exponents and subscripts are not answers: "1,000.99m^2" ends with the number 1,000.99.
    if (prev === "^" || prev === "_") continue;
    num = m;
  }
  const numEnd = num === null ? -1 : num.index + num[0].length;
  if (span !== null && span.end >= numEnd) return cleanSpan(span.content) || null;
  if (num !== null) return num[0].replace(/\s+/g, "").replace(/\.$/, "");
  return null;
}

/** The last $…$, $$…$$, \(…\) or \[…\] in the text (escaped \$ is not a delimiter). */
function lastMathSpan(s: string, budget: Budget): { content: string; end: number } | null {
  let best: { content: string; end: number } | null = null;
  let k = 0;
  // Next occurrence of each opening delimiter, recomputed only once passed (keeps the scan linear).
  const next = { d: -2, b1: -2, b2: -2 };
  const find = (key: "d" | "b1" | "b2", token: string): number => {
    if (next[key] !== -1 && next[key] < k) next[key] = s.indexOf(token, k);
    return next[key];
  };
  while (k < s.length) {
    budget.tick();
    const d = find("d", "$");
    const b1 = find("b1", "\\[");
    const b2 = find("b2", "\\(");
    const cands = [d, b1, b2].filter((x) => x >= 0);
    if (cands.length === 0) break;
    const at = Math.min(...cands);
    if (at === d && s[at - 1] === "\\") {
      k = at + 1;
      continue;
    }
    let open: string;
    let close: string;
    if (at === d) {
      open = s.startsWith("$$", at) ? "$$" : "$";
      close = open;
    } else if (at === b1) {
      open = "\\[";
      close = "\\]";
    } else {
      open = "\\(";
      close = "\\)";
    }
    let j = at + open.length;
    let end = -1;
    while (j < s.length) {
      budget.tick();
      const q = s.indexOf(close, j);
      if (q < 0) break;
      if (close === "$" && s[q - 1] === "\\") {
        j = q + 1;
        continue;
      }
      end = q;
      break;
    }
    if (end < 0) {
      // No closing delimiter anywhere after: none of the later openers of this kind can close either.
      k = at + open.length;
      if (close === "$") next.d = -1;
      else if (close === "\\]") next.b1 = -1;
      else next.b2 = -1;
      continue;
    }
    const content = s.slice(at + open.length, end);
    if (content.trim() !== "") best = { content, end: end + close.length };
    k = end + close.length;
  }
  return best;
}

// ---- multiple choice ----------------------------------------------------------------------------------------

export interface ChoiceMatch {
  /** The letter, lower-cased when requested. */
  value: string;
  /** The letter as written. */
  original: string;
}

/**
 * A multiple-choice letter: after "final answer is", then after "answer", then a letter opening the response,
 * then the last standalone letter. A letter counts only as a word of its own ("A.", "(B)", "**C**").
 */
export function extractChoice(text: string, opts: { choices?: string[]; lowercase?: boolean } = {}): ChoiceMatch | null {
  const choices = opts.choices ?? ["A", "B", "C", "D"];
  const lower = opts.lowercase ?? true;
  const wrap = (x: string): ChoiceMatch => ({ value: lower ? x.toLowerCase() : x, original: x });
  const isChoiceAt = (k: number): string | null => {
    for (const c of choices) {
      if (!text.startsWith(c, k)) continue;
      const prev = k === 0 ? " " : text[k - 1]!;
      const next = text[k + c.length] ?? " ";
      if (/[\s(*]/.test(prev) && /[\s.,:)*]/.test(next)) return c;
    }
    return null;
  };
  const scanFrom = (from: number, to: number): string | null => {
    for (let k = from; k < Math.min(to, text.length); k++) {
      const c = isChoiceAt(k);
      if (c !== null) return c;
    }
    return null;
  };
  const finalAt = text.search(/final answer/i);
  if (finalAt >= 0) {
    const rest = text.slice(finalAt);
    const m = /is:?\s*/i.exec(rest.slice(0, 120));
    if (m) {
      const c = scanFrom(finalAt + m.index + m[0].length - 1, finalAt + m.index + m[0].length + 4);
      if (c !== null) return wrap(c);
    }
  }
  const ans = /answer/gi;
  let m: RegExpExecArray | null;
  let fromAnswer: string | null = null;
  while ((m = ans.exec(text)) !== null) {
    const c = scanFrom(m.index + 6, m.index + 6 + 52);
    if (c !== null) fromAnswer = c;
  }
  if (fromAnswer !== null) return wrap(fromAnswer);
  const start = /^\s*(\*\*)?/.exec(text)![0].length;
  const first = isChoiceAt(start);
  if (first !== null) return wrap(first);
  for (let k = text.length - 1; k >= 0; k--) {
    const c = isChoiceAt(k);
    if (c !== null) return wrap(c);
  }
  return null;
}
