/**
 * The checks every engine makes on a generate request before doing any work, so a bad request reads the same
 * whichever engine gets it (and a server is never sent one).
 */
import { UserError } from "../util/errors.js";
import type { GenerateRequest } from "./engine.js";

export function checkGenerateRequest(r: GenerateRequest): void {
  const bad = (field: string, detail: string): never => {
    throw new UserError(`generate: ${field} ${detail}`);
  };
  if (!Number.isInteger(r.n) || r.n < 1) bad("n", `must be a positive integer, got ${r.n}`);
  if (!Number.isInteger(r.maxTokens) || r.maxTokens < 0) bad("maxTokens", `must be a non-negative integer, got ${r.maxTokens}`);
  if (!(r.temperature >= 0)) bad("temperature", `must be ≥ 0, got ${r.temperature}`);
  if (!(r.topP > 0 && r.topP <= 1)) bad("topP", `must be in (0, 1], got ${r.topP}`);
  if (!Number.isInteger(r.topK) || r.topK < 0) bad("topK", `must be a non-negative integer, got ${r.topK}`);
  if (!Number.isInteger(r.seed)) bad("seed", `must be an integer, got ${r.seed}`);
}
