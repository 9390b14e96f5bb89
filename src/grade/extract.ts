/**
 * Final-answer extraction from model responses. See docs/GRADER.md ("Extraction") for the rules; in short:
 * text after </think> only (an unclosed <think> is a truncated response: no answer), inside <answer>…</answer>
 * when present, then the latest of \boxed{…} and "Final Answer: …", then weaker cues ("the answer is …",
 * "#### N", **N**), then the last formula or number. Every scan is linear; no regex can backtrack badly.
 */
import { APPROX_BEFORE, boxedAnswer } from "./boxed.js";
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

  const medium: Candidate[] = [];
  for (const c of phraseCandidates(s, budget)) (c.strong ? strong : c.medium === true ? medium : weak).push(c);
  if (format !== "gsm8k") {
    const g = gsm8kAnswer(s);
    if (g !== null) weak.push({ value: g, pos: s.lastIndexOf("####") });
  }
  const bold = lastBold(s, budget);
  if (bold !== null) weak.push(bold);

  const pick = (cs: Candidate[]): string | null => (cs.length === 0 ? null : cs.reduce((a, b) => (b.pos >= a.pos ? b : a)).value);
  if (opts.preferPhrase) {
    const p = pick([...strong, ...medium, ...weak].filter((c) => (c as PhraseCandidate).kind === "final"));
    if (p !== null) return p;
  }
  const s1 = pick(strong);
  if (s1 !== null) return s1;
  const sm = pick(medium);
  if (sm !== null) return sm;
  const s2 = pick(weak);
  if (s2 !== null) return s2;
  return fallbackAnswer(s, budget, insideAnswerBlock, opts.fallback ?? true);
}

// ---- boxed ------------------------------------------------------------------------------------------------

/** The last boxed answer, joined with the boxes just before it when only connectives separate them. */
function boxedGroup(s: string, budget: Budget, join: boolean): Candidate | null {
  const b = boxedAnswer(s, budget, join);
  return b === null ? null : { value: b.value, pos: b.end };
}

// ---- phrases ------------------------------------------------------------------------------------------------

interface PhraseCandidate extends Candidate {
  strong: boolean;
  /** Between strong and weak: a "final answer" sentence read as math, outranked by any box. */
  medium?: boolean;
  kind: "final" | "answer";
}

const FINAL_RE = /final answer/gi;
/** "answer" and its translations: models answering in the question's language write "Réponse : 3,5 €". */
const ANSWER_RE = /(?<![A-Za-z\u00C0-\u024F])(answer|r[ée]ponse|respuesta|resposta|risposta|antwort)(?![A-Za-z\u00C0-\u024F])/gi;

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
    // Only an explicit math span ("The final answer is $10,455$.") competes with a box; a value read out of a
    // sentence is a heuristic, and any box beats it.
    const math = looksLikeMath(c.text);
    if (math) out.push({ value: c.text, pos: c.end, strong: c.span, medium: !c.span, kind: "final" });
    else {
      const n = firstNumber(c.text);
      if (n !== null) out.push({ value: c.approx ? `\\approx ${n}` : n, pos: c.end, strong: false, kind: "final" });
    }
  }
  const answers: [number, number][] = [];
  ANSWER_RE.lastIndex = 0;
  while ((m = ANSWER_RE.exec(s)) !== null) {
    budget.tick();
    const before = s.slice(Math.max(0, m.index - 6), m.index).toLowerCase();
    if (before.endsWith("final ")) continue;
    answers.push([m.index, m[0].length]);
  }
  for (const [at, len] of answers.slice(-3)) {
    const c = phraseContent(s, at + len, budget);
    if (c === null || c.boxed) continue;
    if (looksLikeMath(c.text)) out.push({ value: c.text, pos: c.end, strong: false, kind: "answer" });
    else if (/^\s*(\\approx\s*)?-?\.?\d/.test(c.text)) {
      // "the answer is 12 apples": a value right after the cue. Prose after "answer" ("to answer this, note
      // that x = 2 …") is not an answer.
      const n = firstNumber(c.text.slice(0, 60));
      if (n !== null) out.push({ value: c.approx ? `\\approx ${n}` : n, pos: c.end, strong: false, kind: "answer" });
    }
  }
  return out;
}

