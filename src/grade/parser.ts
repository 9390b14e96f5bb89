/**
 * Recursive-descent parser from answer tokens to the expression tree (ast.ts). It reads the conventions of
 * written math answers: implicit multiplication, mixed numbers (1\frac{4}{5}), base subscripts (52_8),
 * repeating decimals (0.\overline{3}), trailing units, percent and degree marks, intervals with mismatched
 * brackets, bare lists, ± and relation chains. Depth is limited so nesting can never exhaust the stack.
 */
import type { Node, RelOp } from "./ast.js";
import { num, sym } from "./ast.js";
import { Budget } from "./budget.js";
import { lex, type LexOptions, type Tok } from "./lexer.js";
import { rat, ratFromDecimal, type Rational } from "./rational.js";

export class ParseError extends Error {}

export interface ParseOptions extends LexOptions {
  /** Accept \frac12 and \sqrt3 (arguments without braces). Default true. */
  shorthand?: boolean;
}

/** Deepest nesting accepted; deeper input is not an answer anyone writes and is rejected cheaply. */
export const MAX_DEPTH = 400;
/** Longest answer text the parser will read; longer strings are compared as text only. */
export const MAX_ANSWER_CHARS = 6000;

const FUNCTION_LETTERS = new Set(["f", "g", "h", "F", "G", "H"]);
const TRIG_INVERSE: Record<string, string> = { sin: "arcsin", cos: "arccos", tan: "arctan", sec: "arcsec", csc: "arccsc", cot: "arccot" };
const REL_OPS = new Set(["=", "<", ">", "<=", ">=", "!=", "in", "notin", "subset", "~", "→", "⇒", "⇔"]);
const CLOSERS = new Set([")", "]", "}", "\\}", ">>", "⌋", "⌉", "‖"]);
const FUNCTION_NAMES = new Set([
  "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "arcsec", "arccsc", "arccot",
  "sinh", "cosh", "tanh", "coth", "sech", "csch", "arsinh", "arcosh", "artanh",
  "ln", "log", "lg", "exp", "max", "min", "gcd", "lcm", "det", "sgn", "sign", "cis", "Re", "Im", "arg",
]);

/** Words after a value that mark it as rounded: "(approx.)", "\text{ (rounded to two decimal places)}". */
const APPROX_WORDS = /^\W*(approx|approximately|rounded|about)\b/i;
/** Words that scale the number before them. */
const MULTIPLIERS: Record<string, number> = { thousand: 3, million: 6, billion: 9, trillion: 12 };

function isSeparatorText(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "," || t === ";" || t === "") return t !== "";
  return /(^|[^a-z])(and|or)([^a-z]|$)/.test(t);
}

export function parseAnswer(src: string, budget: Budget, opts: ParseOptions = {}): Node {
  if (src.length > MAX_ANSWER_CHARS) throw new ParseError("answer too long to parse");
  const toks = lex(src, budget, opts);
  return new Parser(toks, budget, opts).parseTop();
}

class Parser {
  private pos = 0;
  private depth = 0;
  private absDepth = 0;
  private readonly shorthand: boolean;

  constructor(
    private toks: Tok[],
    private readonly budget: Budget,
    private readonly opts: ParseOptions,
  ) {
    this.shorthand = opts.shorthand ?? true;
  }

  // ---- token helpers -------------------------------------------------------------------------------------
  private peek(off = 0): Tok | undefined {
    return this.toks[this.pos + off];
  }
  private isOp(v: string, off = 0): boolean {
    const t = this.toks[this.pos + off];
    return t !== undefined && t.t === "op" && t.v === v;
  }
  private isCmd(name: string, off = 0): boolean {
    const t = this.toks[this.pos + off];
    return t !== undefined && t.t === "cmd" && t.name === name;
  }
  private next(): Tok {
    const t = this.toks[this.pos];
    if (t === undefined) throw new ParseError("unexpected end");
    this.pos++;
    return t;
  }
  private expectOp(v: string): void {
    if (!this.isOp(v)) throw new ParseError(`expected ${v}`);
    this.pos++;
  }
  private atCloser(): boolean {
    const t = this.peek();
    if (t === undefined) return true;
    if (t.t !== "op") return false;
    if (CLOSERS.has(t.v)) return true;
    return t.v === "|" && this.absDepth > 0;
  }
  private enter(): void {
    this.budget.tick();
    if (++this.depth > MAX_DEPTH) throw new ParseError("nesting too deep");
  }
  private leave(): void {
    this.depth--;
  }

