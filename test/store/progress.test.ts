import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createProgress, formatDuration, progressModeFrom, silentProgress } from "../../src/util/progress.js";

function sink(isTTY = false): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  w.isTTY = isTTY;
  w.text = () => chunks.join("");
  return w;
}

describe("progress reporting", () => {
  it("plain mode prints a line per 10% step or interval, with rate and ETA from this run's own work", () => {
    let t = 0;
    const out = sink();
    const p = createProgress({ mode: "plain", stream: out, now: () => t, intervalMs: 5000 });
    p.stageStart({ stage: "sample", total: 1000 });
    // 200 items done by an earlier run are skipped at once: no burst of lines, no fake rate.
    p.update({ done: 200, failed: 0, resumed: 200 });
    for (let i = 1; i <= 800; i++) {
      t += 10; // 100 items/s
      p.update({ done: 200 + i, failed: i > 790 ? i - 790 : 0, resumed: 200 });
    }
    p.stageEnd({ status: "complete", done: 1000, failed: 10, resumed: 200 });
    const lines = out.text().trim().split("\n");
    expect(lines[0]).toBe("sample: started (1000 items)");
    // One line per decile this run crosses (30% … 100%); the 5 s interval adds at most one more.
    expect(lines.filter((l) => / items\/s, ETA /.test(l)).length).toBeGreaterThanOrEqual(8);
    expect(lines[1]).toBe("sample: 300/1000 (30.0%), 100 items/s, ETA 7s");
    expect(lines.at(-1)).toBe("sample: complete: 1000/1000 items, 10 failed, 200 from earlier runs in 8s (100 items/s)");
  });

  it("json mode emits stage-start, progress and stage-done events as JSON lines", () => {
    let t = 0;
    const out = sink();
    const p = createProgress({ mode: "json", stream: out, now: () => t });
    p.stageStart({ stage: "grade", total: 50 });
    for (let i = 1; i <= 50; i++) {
      t += 100;
      p.update({ done: i, failed: 0, resumed: 0 });
    }
    p.log("a notice");
    p.stageEnd({ status: "complete", done: 50, failed: 0, resumed: 0 });
    const events = out
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toEqual({ type: "stage-start", stage: "grade", total: 50 });
    const progress = events.filter((e) => e.type === "progress");
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress[0]).toEqual({ type: "progress", stage: "grade", done: 5, total: 50, failed: 0, resumed: 0, rate: 10, etaSeconds: 4.5 });
    expect(events.at(-2)).toEqual({ type: "log", stage: "grade", message: "a notice" });
    expect(events.at(-1)).toEqual({
      type: "stage-done",
      stage: "grade",
      status: "complete",
      done: 50,
      total: 50,
      failed: 0,
      resumed: 0,
      elapsedSeconds: 5,
      rate: 10,
    });
  });

  it("auto mode draws a bar on a TTY and plain lines elsewhere", () => {
    const tty = sink(true);
    const bar = createProgress({ mode: "auto", stream: tty });
    bar.stageStart({ stage: "refine", total: 10 });
    bar.update({ done: 5, failed: 0, resumed: 0 });
    bar.stageEnd({ status: "complete", done: 10, failed: 0, resumed: 0 });
    expect(tty.text()).toMatch(/refine \[[█░]+\] \d+% \| \d+\/10 \|/);
    expect(tty.text()).toMatch(/refine: complete: 10 items in 0s/);

    const file = sink(false);
    const plain = createProgress({ mode: "auto", stream: file });
    plain.stageStart({ stage: "refine", total: 10 });
    expect(file.text()).toBe("refine: started (10 items)\n");
  });

  it("maps the usual flags to a mode", () => {
    expect(progressModeFrom({})).toBe("auto");
    expect(progressModeFrom({ json: true })).toBe("json");
    expect(progressModeFrom({ json: true, progress: "plain" })).toBe("plain");
    expect(() => progressModeFrom({ progress: "fancy" })).toThrow(/--progress: expected one of auto, bar, plain, json, none, got "fancy"/);
    expect(createProgress({ mode: "none" })).toBe(silentProgress);
    expect(formatDuration(3725)).toBe("1h02m");
    expect(formatDuration(null)).toBe("?");
  });
});
