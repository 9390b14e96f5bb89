/**
 * \boxed{…} / \fbox{…} location with real brace matching (a regex that stops at the first "}" loses
 * "\boxed{\frac{1}{2}}"), plus the unbraced "\boxed 2" form. Linear time.
 */
import { Budget } from "./budget.js";

export interface BoxedMatch {
  content: string;
  /** Index of the backslash of \boxed. */
  start: number;
  /** Index just after the closing brace. */
  end: number;
  /** False when the closing brace is missing (a response cut off inside the box). */
  closed: boolean;
}

const BOX_RE = /\\(?:boxed|fbox|framebox)\b/g;

/** Every boxed answer in order of appearance (nested boxes count once, as the outer one). */
export function allBoxed(s: string, budget: Budget): BoxedMatch[] {
  const out: BoxedMatch[] = [];
  BOX_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  let resumeAt = 0;
  while ((m = BOX_RE.exec(s)) !== null) {
    budget.tick();
    if (m.index < resumeAt) continue;
    let p = m.index + m[0].length;
    // \framebox[width]{…}
    if (s[p] === "[") {
      const close = s.indexOf("]", p);
      if (close > 0 && close - p < 40) p = close + 1;
    }
    while (p < s.length && s[p] === " ") p++;
    if (s[p] === "{") {
      let d = 0;
      let q = p;
      let closed = false;
      for (; q < s.length; q++) {
        if ((q & 255) === 0) budget.tick(8);
        const c = s[q];
        if (c === "\\") {
          q++;
          continue;
        }
        if (c === "{") d++;
        else if (c === "}") {
          d--;
          if (d === 0) {
            closed = true;
            break;
          }
        }
      }
      const content = s.slice(p + 1, closed ? q : s.length);
      out.push({ content, start: m.index, end: closed ? q + 1 : s.length, closed });
      resumeAt = closed ? q + 1 : s.length;
      BOX_RE.lastIndex = resumeAt;
    } else if (p < s.length && p > m.index + m[0].length - 1) {
      // "\boxed 2": up to the next $ or whitespace.
      let q = p;
      while (q < s.length && s[q] !== "$" && s[q] !== " " && s[q] !== "\n" && s[q] !== "}") q++;
      if (q > p) out.push({ content: s.slice(p, q), start: m.index, end: q, closed: true });
    }
  }
  return out;
}

export function lastBoxed(s: string, budget: Budget): BoxedMatch | null {
  const all = allBoxed(s, budget);
  return all.length > 0 ? all[all.length - 1]! : null;
}

/** Words right before a number or a box that mark it as rounded ("… is about 15.8 cm", "y \\approx \\boxed{4.47}"). */
export const APPROX_BEFORE = /(?:approximately|approx\.?|about|roughly|around|nearly|\\approx)\s*\$?\s*$/i;

/**
 * The last boxed answer, joined with the boxes just before it when only connectives separate them (`join`):
 * "\\boxed{1} and \\boxed{2}" is the answer "1, 2"; "\\boxed{1} … prose … \\boxed{2}" is "2". Identical joined
 * boxes count once. An "≈" or "approximately" right before a lone box marks its value as rounded
 * ("\\approx 4.47"). `end` is the index just after the last box.
 */
export function boxedAnswer(s: string, budget: Budget, join: boolean): { value: string; end: number } | null {
  const boxes = allBoxed(s, budget);
  if (boxes.length === 0) return null;
  let last = boxes[boxes.length - 1]!;
  // A box cut off by truncation is trusted only when short (a reference answer written without its brace).
  if (!last.closed && last.content.length > 200) {
    boxes.pop();
    if (boxes.length === 0) return null;
    last = boxes[boxes.length - 1]!;
  }
  const approxBefore = APPROX_BEFORE.test(s.slice(Math.max(0, last.start - 24), last.start)) && !/\\approx/.test(last.content);
  // An explicitly empty box is an empty answer (it equals only an empty reference).
  if (last.content.trim() === "" || !join) return { value: (approxBefore ? "\\approx " : "") + last.content.trim(), end: last.end };
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
  return { value: (approxBefore && group.length === 1 ? "\\approx " : "") + contents.join(", "), end: last.end };
}

/** Text between two boxes that only connects them: spacing, punctuation, "and", "or", a comma. */
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