  // ---- grammar -------------------------------------------------------------------------------------------
  parseTop(): Node {
    // Leading "=" or ":" (from "answer: …" remnants) carries nothing.
    while (this.isOp("=") || this.isOp(":")) this.pos++;
    const items = this.parseList();
    const seps = this.lastSeps;
    if (this.pos < this.toks.length) throw new ParseError("unexpected token");
    if (items.length === 0) throw new ParseError("empty answer");
    if (items.length === 1) return items[0]!;
    // "x=1, y=2; x=2, y=1": semicolons separate solutions, commas the parts of one solution.
    if (seps.includes(";") && seps.some((x) => x !== ";")) {
      const groups: Node[][] = [[items[0]!]];
      seps.forEach((sep, k) => {
        if (sep === ";") groups.push([]);
        groups[groups.length - 1]!.push(items[k + 1]!);
      });
      return { k: "list", items: groups.map((g) => (g.length === 1 ? g[0]! : { k: "list", items: g })) };
    }
    // "n = 1, 2, 3": an assignment followed by bare values assigns the whole list.
    const first = items[0]!;
    if (first.k === "rel" && first.ops.length === 1 && first.ops[0] === "=" && items.slice(1).every((x) => x.k !== "rel")) {
      return { k: "rel", ops: ["="], items: [first.items[0]!, { k: "list", items: [first.items[1]!, ...items.slice(1)] }] };
    }
    return withJoiner({ k: "list", items }, seps);
  }

  /** The kind of the separator at the current token: ",", ";", "and", "or" or "\\\\" (a line break). */
  private separatorKind(): string {
    const t = this.peek()!;
    if (t.t === "op") return t.v;
    const text = (t as { text: string }).text.trim().toLowerCase();
    if (/(^|[^a-z])or([^a-z]|$)/.test(text)) return "or";
    if (/(^|[^a-z])and([^a-z]|$)/.test(text)) return "and";
    return text;
  }

  private isSeparator(): boolean {
    const t = this.peek();
    if (t === undefined) return false;
    if (t.t === "op") return t.v === "," || t.v === ";" || t.v === "and" || t.v === "or" || t.v === "\\\\";
    if (t.t === "text") return isSeparatorText(t.text);
    return false;
  }

  /** Separators between the items of the last list parsed (one per gap; a word wins over a comma beside it). */
  private lastSeps: string[] = [];

  private parseList(): Node[] {
    this.enter();
    const items: Node[] = [];
    const seps: string[] = [];
    while (this.isSeparator()) this.pos++;
    while (!this.atCloser()) {
      items.push(this.parseRelation());
      if (!this.isSeparator()) break;
      let sep = "";
      while (this.isSeparator()) {
        const kind = this.separatorKind();
        if (sep === "" || kind === "and" || kind === "or" || (kind === ";" && sep === ",")) sep = kind;
        this.pos++;
      }
      if (!this.atCloser()) seps.push(sep);
    }
    this.leave();
    this.lastSeps = seps;
    return items;
  }

  private parseRelation(): Node {
    this.enter();
    // "≈ 4.47": an approximate value.
    if (this.isOp("~")) {
      this.pos++;
      const r = approx(this.parseSetOps());
      this.leave();
      return r;
    }
    const items: Node[] = [this.parseSetOps()];
    const ops: RelOp[] = [];
    for (;;) {
      let t = this.peek();
      if (t?.t === "cmd" && t.name === "not") {
        this.pos++;
        const u = this.peek();
        if (u?.t === "op" && u.v === "=") {
          this.pos++;
          ops.push("!=");
          items.push(this.parseSetOps());
          continue;
        }
        if (u?.t === "op" && u.v === "in") {
          this.pos++;
          ops.push("notin");
          items.push(this.parseSetOps());
          continue;
        }
        t = this.peek();
      }
      if (t === undefined || t.t !== "op" || !REL_OPS.has(t.v)) break;
      this.pos++;
      if (t.v === "~") {
        if (this.atCloser() || this.isSeparator()) continue;
        const value = this.parseSetOps();
        // "y ≈ 4.47": the name's value is approximate. "= 1/3 ≈ 0.33": the approximation adds nothing to an exact
        // answer before it.
        if (isApproxTarget(items[items.length - 1]!)) {
          ops.push("=");
          items.push(approx(value));
        }
        continue;
      }
      if (t.v === "⇒") {
        // "a = b ⇒ x = 3": only the conclusion is the answer.
        items.length = 0;
        ops.length = 0;
        items.push(this.parseSetOps());
        continue;
      }
      const op: RelOp = t.v === "→" || t.v === "⇔" ? "=" : (t.v as RelOp);
      ops.push(op);
      items.push(this.parseSetOps());
    }
    this.leave();
    return ops.length === 0 ? items[0]! : { k: "rel", ops, items };
  }

