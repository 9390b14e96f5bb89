/**
 * Which model produced a run's records. Engines report it (`Engine.identity`) and the run store records and
 * compares it; it lives here, beside neither, so the store does not depend on the engines.
 */
export interface ModelIdentity {
  /** Human name, e.g. a folder path or a served model name. */
  name: string;
  /** Content hash of the weights where known (the run store records it). */
  sha256?: string;
  engine: string;
}
