/**
 * Tokeniser for answers written in LaTeX or plain text. It folds the many spellings of the same thing into one
 * token (\dfrac/\tfrac/\frac, \le/\leq/≤, \left( / (, \text{ and } / "and") and drops pure typography
 * (\, \! \quad \left \right $), so the parser sees a small, regular language. Linear time, no regexes that
 * can backtrack.
 */
import { Budget } from "./budget.js";

export type Tok =
  | { t: "num"; text: string; space: boolean }
  | { t: "id"; name: string; space: boolean }
  /** A multi-letter word that is not a known function: text, a unit, a name. */
  | { t: "word"; text: string; space: boolean }
  /** The content of \text{…}, \mbox{…} and friends. */
  | { t: "text"; text: string; space: boolean }
  | { t: "op"; v: string; space: boolean }
  | { t: "cmd"; name: string; space: boolean }
  /** A matrix-like environment: raw cell sources, parsed on demand. */
  | { t: "env"; name: string; cells: string[][]; space: boolean };

export interface LexOptions {
  /** Read "1000,99" as 1000.99 (continental decimal comma); otherwise a comma separates list items. */
  decimalComma?: boolean;
}

export class LexError extends Error {}

const FUNCTIONS = new Set([
  "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "arcsec", "arccsc", "arccot",
  "sinh", "cosh", "tanh", "coth", "sech", "csch", "arsinh", "arcosh", "artanh",
  "ln", "log", "lg", "exp", "max", "min", "gcd", "lcm", "det", "sgn", "sign", "cis", "Re", "Im", "arg",
]);

const GREEK: Record<string, string> = {
  alpha: "alpha", beta: "beta", gamma: "gamma", delta: "delta", epsilon: "epsilon", varepsilon: "epsilon",
  zeta: "zeta", eta: "eta", theta: "theta", vartheta: "theta", iota: "iota", kappa: "kappa", lambda: "lambda",
  mu: "mu", nu: "nu", xi: "xi", omicron: "omicron", rho: "rho", varrho: "rho", sigma: "sigma", varsigma: "sigma",
  tau: "tau", upsilon: "upsilon", phi: "phi", varphi: "phi", chi: "chi", psi: "psi", omega: "omega",
  Gamma: "Gamma", Delta: "Delta", Theta: "Theta", Lambda: "Lambda", Xi: "Xi", Pi: "Pi", Sigma: "Sigma",
  Upsilon: "Upsilon", Phi: "Phi", Psi: "Psi", Omega: "Omega",
};

/** Commands that are pure typography: dropped. */
const IGNORED = new Set([
  "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
  "middle", "quad", "qquad", "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "boxed", "fbox",
  "framebox", "hfill", "centering", "noindent", "newline", "allowbreak", "nobreak", "ensuremath", "mathop",
  "medspace", "thinspace", "thickspace", "negthinspace", "enspace", "hspace*", "cr", "relax", "strut", "underbrace",
  "overbrace", "mathstrut", "dfrac*", "smash", "hline",
]);
/** Commands whose (first) brace argument is dropped together with them. */
const IGNORED_WITH_ARG = new Set(["color", "label", "tag", "hspace", "vspace", "phantom", "hphantom", "vphantom", "textcolor", "kern", "mspace"]);

const TEXT_CMDS = new Set(["text", "textbf", "textit", "textrm", "texttt", "textsf", "textnormal", "mbox", "hbox", "emph", "textup", "textmd", "textsc", "intertext"]);
const FONT_CMDS = new Set(["mathrm", "mathbf", "mathit", "mathsf", "mathtt", "boldsymbol", "bm", "mathcal", "mathbb", "mathfrak", "mathnormal", "operatorname", "operatorname*", "mathscr", "pmb", "rm", "bf", "it"]);
const MATRIX_ENVS = new Set(["pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix", "matrix", "smallmatrix", "array", "psmallmatrix", "bsmallmatrix"]);