  private parseSetOps(): Node {
    let left = this.parseAdditive();
    for (;;) {
      const t = this.peek();
      if (t === undefined || t.t !== "op") return left;
      if (t.v === "cup" || t.v === "cap") {
        this.pos++;
        const right = this.parseAdditive();
        const kind = t.v === "cup" ? "union" : "intersect";
        left = left.k === kind ? { k: kind, items: [...left.items, right] } : { k: kind, items: [left, right] };
      } else if (t.v === "setminus") {
        this.pos++;
        left = { k: "setminus", a: left, b: this.parseAdditive() };
      } else return left;
    }
  }

  private parseAdditive(): Node {
    this.enter();
    const args: Node[] = [];
    const first = this.peek();
    if (first?.t === "op" && (first.v === "±" || first.v === "∓")) {
      this.pos++;
      args.push({ k: "pm", arg: this.parseMul(), minusFirst: first.v === "∓" });
    } else args.push(this.parseMul());
    for (;;) {
      const t = this.peek();
      if (t === undefined || t.t !== "op") break;
      if (t.v === "+") {
        this.pos++;
        args.push(this.parseMul());
      } else if (t.v === "-") {
        this.pos++;
        args.push({ k: "neg", arg: this.parseMul() });
      } else if (t.v === "±" || t.v === "∓") {
        this.pos++;
        args.push({ k: "pm", arg: this.parseMul(), minusFirst: t.v === "∓" });
      } else break;
    }
    this.leave();
    return args.length === 1 ? args[0]! : { k: "add", args };
  }

  /** Can this token begin a factor multiplied by juxtaposition ("2x", "3(x+1)", "x\sqrt2")? */
  private startsImplicitFactor(t: Tok | undefined): boolean {
    if (t === undefined) return false;
    switch (t.t) {
      case "num":
      case "id":
      case "env":
        return true;
      case "cmd":
        return ["frac", "sqrt", "binom", "sum", "prod", "int", "lim", "overline", "decor", "angle"].includes(t.name);
      case "op":
        return t.v === "(" || t.v === "[" || t.v === "<<" || t.v === "⌊" || t.v === "⌈" || (t.v === "|" && this.absDepth === 0) || t.v === "{";
      default:
        return false;
    }
  }

