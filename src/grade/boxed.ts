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
