/**
 * A completion's text as its tokens arrive, for stop strings, without re-decoding the whole completion at every
 * token: text is decoded from the last point where it was whole (a byte-level token can end inside a UTF-8
 * character, which llama.cpp's detokenizer shows as U+FFFD until the next token completes it).
 *
 * Stop strings follow the embedded engine (src/model/generate.ts): the first stop string to appear ends the
 * completion, its text is cut before the stop string, and tokens lying wholly inside the stop string are dropped.
 */
export type Detokenize = (tokens: readonly number[], lastTokens: readonly number[]) => string;

/** Beyond this many undecodable tokens in a row the text is taken as it is (a model can emit invalid bytes). */
const MAX_PENDING = 16;

export interface StopHit {
  stop: string;
  /** The completion's text before the stop string. */
  text: string;
  /** The tokens kept (those that contributed text before the stop string). */
  tokens: number[];
}

export class CompletionText {
  readonly tokens: number[] = [];
  private readonly textEnds: number[] = [];
  private stable = "";
  private stableAt = 0;
  private current = "";
  private readonly maxStopLen: number;

  constructor(
    private readonly detokenize: Detokenize,
    private readonly stops: readonly string[],
  ) {
    this.maxStopLen = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Adds a generated token; returns the stop string it completed, if any. */
  push(token: number): StopHit | null {
    this.tokens.push(token);
    if (this.maxStopLen === 0) return null;
    const before = this.current.length;
    const piece = this.detokenize(this.tokens.slice(this.stableAt), this.tokens.slice(Math.max(0, this.stableAt - 4), this.stableAt));
    this.current = this.stable + piece;
    if (!piece.endsWith("\uFFFD") || this.tokens.length - this.stableAt >= MAX_PENDING) {
      this.stable = this.current;
      this.stableAt = this.tokens.length;
    }
    this.textEnds.push(this.current.length);
    if (this.current.length <= before) return null;
    const from = Math.max(0, before - this.maxStopLen + 1);
    let hit = -1;
    let which = "";
    for (const s of this.stops) {
      if (s.length === 0) continue;
      const at = this.current.indexOf(s, from);
      if (at !== -1 && (hit === -1 || at < hit)) {
        hit = at;
        which = s;
      }
    }
    if (hit === -1) return null;
    let keep = 0;
    while (keep < this.tokens.length && (keep === 0 ? 0 : this.textEnds[keep - 1]) < hit) keep++;
    return { stop: which, text: this.current.slice(0, hit), tokens: this.tokens.slice(0, keep) };
  }
}