/** Commands that, around i, j or k, write the unit vectors of the axes. */
const BASIS_CMDS = new Set(["mathbf", "boldsymbol", "bm", "hat", "vec", "widehat", "pmb"]);
const BASIS_NAMES: Record<string, string> = { i: "i", j: "j", k: "k", "\\imath": "i", "\\jmath": "j", "\\hat{i}": "i", "\\hat{j}": "j", "\\hat{k}": "k" };

const OPS: Record<string, string> = {
  cdot: "*", times: "*", ast: "*", div: "/", pm: "±", mp: "∓", plusmn: "±",
  le: "<=", leq: "<=", leqslant: "<=", leqq: "<=", ge: ">=", geq: ">=", geqslant: ">=", geqq: ">=",
  ne: "!=", neq: "!=", lt: "<", gt: ">", approx: "~", simeq: "~", sim: "~", thickapprox: "~", doteq: "~",
  equiv: "=", coloneqq: "=", eqqcolon: "=",
  in: "in", notin: "notin", subset: "subset", subseteq: "subset", subsetneq: "subset",
  to: "→", rightarrow: "→", longrightarrow: "→", mapsto: "→",
  Rightarrow: "⇒", implies: "⇒", Longrightarrow: "⇒", therefore: "⇒",
  iff: "⇔", Leftrightarrow: "⇔", Longleftrightarrow: "⇔",
  cup: "cup", bigcup: "cup", cap: "cap", bigcap: "cap", setminus: "setminus", backslash: "setminus",
  lbrace: "\\{", rbrace: "\\}", langle: "<<", rangle: ">>", lvert: "|", rvert: "|", vert: "|", mid: "|",
  Vert: "‖", lVert: "‖", rVert: "‖", lfloor: "⌊", rfloor: "⌋", lceil: "⌈", rceil: "⌉", lbrack: "[", rbrack: "]",
  prime: "'", colon: ":", choose: "choose", mod: "mod", bmod: "mod", land: "and", wedge: "and", lor: "or", vee: "or",
  cdotp: "*", dotsm: "dots", dots: "dots", ldots: "dots", cdots: "dots", dotsb: "dots", dotsc: "dots", vdots: "dots", ddots: "dots",
};

const NAMED: Record<string, { t: "id" | "cmd"; v: string }> = {
  pi: { t: "id", v: "pi" }, infty: { t: "id", v: "inf" }, infin: { t: "id", v: "inf" }, imath: { t: "id", v: "i" },
  emptyset: { t: "cmd", v: "empty" }, varnothing: { t: "cmd", v: "empty" },
  frac: { t: "cmd", v: "frac" }, dfrac: { t: "cmd", v: "frac" }, tfrac: { t: "cmd", v: "frac" }, cfrac: { t: "cmd", v: "frac" },
  binom: { t: "cmd", v: "binom" }, dbinom: { t: "cmd", v: "binom" }, tbinom: { t: "cmd", v: "binom" },
  sqrt: { t: "cmd", v: "sqrt" }, circ: { t: "cmd", v: "deg" }, degree: { t: "cmd", v: "deg" },
  pmod: { t: "cmd", v: "pmod" }, not: { t: "cmd", v: "not" },
  overline: { t: "cmd", v: "overline" }, bar: { t: "cmd", v: "overline" }, hat: { t: "cmd", v: "decor" },
  vec: { t: "cmd", v: "decor" }, tilde: { t: "cmd", v: "decor" }, widehat: { t: "cmd", v: "decor" },
  widetilde: { t: "cmd", v: "decor" }, overrightarrow: { t: "cmd", v: "decor" }, overleftrightarrow: { t: "cmd", v: "decor" },
  underline: { t: "cmd", v: "decor" }, dot: { t: "cmd", v: "decor" }, ddot: { t: "cmd", v: "decor" }, overarc: { t: "cmd", v: "decor" },
  wideparen: { t: "cmd", v: "decor" },
  sum: { t: "cmd", v: "sum" }, prod: { t: "cmd", v: "prod" }, int: { t: "cmd", v: "int" }, iint: { t: "cmd", v: "int" },
  oint: { t: "cmd", v: "int" }, lim: { t: "cmd", v: "lim" },
  angle: { t: "cmd", v: "angle" }, measuredangle: { t: "cmd", v: "angle" }, triangle: { t: "cmd", v: "angle" },
  square: { t: "cmd", v: "angle" }, odot: { t: "cmd", v: "angle" },
};

