/**
 * The expression tree every answer is parsed into, and its canonical text form (`nodeKey`), which gives
 * structural equality after sorting the arguments of commutative operations.
 */
import type { Rational } from "./rational.js";
import { ratToString } from "./rational.js";

export type RelOp = "=" | "<" | ">" | "<=" | ">=" | "!=" | "in" | "notin" | "subset";

export type Node =
  /**
   * A number literal; `float` marks a literal written with a decimal point (it may be a rounded value), and
   * `dp` is then the number of decimal places it was written with ("4.50" → 2, "1.5e-3" → 4).
   */
  | { k: "num"; v: Rational; float: boolean; dp?: number }
  /** A variable, or a named constant: "pi", "e" (Euler), "i" (imaginary unit), "inf". */
  | { k: "sym"; name: string }
  | { k: "add"; args: Node[] }
  | { k: "mul"; args: Node[] }
  | { k: "neg"; arg: Node }
  | { k: "div"; num: Node; den: Node }
  | { k: "pow"; base: Node; exp: Node }
  /** A function application: sin, sqrt (args [x, n]), ln, log (args [x, base]), abs, floor, fact, binom, apply:f … */
  | { k: "fn"; name: string; args: Node[] }
  /** ±x inside a sum; `minusFirst` for ∓. Expanded into a set of answers before comparison. */
  | { k: "pm"; arg: Node; minusFirst: boolean }
  /** Parenthesised or bracketed sequence; `open`/`close` are the delimiters as written. */
  | { k: "tuple"; items: Node[]; open: string; close: string }
  | { k: "interval"; lo: Node; hi: Node; loOpen: boolean; hiOpen: boolean }
  /** Explicit set braces \{ … \}. */
  | { k: "set"; items: Node[] }
  /**
   * A bare list: items separated by commas, semicolons or "and"/"or" without enclosing delimiters. `joiner` is
   * "and" or "or" when the items were joined by that word (it decides whether inequalities intersect or unite).
   */
  | { k: "list"; items: Node[]; joiner?: "and" | "or" }
  | { k: "union"; items: Node[] }
  | { k: "intersect"; items: Node[] }
  | { k: "setminus"; a: Node; b: Node }
  | { k: "matrix"; rows: Node[][] }
  /** A chain such as a = b = c or 1 < x <= 2. */
  | { k: "rel"; ops: RelOp[]; items: Node[] }
  | { k: "text"; text: string }
  | { k: "pct"; arg: Node }
  | { k: "deg"; arg: Node };

export const num = (v: Rational, float = false): Node => ({ k: "num", v, float });
export const sym = (name: string): Node => ({ k: "sym", name });

// Bare lists keep their order in the key: whether order matters is decided by the comparison options.
const COMMUTATIVE = new Set(["add", "mul", "set", "union", "intersect"]);

/** Canonical text of a node: equal keys mean structurally equal answers (commutative arguments sorted). */
export function nodeKey(n: Node, tick?: () => void): string {
  tick?.();
  switch (n.k) {
    case "num":
      return ratToString(n.v);
    case "sym":
      return n.name;
    case "add":
    case "mul":
    case "set":
    case "list":
    case "union":
    case "intersect": {
      const parts = n.k === "add" || n.k === "mul" ? n.args : n.items;
      const keys = parts.map((p) => nodeKey(p, tick));
      if (COMMUTATIVE.has(n.k)) keys.sort();
      return `${n.k}(${keys.join(",")})`;
    }
    case "neg":
      return `neg(${nodeKey(n.arg, tick)})`;
    case "div":
      return `div(${nodeKey(n.num, tick)},${nodeKey(n.den, tick)})`;
    case "pow":
      return `pow(${nodeKey(n.base, tick)},${nodeKey(n.exp, tick)})`;
    case "fn":
      return `${n.name}(${n.args.map((a) => nodeKey(a, tick)).join(",")})`;
    case "pm":
      return `pm${n.minusFirst ? "-" : "+"}(${nodeKey(n.arg, tick)})`;
    case "tuple":
      return `tuple${n.open}${n.items.map((a) => nodeKey(a, tick)).join(",")}${n.close}`;
    case "interval":
      return `ival${n.loOpen ? "(" : "["}${nodeKey(n.lo, tick)},${nodeKey(n.hi, tick)}${n.hiOpen ? ")" : "]"}`;
    case "setminus":
      return `minus(${nodeKey(n.a, tick)},${nodeKey(n.b, tick)})`;
    case "matrix":
      return `mat[${n.rows.map((r) => r.map((c) => nodeKey(c, tick)).join("&")).join(";")}]`;
    case "rel": {
      let s = nodeKey(n.items[0]!, tick);
      for (let i = 0; i < n.ops.length; i++) s += n.ops[i] + nodeKey(n.items[i + 1]!, tick);
      return `rel(${s})`;
    }
    case "text":
      return `text(${n.text})`;
    case "pct":
      return `pct(${nodeKey(n.arg, tick)})`;
    case "deg":
      return `deg(${nodeKey(n.arg, tick)})`;
  }
}

/** Children of a node, for generic walks. */
export function children(n: Node): Node[] {
  switch (n.k) {
    case "num":
    case "sym":
    case "text":
      return [];
    case "add":
    case "mul":
      return n.args;
    case "fn":
      return n.args;
    case "neg":
    case "pm":
    case "pct":
    case "deg":
      return [n.arg];
    case "div":
      return [n.num, n.den];
    case "pow":
      return [n.base, n.exp];
    case "tuple":
    case "set":
    case "list":
    case "union":
    case "intersect":
    case "rel":
      return n.items;
    case "interval":
      return [n.lo, n.hi];
    case "setminus":
      return [n.a, n.b];
    case "matrix":
      return n.rows.flat();
  }
}

/** Named constants are symbols with reserved names; everything else with k "sym" is a variable. */
export const CONSTANTS = new Set(["pi", "e", "i", "inf"]);

export function freeSymbols(n: Node, out = new Set<string>()): Set<string> {
  const stack: Node[] = [n];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.k === "sym") {
      if (!CONSTANTS.has(x.name)) out.add(x.name);
    } else if (x.k === "fn" && x.name.startsWith("apply:")) {
      // An unknown function's name is not a variable, but its arguments may contain some.
      stack.push(...x.args);
    } else {
      stack.push(...children(x));
    }
  }
  return out;
}

export function containsFloat(n: Node): boolean {
  const stack: Node[] = [n];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.k === "num" && x.float) return true;
    stack.push(...children(x));
  }
  return false;
}
