/**
 * Errors a user can act on. The CLI prints their message (no stack) and exits with `exitCode`;
 * anything else is a bug and is printed with its stack.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "UserError";
    this.exitCode = exitCode;
  }
}

/** Where in an input file a problem sits: printed as `file:line: field: message`. */
export interface InputLocation {
  file: string;
  line?: number;
  field?: string;
}

/** Bad input (a malformed row, a wrong type, a missing field): names file, line and field. */
export class InputError extends UserError {
  readonly location: InputLocation;
  readonly detail: string;
  constructor(location: InputLocation, detail: string) {
    super(formatLocation(location) + detail, 2);
    this.name = "InputError";
    this.location = location;
    this.detail = detail;
  }
}

export function formatLocation(loc: InputLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  s += ": ";
  if (loc.field !== undefined) s += `field "${loc.field}": `;
  return s;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