  private parseMul(): Node {
    this.enter();
    let acc = this.parseUnary();
    let factors = 1;
    // "4.47 (approx.)", "4.47 \text{ (rounded)}": a mark after the value that makes it approximate.
    let approximate = false;
    for (;;) {
      const t = this.peek();
      if (t === undefined) break;
      if (t.t === "op") {
        if (t.v === "*") {
          this.pos++;
          acc = mulJoin(acc, this.parseUnary());
          factors++;
          continue;
        }
        if (t.v === "/" || (t.v === ":" && this.startsFactorAfter())) {
          this.pos++;
          acc = { k: "div", num: acc, den: this.parseUnary() };
          factors++;
          continue;
        }
        if (t.v === "choose") {
          this.pos++;
          acc = { k: "fn", name: "binom", args: [acc, this.parseUnary()] };
          continue;
        }
        if (t.v === "mod") {
          this.pos++;
          acc = { k: "fn", name: "mod", args: [acc, this.parseUnary()] };
          continue;
        }
        if (t.v === "%") {
          this.pos++;
          acc = { k: "pct", arg: acc };
          continue;
        }
      }
      if (t.t === "cmd" && t.name === "pmod") {
        // "9 \pmod{11}": the residue is the answer.
        this.pos++;
        this.readArg();
        continue;
      }
      if (t.t === "cmd" && t.name === "deg") {
        this.pos++;
        acc = { k: "deg", arg: acc };
        continue;
      }
      // "38 (dollars)": a unit in parentheses.
      if (t.t === "op" && t.v === "(" && (this.peek(1)?.t === "word" || this.peek(1)?.t === "text") && this.isOp(")", 2)) {
        const inner = this.peek(1) as { text: string };
        if (APPROX_WORDS.test(inner.text)) approximate = true;
        this.pos += 3;
        continue;
      }
      if (t.t === "text" || t.t === "word") {
        if (t.t === "text" && isSeparatorText(t.text)) break;
        if (APPROX_WORDS.test(t.text)) approximate = true;
        // "1.5 million": a multiplier word.
        const scale = MULTIPLIERS[t.text.trim().toLowerCase()];
        if (scale !== undefined) {
          this.pos++;
          acc = mulJoin(acc, num(rat(10n ** BigInt(scale))));
          continue;
        }
        // Trailing unit text: "10\text{ units}", "35 cm", "864 \mbox{ inches}^2".
        this.pos++;
        if (this.isOp("^")) {
          this.pos++;
          this.parseExponent();
        }
        continue;
      }
      if (this.startsImplicitFactor(t)) {
        // Mixed number: an integer literal directly followed by \frac{int}{int}.
        if (factors === 1 && acc.k === "num" && !acc.float && acc.v.d === 1n && acc.v.n >= 0n && t.t === "cmd" && t.name === "frac") {
          const save = this.pos;
          this.pos++;
          const a = this.readArg();
          const b = this.readArg();
          if (a.k === "num" && b.k === "num" && !a.float && !b.float && a.v.d === 1n && b.v.d === 1n && !this.isOp("^")) {
            acc = { k: "add", args: [acc, { k: "div", num: a, den: b }] };
            factors++;
            continue;
          }
          this.pos = save;
        }
        acc = mulJoin(acc, this.parsePower());
        factors++;
        continue;
      }
      break;
    }
    this.leave();
    return approximate ? approx(acc) : acc;
  }

  private startsFactorAfter(): boolean {
    const t = this.peek(1);
    return t !== undefined && (this.startsImplicitFactor(t) || (t.t === "op" && t.v === "-"));
  }

  private parseUnary(): Node {
    this.enter();
    const t = this.peek();
    let r: Node;
    if (t?.t === "op" && t.v === "-") {
      this.pos++;
      r = { k: "neg", arg: this.parseUnary() };
    } else if (t?.t === "op" && t.v === "+") {
      this.pos++;
      r = this.parseUnary();
    } else if (t?.t === "op" && (t.v === "±" || t.v === "∓")) {
      this.pos++;
      r = { k: "pm", arg: this.parseUnary(), minusFirst: t.v === "∓" };
    } else r = this.parsePower();
    this.leave();
    return r;
  }

  private parsePower(): Node {
    this.enter();
    let base = this.parsePostfix(this.parsePrimary());
    if (this.isOp("^")) {
      this.pos++;
      const exp = this.parseExponent();
      base = this.parsePostfix({ k: "pow", base, exp });
    }
    this.leave();
    return base;
  }

  /** An exponent: a braced group, or a single (signed) atom — "x^2y" is x²·y; "2^-1" is read as 2⁻¹. */
  private parseExponent(): Node {
    this.enter();
    let r: Node;
    if (this.isOp("{")) {
      r = this.readArg();
    } else if (this.isOp("-")) {
      this.pos++;
      r = { k: "neg", arg: this.parseExponent() };
    } else if (this.isOp("+")) {
      this.pos++;
      r = this.parseExponent();
    } else {
      r = this.parsePostfix(this.parsePrimary());
      if (this.isOp("^")) {
        this.pos++;
        r = { k: "pow", base: r, exp: this.parseExponent() };
      }
    }
    this.leave();
    return r;
  }

  private parsePostfix(node: Node): Node {
    for (;;) {
      const t = this.peek();
      if (t?.t === "op" && t.v === "!") {
        this.pos++;
        if (this.isOp("!") && !this.isOp("=", 1)) {
          this.pos++;
          node = { k: "fn", name: "dfact", args: [node] };
        } else node = { k: "fn", name: "fact", args: [node] };
      } else if (t?.t === "op" && t.v === "%") {
        this.pos++;
        node = { k: "pct", arg: node };
      } else if (t?.t === "cmd" && t.name === "deg") {
        this.pos++;
        node = { k: "deg", arg: node };
      } else return node;
    }
  }