/** Every command name the lexer knows, longest first, to split glued names such as "\quadx" into "\quad" + "x". */
let KNOWN_SORTED: string[] | null = null;
function knownCommands(): string[] {
  if (KNOWN_SORTED === null) {
    const all = new Set<string>([
      ...FUNCTIONS, ...Object.keys(GREEK), ...IGNORED, ...IGNORED_WITH_ARG, ...TEXT_CMDS, ...FONT_CMDS, ...Object.keys(OPS),
      ...Object.keys(NAMED), "begin", "end",
    ]);
    KNOWN_SORTED = [...all].filter((x) => /^[a-zA-Z]+$/.test(x)).sort((a, b) => b.length - a.length);
  }
  return KNOWN_SORTED;
}

export function isKnownCommand(name: string): boolean {
  return (
    FUNCTIONS.has(name) || name in GREEK || IGNORED.has(name) || IGNORED_WITH_ARG.has(name) || TEXT_CMDS.has(name) ||
    FONT_CMDS.has(name) || name in OPS || name in NAMED || name === "begin" || name === "end"
  );
}

/** Units and other words that may trail a number and carry no mathematical content. */
export const UNIT_WORDS = new Set([
  "unit", "units", "sq", "square", "cubic", "cm", "mm", "km", "m", "meter", "meters", "metre", "metres", "centimeter",
  "centimeters", "kilometer", "kilometers", "inch", "inches", "in", "ft", "foot", "feet", "yard", "yards", "yd", "mile",
  "miles", "mi", "mph", "kph", "kmh", "hour", "hours", "hr", "hrs", "h", "minute", "minutes", "min", "mins", "second",
  "seconds", "sec", "s", "day", "days", "week", "weeks", "month", "months", "year", "years", "dollar", "dollars", "cent",
  "cents", "yuan", "euro", "euros", "pound", "pounds", "lb", "lbs", "kg", "g", "gram", "grams", "ounce", "ounces", "oz",
  "liter", "liters", "litre", "litres", "l", "ml", "gallon", "gallons", "cup", "cups", "degree", "degrees", "radian",
  "radians", "rad", "people", "students", "ways", "times", "points", "marbles", "pieces", "items", "books", "apples",
  "coins", "tiles", "cubes", "steps", "games", "numbers", "integers", "digits", "boxes", "balls", "cookies", "pages",
  "squared", "cubed", "per", "each", "percent", "percentage", "pct", "rupee", "rupees", "yen",
  "left", "remaining", "remain", "total", "altogether",
]);

/** A unit word as written: "cm", "mL", "USD" — but not an all-capitals name such as a segment "CM". */
function isUnitWord(run: string): boolean {
  if (UNIT_WORDS.has(run)) return true;
  if (run === run.toUpperCase()) return CURRENCY_CODES.has(run);
  return UNIT_WORDS.has(run.toLowerCase());
}

const CURRENCY_CODES = new Set(["USD", "EUR", "GBP", "INR", "JPY", "CAD", "AUD", "CHF", "CNY", "RMB"]);

