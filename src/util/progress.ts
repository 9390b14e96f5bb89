/**
 * Progress reporting for long work, shared by the stage runner and commands. All output goes to stderr
 * (stdout is for results and `--json`). Four renderings of the same events:
 *
 *   bar    a cli-progress bar on a TTY: count, percentage, rate, ETA
 *   plain  one line every `intervalMs` (default 5 s) or at each 10% step, for logs and CI
 *   json   JSON lines, for scripts:
 *            {"type":"stage-start","stage":"sample","total":500,"resumed":120}
 *            {"type":"progress","stage":"sample","done":240,"total":500,"failed":0,"rate":3.1,"etaSeconds":84}
 *            {"type":"stage-done","stage":"sample","status":"complete","done":500,"total":500,"failed":0,"elapsedSeconds":121.4,"rate":3.1}
 *            {"type":"log","message":"..."}
 *   none   nothing
 *
 * `done` counts items finished so far including those finished by earlier (resumed) runs; `rate` and
 * `etaSeconds` use only the items processed by this process, so a resumed run does not look instant.
 * `createProgress({mode: "auto"})` picks bar on a TTY and plain otherwise; `progressModeFrom` maps the
 * usual CLI flags (`--progress <mode>`, `--json`).
 */
import cliProgress from "cli-progress";
import { UserError } from "./errors.js";

export type ProgressMode = "auto" | "bar" | "plain" | "json" | "none";
export const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "bar", "plain", "json", "none"];

export interface StageStartEvent {
  stage: string;
  /** Items in the whole stage when known (including those done earlier). */
  total: number | null;
}

export interface ProgressUpdate {
  /** Items finished (ok or failed), including those done by earlier runs. */
  done: number;
  /** Items that failed, included in `done`. */
  failed: number;
  /** Of `done`, how many were done by earlier runs (skipped now). */
  resumed: number;
  /** A total learnt late (e.g. once an async item source is exhausted). */
  total?: number | null;
}

export interface StageEndEvent extends ProgressUpdate {
  status: string;
}

export interface ProgressReporter {
  stageStart(event: StageStartEvent): void;
  /** Cheap to call on every item: the reporter throttles its own output. */
  update(update: ProgressUpdate): void;
  stageEnd(event: StageEndEvent): void;
  /** A human message (warning, notice) printed without garbling the bar. */
  log(message: string): void;
}