  /** One macro argument: a braced group, or (shorthand) a single character/token: \frac12, \sqrt3, \frac ab. */
  private readArg(): Node {
    this.enter();
    let r: Node;
    const t = this.peek();
    if (t === undefined) throw new ParseError("missing argument");
    if (t.t === "op" && t.v === "{") {
      this.pos++;
      const items = this.parseList();
      this.expectOp("}");
      if (items.length === 0) throw new ParseError("empty argument");
      r = items.length === 1 ? items[0]! : { k: "list", items };
    } else {
      if (!this.shorthand) throw new ParseError("argument without braces");
      if (t.t === "num" && t.text.length > 1 && /^\d/.test(t.text)) {
        // \frac123 is \frac{1}{2}3: take one digit, leave the rest for the next reader.
        this.toks = [...this.toks.slice(0, this.pos), { t: "num", text: t.text[0]!, space: t.space }, { t: "num", text: t.text.slice(1), space: false }, ...this.toks.slice(this.pos + 1)];
        this.budget.tick(this.toks.length >> 4);
      }
      r = this.parsePrimary();
    }
    this.leave();
    return r;
  }

  private parsePrimary(): Node {
    this.enter();
    const r = this.parsePrimaryInner();
    this.leave();
    return r;
  }

  private parsePrimaryInner(): Node {
    const t = this.next();
    switch (t.t) {
      case "num":
        return this.finishNumber(t.text);
      case "id":
        return this.finishIdentifier(t.name);
      case "word":
        return { k: "text", text: t.text };
      case "text": {
        const inner = t.text.trim();
        if (/^(all |the set of )?real numbers$|^all reals$/i.test(inner)) return { k: "interval", lo: { k: "neg", arg: sym("inf") }, hi: sym("inf"), loOpen: true, hiOpen: true };
        if (/^[-+]?[\d.,\s]+$/.test(inner) && /\d/.test(inner)) {
          const sub = parseAnswer(inner, this.budget, this.opts);
          return sub;
        }
        // "\text{12 pieces}": a number and the words after it, which are its unit.
        const counted = /^([-+]?\d[\d,]*(?:\.\d+)?)\s+[A-Za-z][A-Za-z\s]*$/.exec(inner);
        if (counted !== null) return parseAnswer(counted[1]!, this.budget, this.opts);
        return { k: "text", text: inner };
      }
      case "env":
        return this.finishMatrix(t.name, t.cells);
      case "cmd":
        return this.finishCommand(t.name);
      case "op":
        return this.finishOp(t.v);
    }
  }

  private finishNumber(text: string): Node {
    const v = ratFromDecimal(text);
    if (v === null) throw new ParseError(`bad number ${text}`);
    const float = text.includes(".") || /e/i.test(text);
    // "0.333…" repeats its period; "3.14159…" is a truncated value.
    if (float && this.isOp("dots")) {
      this.pos++;
      const rep = repeatingTail(text);
      if (rep !== null) return num(repeatingDecimal(rep[0], rep[1]));
      return { k: "fn", name: "approx-trunc", args: [numWithPlaces(v, text)] };
    }
    // Base subscript: 52_8, 4210_{5}. The question fixes the base, so the answer is its digits: "52_8" and
    // "52" are the same answer, while 42 (the value in base ten) is not what was asked for.
    if (this.isOp("_")) {
      const save = this.pos;
      this.pos++;
      const b = this.readArg();
      if (b.k === "num" && b.v.d === 1n && b.v.n >= 2n && b.v.n <= 36n && !float) return num(v);
      this.pos = save;
    }
    // Repeating decimal: 0.\overline{3}, 0.1\overline{6}, 0.\dot{3}.
    if ((this.isCmd("overline") || this.isCmd("decor")) && /^\d*\.\d*$/.test(text + (text.includes(".") ? "" : "."))) {
      const save = this.pos;
      this.pos++;
      const argTok = this.peek();
      let digits = "";
      if (argTok?.t === "op" && argTok.v === "{" && this.peek(1)?.t === "num" && this.isOp("}", 2)) {
        digits = (this.peek(1) as { text: string }).text;
        this.pos += 3;
      } else if (argTok?.t === "num") {
        digits = argTok.text[0]!;
        this.pos++;
      }
      if (/^\d+$/.test(digits)) return num(repeatingDecimal(text.includes(".") ? text : text + ".", digits));
      this.pos = save;
    }
    return float ? numWithPlaces(v, text) : num(v);
  }