export function lex(src: string, budget: Budget, opts: LexOptions = {}): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = src.length;
  let space = false;
  // Depth of ( [ \{ — thousands separators are only read outside them, where "1,000" cannot be a pair.
  let depth = 0;

  const push = (tok: Tok): void => {
    out.push(tok);
    space = false;
  };

  /** Reads a balanced {…} argument starting at position p (which must be "{"); returns [content, end]. */
  const readBraced = (p: number): [string, number] => {
    let d = 0;
    for (let q = p; q < n; q++) {
      budget.tick();
      const c = src[q];
      if (c === "\\") {
        q++;
        continue;
      }
      if (c === "{") d++;
      else if (c === "}") {
        d--;
        if (d === 0) return [src.slice(p + 1, q), q + 1];
      }
    }
    throw new LexError("unbalanced braces");
  };

  const skipSpaces = (p: number): number => {
    while (p < n && (src[p] === " " || src[p] === "\n" || src[p] === "\t" || src[p] === "\r")) p++;
    return p;
  };

  /** Reads one macro argument at p: a braced group, a command name, or one character. */
  const readArg = (p: number): [string, number] => {
    p = skipSpaces(p);
    if (p >= n) return ["", p];
    if (src[p] === "{") return readBraced(p);
    if (src[p] === "\\") {
      let q = p + 1;
      while (q < n && /[a-zA-Z]/.test(src[q]!)) q++;
      if (q === p + 1) q++;
      return [src.slice(p, q), q];
    }
    return [src[p]!, p + 1];
  };

  const pushWordRun = (run: string): void => {
    if (FUNCTIONS.has(run)) push({ t: "id", name: run, space });
    else if (run === "pi") push({ t: "id", name: "pi", space });
    else if (run === "sqrt") push({ t: "cmd", name: "sqrt", space });
    else if (run === "inf" || run === "infty" || run === "infinity") push({ t: "id", name: "inf", space });
    else if (run === "and" || run === "or") push({ t: "op", v: run, space });
    else if (run === "percent" || run === "percentage" || run === "pct") push({ t: "op", v: "%", space });
    else if (run === "degrees" || run === "degree" || run === "deg") push({ t: "cmd", name: "deg", space });
    else if (run === "mod") push({ t: "op", v: "mod", space });
    else if (run.length >= 4 || (isUnitWord(run) && run.length >= 2 && space)) push({ t: "word", text: run, space });
    else for (const ch of run) push({ t: "id", name: ch, space: out.length === 0 ? false : space });
  };

  while (i < n) {
    budget.tick();
    const c = src[i]!;
    const code = src.charCodeAt(i);
    if (c === " " || c === "\n" || c === "\t" || c === "\r" || c === "~") {
      space = true;
      i++;
      continue;
    }
    if (c === "$" || c === '"' || c === "&" || c === "`") {
      i++;
      continue;
    }
    // Numbers.
    if ((code >= 48 && code <= 57) || (c === "." && i + 1 < n && /\d/.test(src[i + 1]!))) {
      let j = i;
      while (j < n && /\d/.test(src[j]!)) j++;
      let text = src.slice(i, j);
      // Thousands separators "1,234,567" / "1 234 567": only outside brackets (where "(1,000)" could be a pair),
      // first group of 1-3 digits, every later group exactly 3 digits.
      if (j - i <= 3 && depth === 0) {
        for (const sep of [",", " "]) {
          let k = j;
          let groups = "";
          while (k + 4 <= n && src[k] === sep && isDigits3(src, k + 1) && !(k + 4 < n && /\d/.test(src[k + 4]!))) {
            groups += src.slice(k + 1, k + 4);
            k += 4;
          }
          if (groups !== "") {
            text += groups;
            j = k;
            break;
          }
        }
      }
      // A period in parentheses: 0.(3), 0.1(6) — as 0.\overline{3}, 0.1\overline{6}.
      if (j < n && src[j] === "." && periodAt(src, j + 1) !== null) {
        const m = periodAt(src, j + 1)!;
        push({ t: "num", text: text + ".", space });
        for (const tok of [{ t: "cmd", name: "overline" }, { t: "op", v: "{" }, { t: "num", text: m[1]! }, { t: "op", v: "}" }] as const) out.push({ ...tok, space: false });
        i = j + 1 + m[0].length;
        continue;
      }
      if (j < n && src[j] === "." && j + 1 < n && /\d/.test(src[j + 1]!)) {
        let k = j + 1;
        while (k < n && /\d/.test(src[k]!)) k++;
        text += src.slice(j, k);
        j = k;
        const m = periodAt(src, j);
        if (m !== null) {
          push({ t: "num", text, space });
          for (const tok of [{ t: "cmd", name: "overline" }, { t: "op", v: "{" }, { t: "num", text: m[1]! }, { t: "op", v: "}" }] as const) out.push({ ...tok, space: false });
          i = j + m[0].length;
          continue;
        }
      } else if (opts.decimalComma && j < n && src[j] === "," && j + 1 < n && /\d/.test(src[j + 1]!)) {
        let k = j + 1;
        while (k < n && /\d/.test(src[k]!)) k++;
        text += "." + src.slice(j + 1, k);
        j = k;
      } else if (j < n && src[j] === "." && !(j + 1 < n && /[a-zA-Z\\]/.test(src[j + 1]!))) {
        // "3." — a trailing point: keep the integer, drop the point.
        j++;
      }
      // Scientific notation in plain text: 1.5e-3, 2E10.
      if (j < n && (src[j] === "e" || src[j] === "E")) {
        const m = /^[eE][+-]?\d+/.exec(src.slice(j, j + 8));
        if (m && !(j + m[0].length < n && /[a-zA-Z]/.test(src[j + m[0].length]!))) {
          text += m[0];
          j += m[0].length;
        }
      }
      push({ t: "num", text, space });
      i = j;
      continue;
    }
    // Letters.
    if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) {
      let j = i;
      while (j < n && /[a-zA-Z]/.test(src[j]!)) j++;
      pushWordRun(src.slice(i, j));
      i = j;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= n) {
        i++;
        continue;
      }
      const d = src[i + 1]!;
      if (!/[a-zA-Z]/.test(d)) {
        i += 2;
        switch (d) {
          case "{":
            depth++;
            push({ t: "op", v: "\\{", space });
            break;
          case "}":
            depth = Math.max(0, depth - 1);
            push({ t: "op", v: "\\}", space });
            break;
          case "%":
            push({ t: "op", v: "%", space });
            break;
          case "|":
            push({ t: "op", v: "‖", space });
            break;
          case "\\":
            push({ t: "op", v: "\\\\", space });
            break;
          case "_":
            push({ t: "op", v: "_", space });
            break;
          default:
            // \, \! \; \: \  \$ \# \& — spacing and escapes with no mathematical content.
            space = true;
        }
        continue;
      }
      let j = i + 1;
      while (j < n && /[a-zA-Z]/.test(src[j]!)) j++;
      let name = src.slice(i + 1, j);
      if (j < n && src[j] === "*" && (name === "operatorname" || name === "hspace")) {
        name += "*";
        j++;
      }
      if (!isKnownCommand(name)) {
        // "\quadx", "\cdotx": a known command glued to letters.
        const known = knownCommands().find((k) => name.startsWith(k) && k.length < name.length);
        if (known !== undefined) {
          j = i + 1 + known.length;
          name = known;
        }
      }
      i = j;
      if (IGNORED.has(name)) {
        if ((name === "left" || name === "right") && i < n && src[skipSpaces(i)] === ".") i = skipSpaces(i) + 1;
        space = true;
        continue;
      }
      if (IGNORED_WITH_ARG.has(name)) {
        const [, end] = readArg(i);
        i = end;
        continue;
      }
      if (TEXT_CMDS.has(name)) {
        const [arg, end] = readArg(i);
        i = end;
        push({ t: "text", text: arg.replace(/\$/g, "").trim(), space });
        continue;
      }
      if (BASIS_CMDS.has(name)) {
        // \mathbf{i}, \hat{j}, \vec{k}: the unit vectors of the axes.
        const [arg, end] = readArg(i);
        const unit = BASIS_NAMES[arg.trim()];
        if (unit !== undefined) {
          push({ t: "id", name: `basis:${unit}`, space });
          i = end;
          continue;
        }
      }
      if (FONT_CMDS.has(name)) {
        const [arg, end] = readArg(i);
        i = end;
        const inner = arg.trim();
        if (name === "mathbb") {
          if (inner === "R") push({ t: "cmd", name: "reals", space });
          else push({ t: "word", text: `numberset:${inner}`, space });
        } else if (/^[a-zA-Z]{2,}$/.test(inner)) {
          pushWordRun(inner);
        } else {
          for (const tok of lex(inner, budget, opts)) out.push(tok);
        }
        continue;
      }
      if (name === "begin") {
        const [envRaw, end] = readArg(i);
        const env = envRaw.trim();
        i = end;
        // Find the matching \end{env}.
        const endTag = `\\end{${env}}`;
        const beginTag = `\\begin{${env}}`;
        let d = 1;
        let p = i;
        let close = -1;
        while (p < n) {
          budget.tick();
          const nb = src.indexOf(beginTag, p);
          const ne = src.indexOf(endTag, p);
          if (ne < 0) break;
          if (nb >= 0 && nb < ne) {
            d++;
            p = nb + beginTag.length;
          } else {
            d--;
            if (d === 0) {
              close = ne;
              break;
            }
            p = ne + endTag.length;
          }
        }
        let body = close >= 0 ? src.slice(i, close) : src.slice(i);
        i = close >= 0 ? close + endTag.length : n;
        if (MATRIX_ENVS.has(env)) {
          if (env === "array") {
            const s = skipSpaces(0);
            if (body[s] === "{") body = body.slice(readBracedIn(body, s, budget));
          }
          push({ t: "env", name: env, cells: splitCells(body, budget), space });
        } else if (env === "cases") {
          push({ t: "text", text: body.trim(), space });
        } else {
          // align, aligned, gather, equation …: the content, with line breaks read as list separators.
          for (const tok of lex(body, budget, opts)) out.push(tok.t === "op" && tok.v === "\\\\" ? { t: "op", v: ",", space: tok.space } : tok);
        }
        continue;
      }
      if (name === "end") {
        const [, end] = readArg(i);
        i = end;
        continue;
      }
      if (FUNCTIONS.has(name)) {
        push({ t: "id", name, space });
        continue;
      }
      if (name in GREEK) {
        push({ t: "id", name: GREEK[name]!, space });
        continue;
      }
      if (name in OPS) {
        const v = OPS[name]!;
        if (v === "\\{") depth++;
        if (v === "\\}") depth = Math.max(0, depth - 1);
        push({ t: "op", v, space });
        continue;
      }
      const named = NAMED[name];
      if (named !== undefined) {
        if (named.t === "id") push({ t: "id", name: named.v, space });
        else push({ t: "cmd", name: named.v, space });
        continue;
      }
      // Unknown command: keep it as an opaque symbol (e.g. \zzz), so identical spellings still match.
      push({ t: "id", name: "\\" + name, space });
      continue;
    }
    // Single characters.
    i++;
    switch (c) {
      case "(":
      case "[":
        depth++;
        push({ t: "op", v: c, space });
        break;
      case ")":
      case "]":
        depth = Math.max(0, depth - 1);
        push({ t: "op", v: c, space });
        break;
      case "*":
        if (src[i] === "*") {
          i++;
          push({ t: "op", v: "^", space });
        } else push({ t: "op", v: "*", space });
        break;
      case "^": {
        // ^\circ, ^{\circ}, ^o as degrees.
        const rest = src.slice(i, i + 12).replace(/\s+/g, "");
        const m = /^(\\circ|\{\\circ\}|\{\^\\circ\}|\{\\degree\})/.exec(rest);
        if (m) {
          let k = i;
          let consumed = 0;
          while (consumed < m[0].length && k < n) {
            if (!/\s/.test(src[k]!)) consumed++;
            k++;
          }
          i = k;
          push({ t: "cmd", name: "deg", space });
        } else push({ t: "op", v: "^", space });
        break;
      }
      case "!":
        if (src[i] === "=") {
          i++;
          push({ t: "op", v: "!=", space });
        } else push({ t: "op", v: "!", space });
        break;
      case "<":
        if (src[i] === "=") {
          i++;
          push({ t: "op", v: "<=", space });
        } else push({ t: "op", v: "<", space });
        break;
      case ">":
        if (src[i] === "=") {
          i++;
          push({ t: "op", v: ">=", space });
        } else push({ t: "op", v: ">", space });
        break;
      case "=":
        if (src[i] === "<") {
          i++;
          push({ t: "op", v: "<=", space });
        } else if (src[i] === ">") {
          i++;
          push({ t: "op", v: ">=", space });
        } else push({ t: "op", v: "=", space });
        break;
      case "%":
        push({ t: "op", v: "%", space });
        break;
      case "'":
        push({ t: "op", v: "'", space });
        break;
      case "{":
      case "}":
      case ",":
      case ";":
      case ":":
      case "|":
      case "+":
      case "-":
      case "/":
      case "_":
        push({ t: "op", v: c, space });
        break;
      case ".":
      case "?":
        // A full stop ends a sentence; "..." is an ellipsis.
        if (src.startsWith("..", i)) {
          i += 2;
          push({ t: "op", v: "dots", space });
        } else space = true;
        break;
      default:
        // Any other character (non-Latin letters, symbols): a one-character word, so it survives as text.
        if (/\p{L}/u.test(c)) {
          let j = i;
          while (j < n && /\p{L}/u.test(src[j]!)) j++;
          push({ t: "word", text: c + src.slice(i, j), space });
          i = j;
        } else {
          space = true;
        }
    }
  }
  return out;
}