export interface ProgressOptions {
  mode?: ProgressMode;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Minimum time between plain lines or JSON progress events; default 5000 (plain) / 1000 (json). */
  intervalMs?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** The progress mode the usual flags ask for: an explicit `--progress`, else json under `--json`, else auto. */
export function progressModeFrom(flags: { progress?: string; json?: boolean }): ProgressMode {
  if (flags.progress !== undefined) {
    if (!(PROGRESS_MODES as readonly string[]).includes(flags.progress)) {
      throw new UserError(`--progress: expected one of ${PROGRESS_MODES.join(", ")}, got "${flags.progress}"`);
    }
    return flags.progress as ProgressMode;
  }
  return flags.json ? "json" : "auto";
}

export const silentProgress: ProgressReporter = {
  stageStart() {},
  update() {},
  stageEnd() {},
  log() {},
};

export function createProgress(opts: ProgressOptions = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  let mode = opts.mode ?? "auto";
  if (mode === "auto") mode = stream.isTTY ? "bar" : "plain";
  const now = opts.now ?? Date.now;
  switch (mode) {
    case "none":
      return silentProgress;
    case "bar":
      return new BarProgress(stream, now);
    case "json":
      return new LineProgress(stream, now, opts.intervalMs ?? 1000, true);
    default:
      return new LineProgress(stream, now, opts.intervalMs ?? 5000, false);
  }
}

/** Rate (items/s of this process's own work) and ETA from a stage's start time and counts. */
class RateMeter {
  private startedAt = 0;
  total: number | null = null;
  constructor(private readonly now: () => number) {}
  start(total: number | null): void {
    this.startedAt = this.now();
    this.total = total;
  }
  elapsedSeconds(): number {
    return Math.max(0, (this.now() - this.startedAt) / 1000);
  }
  rate(u: ProgressUpdate): number {
    const elapsed = this.elapsedSeconds();
    return elapsed > 0 ? (u.done - u.resumed) / elapsed : 0;
  }
  etaSeconds(u: ProgressUpdate): number | null {
    const r = this.rate(u);
    if (this.total === null || r <= 0) return null;
    return Math.max(0, (this.total - u.done) / r);
  }
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function formatRate(rate: number): string {
  if (rate >= 100) return rate.toFixed(0);
  if (rate >= 1) return rate.toFixed(1);
  return rate.toFixed(3);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

class LineProgress implements ProgressReporter {
  private readonly meter: RateMeter;
  private stage = "";
  private lastEmit = 0;
  private lastDecile = 0;
  private last: ProgressUpdate = { done: 0, failed: 0, resumed: 0 };

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly now: () => number,
    private readonly intervalMs: number,
    private readonly json: boolean,
  ) {
    this.meter = new RateMeter(now);
  }

  stageStart(e: StageStartEvent): void {
    this.stage = e.stage;
    this.meter.start(e.total);
    this.lastEmit = this.now();
    this.lastDecile = 0;
    this.last = { done: 0, failed: 0, resumed: 0 };
    if (this.json) this.write({ type: "stage-start", stage: e.stage, total: e.total });
    else this.stream.write(`${e.stage}: started${e.total !== null ? ` (${e.total} items)` : ""}\n`);
  }

  update(u: ProgressUpdate): void {
    if (u.total !== undefined) this.meter.total = u.total;
    this.last = u;
    const total = this.meter.total;
    const decile = total ? Math.floor((u.done / total) * 10) : 0;
    const t = this.now();
    // A resumed run skips its done items in a burst: do not print a line per decile for those.
    if (u.done <= u.resumed) this.lastDecile = decile;
    const crossedDecile = decile > this.lastDecile;
    if (t - this.lastEmit >= this.intervalMs || crossedDecile) {
      this.lastEmit = t;
      this.lastDecile = decile;
      this.emitProgress(u);
    }
  }

  stageEnd(e: StageEndEvent): void {
    if (e.total !== undefined) this.meter.total = e.total;
    const elapsed = this.meter.elapsedSeconds();
    const rate = this.meter.rate(e);
    if (this.json) {
      this.write({
        type: "stage-done",
        stage: this.stage,
        status: e.status,
        done: e.done,
        total: this.meter.total,
        failed: e.failed,
        resumed: e.resumed,
        elapsedSeconds: round(elapsed, 3),
        rate: round(rate, 3),
      });
    } else {
      const of = this.meter.total !== null ? `/${this.meter.total}` : "";
      const failed = e.failed ? `, ${e.failed} failed` : "";
      const resumed = e.resumed ? `, ${e.resumed} from earlier runs` : "";
      this.stream.write(`${this.stage}: ${e.status}: ${e.done}${of} items${failed}${resumed} in ${formatDuration(elapsed)} (${formatRate(rate)} items/s)\n`);
    }
  }

  log(message: string): void {
    if (this.json) this.write({ type: "log", stage: this.stage || undefined, message });
    else this.stream.write(`${message}\n`);
  }

  private emitProgress(u: ProgressUpdate): void {
    const total = this.meter.total;
    const rate = this.meter.rate(u);
    const eta = this.meter.etaSeconds(u);
    if (this.json) {
      this.write({
        type: "progress",
        stage: this.stage,
        done: u.done,
        total,
        failed: u.failed,
        resumed: u.resumed,
        rate: round(rate, 3),
        etaSeconds: eta === null ? null : round(eta, 1),
      });
      return;
    }
    const pct = total ? ` (${((u.done / total) * 100).toFixed(1)}%)` : "";
    const failed = u.failed ? `, ${u.failed} failed` : "";
    this.stream.write(
      `${this.stage}: ${u.done}${total !== null ? `/${total}` : ""}${pct}${failed}, ${formatRate(rate)} items/s, ETA ${formatDuration(eta)}\n`,
    );
  }

  private write(event: Record<string, unknown>): void {
    this.stream.write(JSON.stringify(event) + "\n");
  }
}

class BarProgress implements ProgressReporter {
  private readonly meter: RateMeter;
  private bar: cliProgress.SingleBar | null = null;
  private stage = "";
  private last: ProgressUpdate = { done: 0, failed: 0, resumed: 0 };

  constructor(
    private readonly stream: NodeJS.WritableStream,
    now: () => number,
  ) {
    this.meter = new RateMeter(now);
  }

  stageStart(e: StageStartEvent): void {
    this.stopBar();
    this.stage = e.stage;
    this.meter.start(e.total);
    this.last = { done: 0, failed: 0, resumed: 0 };
    const known = e.total !== null;
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: known
          ? "{stage} [{bar}] {percentage}% | {value}/{total}{failedText} | {rateText} items/s | ETA {etaText}"
          : "{stage} {value} items{failedText} | {rateText} items/s",
        hideCursor: true,
        // The stage runner handles SIGINT itself; the bar must not install its own handlers.
        gracefulExit: false,
        fps: 5,
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(e.total ?? 0, 0, this.payload(this.last));
  }

  update(u: ProgressUpdate): void {
    if (u.total !== undefined && u.total !== null && this.bar) {
      this.meter.total = u.total;
      this.bar.setTotal(u.total);
    }
    this.last = u;
    this.bar?.update(u.done, this.payload(u));
  }

  stageEnd(e: StageEndEvent): void {
    this.update(e);
    this.stopBar();
    const elapsed = this.meter.elapsedSeconds();
    const failed = e.failed ? `, ${e.failed} failed` : "";
    this.stream.write(`${this.stage}: ${e.status}: ${e.done} items${failed} in ${formatDuration(elapsed)} (${formatRate(this.meter.rate(e))} items/s)\n`);
  }

  log(message: string): void {
    // Clear the bar's line, print the message, and let the bar redraw below it.
    if (this.bar) this.stream.write("\r\x1b[2K");
    this.stream.write(`${message}\n`);
    this.bar?.update(this.last.done, this.payload(this.last));
  }

  private payload(u: ProgressUpdate): Record<string, string> {
    return {
      stage: this.stage,
      failedText: u.failed ? ` (${u.failed} failed)` : "",
      rateText: formatRate(this.meter.rate(u)),
      etaText: formatDuration(this.meter.etaSeconds(u)),
    };
  }

  private stopBar(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}
