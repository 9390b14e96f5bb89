/**
 * Where JSON text goes wrong, and the one way invalid JSON is reported. JSON.parse's messages do not always
 * give a position (and never the field), so when it fails this small validator re-reads the text and reports
 * the offset of the first error and the top-level key whose value was being read there.
 *
 * Every reader of a user's JSON (data files, `grade` input, SFT data, JSON config files, model folders' JSON
 * files, `compare` inputs) reports a syntax error through `malformedJsonError`, as
 *
 *   <file>:<line>: field "<key>": malformed JSON at column <c>: <what was expected, and what was found>
 *
 * (the field part only when the error sits inside a field's value). The validator runs only on text JSON.parse
 * has already rejected.
 */
import { InputError } from "../util/errors.js";

export interface JsonErrorLocation {
  /** 0-based offset into the text. */
  offset: number;
  /** The top-level object key being read at the error, if any. */
  field?: string;
  /** What was expected, e.g. `expected a value, got "}"`. */
  message: string;
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** `fieldDepth`: nesting depth of the objects whose keys are fields (1 for a JSONL row, 2 in a JSON array). */
export function locateJsonError(text: string, fieldDepth = 1): JsonErrorLocation | undefined {
  let i = 0;
  let topKey: string | undefined;
  let depth = 0;

  const describeAt = (at: number) => (at >= text.length ? "the end of the line" : JSON.stringify(text[at]));
  const fail = (expected: string): never => {
    throw new JsonSyntaxError(i, `expected ${expected}, got ${describeAt(i)}`);
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };

  const string = (): string => {
    if (text[i] !== '"') fail("a string");
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) throw new JsonSyntaxError(i, "control character inside a string (escape it)");
      if (text[i] === "\\") {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new JsonSyntaxError(i, "bad \\u escape in a string");
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new JsonSyntaxError(i, `bad escape "\\${e ?? ""}" in a string`);
        i += 2;
        continue;
      }
      i++;
    }
    if (i >= text.length) throw new JsonSyntaxError(start, "unterminated string");
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };

  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      depth++;
      ws();
      if (text[i] === "}") {
        i++;
        depth--;
        return;
      }
      let prevKey: string | undefined;
      for (;;) {
        ws();
        if (text[i] !== '"') fail(prevKey === undefined ? "a quoted key" : `another quoted key after the value of "${prevKey}"`);
        const key = string();
        if (depth === fieldDepth) topKey = key;
        prevKey = key;
        ws();
        if (text[i] !== ":") fail(`":" after the key "${key}"`);
        i++;
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          break;
        }
        fail(`"," or "}" after the value of "${key}"`);
      }
      if (depth === fieldDepth) topKey = undefined;
      depth--;
      return;
    }
    if (c === "[") {
      i++;
      depth++;
      ws();
      if (text[i] === "]") {
        i++;
        depth--;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          break;
        }
        fail(`"," or "]" in a list`);
      }
      depth--;
      return;
    }
    if (c === '"') {
      string();
      return;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m && m[0] !== "" && m[0] !== "-") {
      i += m[0].length;
      return;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    fail("a value");
  };

  try {
    value();
    ws();
    if (i < text.length) fail("the end of the row");
    return undefined;
  } catch (err) {
    if (err instanceof JsonSyntaxError) return { offset: err.offset, field: topKey, message: err.message };
    throw err;
  }
}

/**
 * The located error for JSON text that JSON.parse rejected (`err`): line, column and the field whose value was
 * being read. `firstLine` is the file line the text starts on; `fieldDepth` as for `locateJsonError`.
 */
export function malformedJsonError(file: string, firstLine: number, text: string, err: unknown, fieldDepth = 1): InputError {
  const loc = locateJsonError(text, fieldDepth);
  if (!loc) return new InputError({ file, line: firstLine }, `malformed JSON: ${err instanceof Error ? err.message.replace(/\s+/g, " ").slice(0, 200) : String(err)}`);
  const before = text.slice(0, loc.offset);
  const line = firstLine + (before.match(/\n/g)?.length ?? 0);
  const column = loc.offset - (before.lastIndexOf("\n") + 1) + 1;
  return new InputError({ file, line, field: loc.field }, `malformed JSON at column ${column}: ${loc.message}`);
}

/** Parses a whole JSON file's text; a syntax error is a `malformedJsonError` (fields are top-level keys). */
export function parseJsonText(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformedJsonError(file, 1, text, err, 1);
  }
}