  private readSubscriptKey(): string {
    const t = this.peek();
    if (t === undefined) return "";
    if (t.t === "op" && t.v === "{") {
      // Collect the tokens of the braced group into a key.
      let d = 0;
      let key = "";
      while (this.pos < this.toks.length) {
        this.budget.tick();
        const u = this.next();
        if (u.t === "op" && u.v === "{") {
          if (d > 0) key += "{";
          d++;
          continue;
        }
        if (u.t === "op" && u.v === "}") {
          d--;
          if (d === 0) return key;
          key += "}";
          continue;
        }
        key += tokText(u);
      }
      throw new ParseError("unclosed subscript");
    }
    this.pos++;
    return tokText(t);
  }

  private finishIdentifier(name: string): Node {
    if (FUNCTION_NAMES.has(name)) return this.finishFunction(name);
    if (name === "pi" || name === "inf") return sym(name);
    let full = name;
    if (this.isOp("_")) {
      this.pos++;
      full = `${name}_${this.readSubscriptKey()}`;
    }
    while (this.isOp("'")) {
      this.pos++;
      full += "'";
    }
    if (FUNCTION_LETTERS.has(name) && this.isOp("(") && !this.peek()!.space) {
      this.pos++;
      const args = this.parseList();
      this.expectOp(")");
      return { k: "fn", name: `apply:${full}`, args };
    }
    return sym(full);
  }

  private finishFunction(name: string): Node {
    let power: Node | null = null;
    let base: Node | null = null;
    for (let k = 0; k < 2; k++) {
      if (this.isOp("^")) {
        this.pos++;
        power = this.parseExponent();
      } else if (this.isOp("_")) {
        this.pos++;
        base = this.parseExponent();
      }
    }
    let fname = name === "lg" ? "log10" : name;
    if (power !== null && power.k === "neg" && power.arg.k === "num" && power.arg.v.n === 1n && power.arg.v.d === 1n && TRIG_INVERSE[name]) {
      fname = TRIG_INVERSE[name]!;
      power = null;
    }
    let args: Node[];
    if (this.isOp("(")) {
      this.pos++;
      args = this.parseList();
      this.expectOp(")");
    } else if (this.isOp("{")) {
      args = [this.readArg()];
    } else {
      // \sin 2x, \cos a: the argument runs over the following factors up to the next function.
      let arg = this.parsePower();
      while (this.startsImplicitFactor(this.peek()) && !this.isFunctionToken(this.peek()!)) arg = mulJoin(arg, this.parsePower());
      args = [arg];
    }
    if (args.length === 0) throw new ParseError("function without argument");
    let node: Node;
    if (fname === "exp") node = { k: "pow", base: sym("e"), exp: args[0]! };
    else if (fname === "log" && base !== null) node = { k: "fn", name: "log", args: [args[0]!, base] };
    else node = { k: "fn", name: fname, args };
    return power !== null ? { k: "pow", base: node, exp: power } : node;
  }

  private isFunctionToken(t: Tok): boolean {
    return (t.t === "id" && FUNCTION_NAMES.has(t.name)) || (t.t === "cmd" && ["sum", "prod", "int", "lim"].includes(t.name));
  }

  private finishMatrix(_name: string, cells: string[][]): Node {
    const rows: Node[][] = [];
    for (const r of cells) {
      const row: Node[] = [];
      for (const c of r) {
        if (c.trim() === "") throw new ParseError("empty matrix cell");
        row.push(new Parser(lex(c, this.budget, this.opts), this.budget, this.opts).parseTopNested(this.depth));
      }
      rows.push(row);
    }
    if (rows.length === 0) throw new ParseError("empty matrix");
    const width = rows[0]!.length;
    if (!rows.every((r) => r.length === width)) throw new ParseError("ragged matrix");
    return { k: "matrix", rows };
  }