/** "(3)" or "(142857)" at p: the repeating digits of 0.(3), 0.(142857). */
function periodAt(src: string, p: number): RegExpExecArray | null {
  return src[p] === "(" ? /^\((\d{1,12})\)/.exec(src.slice(p, p + 15)) : null;
}

function isDigits3(s: string, p: number): boolean {
  for (let q = p; q < p + 3; q++) {
    const c = s.charCodeAt(q);
    if (!(c >= 48 && c <= 57)) return false;
  }
  return true;
}

function readBracedIn(s: string, p: number, budget: Budget): number {
  let d = 0;
  for (let q = p; q < s.length; q++) {
    budget.tick();
    if (s[q] === "{") d++;
    else if (s[q] === "}") {
      d--;
      if (d === 0) return q + 1;
    }
  }
  return s.length;
}

/** Splits a matrix body into rows (\\) and cells (&) at brace depth 0. */
export function splitCells(body: string, budget: Budget): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let d = 0;
  let envDepth = 0;
  for (let q = 0; q < body.length; q++) {
    budget.tick();
    const c = body[q]!;
    if (c === "\\" && body.startsWith("\\begin{", q)) envDepth++;
    if (c === "\\" && body.startsWith("\\end{", q)) envDepth--;
    if (c === "{") d++;
    else if (c === "}") d--;
    if (d === 0 && envDepth === 0 && c === "&") {
      row.push(cell);
      cell = "";
      continue;
    }
    if (d === 0 && envDepth === 0 && c === "\\" && body[q + 1] === "\\") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      q++;
      continue;
    }
    if (c === "\\" && q + 1 < body.length && !/[a-zA-Z]/.test(body[q + 1]!)) {
      cell += c + body[q + 1];
      q++;
      continue;
    }
    cell += c;
  }
  row.push(cell);
  rows.push(row);
  // Drop a trailing empty row (a final \\) and \hline-only rows.
  return rows.filter((r) => r.some((x) => x.replace(/\\hline/g, "").trim() !== ""));
}