const LEADS = [/^\s*(\*\*)?\s*[:：]\s*(\*\*)?/, /^\s*(is|would be|will be|should be|=|must be|est|es|ist|è|é)(?![A-Za-z\u00C0-\u024F])\s*[:]?/i, /^\s*(\*\*)+/, /^\s*the final answer\b/i, /^\s*the answer\b/i, /^\s*(therefore|thus|so|hence)\b,?/i];
/** Words that mark the value after them as rounded: "is approximately 3.14", "≈ 4.47". */
const APPROX_LEAD = /^\s*(approximately|approx\.?|about|roughly|around|nearly|\\approx)(?![A-Za-z])\s*/i;

const LEADS_AND_APPROX = [...LEADS, APPROX_LEAD];

/** A sentence that opens with a value ("12 pieces are left", "$38 per day"): the value is the answer. */
const STARTS_WITH_VALUE = /^(?:\\\$|\$)?\s*-?\.?\d/;

/**
 * The text a phrase announces: a math span if one follows at once, else the rest of the sentence. `boxed` says
 * the sentence holds a box (the box is then the answer); `approx` that a word such as "approximately" came
 * before the value.
 */
function phraseContent(s: string, from: number, budget: Budget): { text: string; end: number; boxed: boolean; approx: boolean; span: boolean } | null {
  let rest = s.slice(from, from + 400);
  budget.tick(rest.length >> 4);
  let consumed = 0;
  let approx = false;
  for (let k = 0; k < 8; k++) {
    let changed = false;
    for (const re of LEADS_AND_APPROX) {
      const m = re.exec(rest);
      if (m && m[0].length > 0) {
        rest = rest.slice(m[0].length);
        consumed += m[0].length;
        changed = true;
        if (re === APPROX_LEAD) approx = true;
      }
    }
    if (!changed) break;
  }
  const lead = rest.length - rest.trimStart().length;
  rest = rest.trimStart();
  consumed += lead;
  if (rest === "") return null;
  // Inside bold ("**Answer:** **$38** per day", "the answer is **18** apples") the bold run is the value.
  const lineStart = s.lastIndexOf("\n", from + consumed - 1) + 1;
  const boldOpen = countOccurrences(s.slice(lineStart, from + consumed), "**") % 2 === 1;
  const span = leadingMathSpan(rest);
  let text: string;
  let used: number;
  let boxed: boolean;
  if (span !== null) {
    text = span.content;
    used = span.length;
    // "$a = 2$ and $b = 7$": spans joined by connectives are one answer.
    for (let k = 0; k < 8; k++) {
      const join = /^\s*(?:,\s*(?:and|or)?|and|or)\s+(?=\$|\\\()/i.exec(rest.slice(used)) ?? /^\s*,\s*(?=\$|\\\()/.exec(rest.slice(used));
      if (join === null) break;
      const next = leadingMathSpan(rest.slice(used + join[0].length));
      if (next === null) break;
      text += `, ${next.content}`;
      used += join[0].length + next.length;
    }
    boxed = /\\(boxed|fbox)/.test(text);
  } else {
    used = sentenceEnd(rest);
    text = rest.slice(0, used);
    if (boldOpen) {
      const close = text.indexOf("**");
      if (close > 0) text = text.slice(0, close);
    }
    // A box anywhere in the sentence is the answer ("**Final Answer:** \boxed{30} elves are left.").
    boxed = /\\(boxed|fbox)/.test(text);
    // "The largest $n$ is 34": the value follows the last "is". Not when the sentence opens with its value
    // ("12 pieces are left"): what follows "are" there is prose, never the answer.
    const isAt = STARTS_WITH_VALUE.test(text) ? -1 : text.search(/\s(is|are|equals)\s(?![^$]*\$[^$]*$)/);
    if (isAt >= 0) {
      const after = text.slice(isAt).replace(/^\s(is|are|equals)\s/, "");
      const lastIs = lastIndexOfWord(after, ["is", "are", "equals"]);
      let narrowed = lastIs >= 0 ? after.slice(lastIs) : after;
      const inner = leadingMathSpan(narrowed.trimStart());
      if (inner !== null) narrowed = inner.content;
      // Words alone after "is" are the answer only when no value came before them.
      if (/[\d\\$]/.test(narrowed) || !/\d/.test(text.slice(0, isAt))) text = narrowed;
      const a = APPROX_LEAD.exec(text);
      if (a !== null) {
        approx = true;
        text = text.slice(a[0].length);
        const m2 = leadingMathSpan(text.trimStart());
        if (m2 !== null) text = m2.content;
      }
    }
  }
  text = cleanSpan(text);
  if (text === "") return null;
  if (approx && !/\\approx|\\sim/.test(text) && /\d/.test(text)) text = `\\approx ${text}`;
  return { text, end: from + consumed + used, boxed, approx, span: span !== null };
}

function countOccurrences(s: string, needle: string): number {
  let n = 0;
  for (let k = s.indexOf(needle); k >= 0; k = s.indexOf(needle, k + needle.length)) n++;
  return n;
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
    if (!/\d\.{3}$/.test(x)) x = x.replace(/[.,;:!]+$/, "").trim();
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

/**
 * A number in prose: thousands separators (1,234), a decimal point, or a decimal comma with one or two digits
 * ("3,5 €"; not in a run such as "1,2,3"), and an optional "/ d" denominator.
 */
const NUMBER_RE = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+|(?<!\d,\d+),\d{1,2}(?![\d,]))?(?:\s*\/\s*\d+(?:\.\d+)?)?/g;

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
  // "So $y \approx 4.47$.": words outside a math span make the span, not the whole text, the answer.
  // Connectives between spans ("$1$ and $2$") keep the whole text a list.
  const outside = t.includes("$") ? t.replace(/\$[^$]*\$/g, " ").replace(/\\[A-Za-z]+/g, " ") : "";
  const wordsOutsideSpans = (outside.match(/[A-Za-z]{2,}/g) ?? []).some((w) => !/^(and|or)$/i.test(w));
  if ((t.length <= 200 || insideAnswerBlock) && !wordsOutsideSpans && looksLikeMath(t)) {
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
  if (span !== null && span.end >= numEnd) {
    // "$x = 3$ or $x = -4$": spans joined by connectives are one answer.
    const parts = [cleanSpan(span.content)];
    let before = t.slice(0, span.start);
    for (let k = 0; k < 8; k++) {
      const m = /(?:^|[^$\\])\$([^$]+)\$\s*(?:,\s*(?:and|or)?|and|or)\s*$/i.exec(before.slice(-240));
      if (m === null) break;
      parts.unshift(cleanSpan(m[1]!));
      before = before.slice(0, before.length - m[0].length + (m[0].startsWith("$") ? 0 : 1));
    }
    return parts.filter((x) => x !== "").join(", ") || null;
  }
  if (num !== null) {
    let value = num[0].replace(/\s+/g, "").replace(/\.$/, "");
    const scale = /^\s*(thousand|million|billion|trillion)\b/i.exec(t.slice(numEnd, numEnd + 12));
    if (scale !== null) value += ` \\text{ ${scale[1]!.toLowerCase()}}`;
    // "… is approximately 15.71 cm": the value is marked as rounded.
    return APPROX_BEFORE.test(t.slice(Math.max(0, num.index - 20), num.index)) ? `\\approx ${value}` : value;
  }
  return null;
}

/** The last $…$, $$…$$, \(…\) or \[…\] in the text (escaped \$ is not a delimiter). */
function lastMathSpan(s: string, budget: Budget): { content: string; start: number; end: number } | null {
  let best: { content: string; start: number; end: number } | null = null;
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
    if (content.trim() !== "") best = { content, start: at, end: end + close.length };
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