  parseTopNested(depth: number): Node {
    this.depth = depth;
    const items = this.parseList();
    if (this.pos < this.toks.length || items.length !== 1) throw new ParseError("bad matrix cell");
    return items[0]!;
  }

  private finishCommand(name: string): Node {
    switch (name) {
      case "frac": {
        const a = this.readArg();
        const b = this.readArg();
        return { k: "div", num: a, den: b };
      }
      case "binom": {
        const a = this.readArg();
        const b = this.readArg();
        return { k: "fn", name: "binom", args: [a, b] };
      }
      case "sqrt": {
        let index: Node = num(rat(2n));
        if (this.isOp("[")) {
          this.pos++;
          const items = this.parseList();
          this.expectOp("]");
          if (items.length !== 1) throw new ParseError("bad root index");
          index = items[0]!;
        }
        const x = this.readArg();
        return { k: "fn", name: "sqrt", args: [x, index] };
      }
      case "overline":
      case "decor": {
        const x = this.readArg();
        if (x.k === "sym") return sym(`${name === "overline" ? "bar" : "vec"}(${x.name})`);
        return { k: "fn", name: name === "overline" ? "bar" : "vec", args: [x] };
      }
      case "sum":
      case "prod":
      case "int":
      case "lim": {
        const args: Node[] = [];
        for (let k = 0; k < 2; k++) {
          if (this.isOp("_") || this.isOp("^")) {
            this.pos++;
            args.push(this.parseExponent());
          }
        }
        args.push(this.parseMul());
        return { k: "fn", name, args };
      }
      case "angle": {
        let label = "";
        while (this.peek()?.t === "id" && label.length < 8) label += (this.next() as { name: string }).name;
        return sym(`angle(${label})`);
      }
      case "empty":
        return { k: "set", items: [] };
      case "reals":
        return { k: "interval", lo: { k: "neg", arg: sym("inf") }, hi: sym("inf"), loOpen: true, hiOpen: true };
      case "deg":
      case "pmod":
      case "not":
      default:
        throw new ParseError(`unexpected \\${name}`);
    }
  }

  private finishOp(v: string): Node {
    switch (v) {
      case "(":
      case "[":
        return this.finishBracketed(v);
      case "{": {
        const items = this.parseList();
        this.expectOp("}");
        if (items.length === 0) return { k: "text", text: "" };
        return items.length === 1 ? items[0]! : { k: "list", items };
      }
      case "\\{": {
        const builder = this.trySetBuilder();
        if (builder !== null) return builder;
        const items = this.parseList();
        this.expectOp("\\}");
        return { k: "set", items };
      }
      case "<<": {
        const items = this.parseList();
        this.expectOp(">>");
        return { k: "tuple", items, open: "(", close: ")" };
      }
      case "|": {
        this.absDepth++;
        const inner = this.parseSetOps();
        this.absDepth--;
        this.expectOp("|");
        return { k: "fn", name: "abs", args: [inner] };
      }
      case "‖": {
        const inner = this.parseAdditive();
        this.expectOp("‖");
        return { k: "fn", name: "norm", args: [inner] };
      }
      case "⌊": {
        const inner = this.parseAdditive();
        this.expectOp("⌋");
        return { k: "fn", name: "floor", args: [inner] };
      }
      case "⌈": {
        const inner = this.parseAdditive();
        this.expectOp("⌉");
        return { k: "fn", name: "ceil", args: [inner] };
      }
      case "dots":
        return sym("…");
      default:
        throw new ParseError(`unexpected ${v}`);
    }
  }

  /**
   * Set-builder notation, "\{x \mid x > 3\}", "\{x : x \ge 3\}", "\{x \in \mathbb{R} \mid x \neq 1\}": the set the
   * condition describes, that is the condition itself (comparison reads a one-variable inequality as a set).
   */
  private trySetBuilder(): Node | null {
    const t = this.peek();
    if (t?.t !== "id") return null;
    let k = 1;
    if (this.isOp("in", 1)) {
      // Only the real line as a domain: \mathbb{R}.
      if (!this.isCmd("reals", 2)) return null;
      k = 3;
    }
    if (!(this.isOp("|", k) || this.isOp(":", k))) return null;
    const save = this.pos;
    try {
      this.pos += k + 1;
      const items = this.parseList();
      const seps = this.lastSeps;
      this.expectOp("\\}");
      if (items.length === 0) throw new ParseError("empty set-builder condition");
      return items.length === 1 ? items[0]! : withJoiner({ k: "list", items }, seps);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.pos = save;
      return null;
    }
  }

  private finishBracketed(open: string): Node {
    const saveAbs = this.absDepth;
    this.absDepth = 0;
    const items = this.parseList();
    this.absDepth = saveAbs;
    const t = this.peek();
    if (t === undefined || t.t !== "op" || (t.v !== ")" && t.v !== "]")) throw new ParseError("unclosed bracket");
    this.pos++;
    const close = t.v;
    if (items.length === 0) return { k: "tuple", items: [], open, close };
    if (items.length === 1) {
      if ((open === "(" && close === ")") || (open === "[" && close === "]")) return items[0]!;
      throw new ParseError("mismatched brackets");
    }
    if (items.length === 2 && !(open === "(" && close === ")")) {
      return { k: "interval", lo: items[0]!, hi: items[1]!, loOpen: open === "(", hiOpen: close === ")" };
    }
    return { k: "tuple", items, open, close };
  }
}

/** A list whose items were all joined by "and" (or by "or") remembers it. */
function withJoiner(list: Node & { k: "list" }, seps: string[]): Node {
  if (seps.includes("or")) list.joiner = "or";
  else if (seps.includes("and")) list.joiner = "and";
  return list;
}

/** An approximate value, "≈ 4.47". */
function approx(value: Node): Node {
  if (value.k === "fn" && (value.name === "approx" || value.name === "approx-trunc")) return value;
  return { k: "fn", name: "approx", args: [value] };
}

/** "y ≈ 4.47", "x_1 ≈ 1.41", "f(2) ≈ 0.3": a name whose value follows, approximately. */
function isApproxTarget(n: Node): boolean {
  if (n.k === "sym") return n.name !== "pi" && n.name !== "e" && n.name !== "i" && n.name !== "inf";
  return n.k === "fn" && n.name.startsWith("apply:");
}

/** A decimal literal with the decimal places it was written with: "4.50" → 2, "1.5e-3" → 4, "1.5e3" → −2. */
function numWithPlaces(v: Rational, text: string): Node {
  const m = /^[+-]?\d*(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  const dp = m === null ? undefined : (m[1] ?? "").length - Number(m[2] ?? "0");
  return { k: "num", v, float: true, dp };
}

/**
 * The period of a decimal written before "…": "0.333" → ["0.", "3"], "0.1666" → ["0.1", "6"], "1.2121" →
 * ["1.", "21"]. The last digits must repeat at least twice; null when they do not ("3.14159…").
 */
function repeatingTail(text: string): [string, string] | null {
  const m = /^(\d*)\.(\d+)$/.exec(text);
  if (m === null) return null;
  const frac = m[2]!;
  for (let p = 1; p <= 6 && 2 * p <= frac.length; p++) {
    const block = frac.slice(frac.length - p);
    if (frac.slice(frac.length - 2 * p, frac.length - p) !== block) continue;
    let start = frac.length - 2 * p;
    while (start - p >= 0 && frac.slice(start - p, start) === block) start -= p;
    return [`${m[1] ?? ""}.${frac.slice(0, start)}`, block];
  }
  return null;
}

function mulJoin(a: Node, b: Node): Node {
  if (a.k === "mul") return { k: "mul", args: [...a.args, b] };
  return { k: "mul", args: [a, b] };
}

function tokText(t: Tok): string {
  switch (t.t) {
    case "num":
      return t.text;
    case "id":
      return t.name;
    case "word":
    case "text":
      return t.text;
    case "op":
      return t.v;
    case "cmd":
      return `\\${t.name}`;
    case "env":
      return `[${t.name}]`;
  }
}

/** "0.1" + repeating "6" → 1/6. */
function repeatingDecimal(prefix: string, rep: string): Rational {
  const [ip, fp = ""] = prefix.split(".");
  const nonRep = BigInt((ip || "0") + fp);
  const all = BigInt((ip || "0") + fp + rep);
  const den = (10n ** BigInt(rep.length) - 1n) * 10n ** BigInt(fp.length);
  return rat(all - nonRep, den);
}
