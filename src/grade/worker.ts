/** Worker-thread side of GraderPool: grades the items it is sent and posts each result as soon as it is done. */
import { parentPort } from "node:worker_threads";
import { grade, type GradeItem, type GradeOptions } from "./grade.js";

export interface WorkerJob {
  items: { idx: number; item: GradeItem }[];
  opts: GradeOptions;
}

export interface WorkerReply {
  idx: number;
  result: ReturnType<typeof grade>;
}

parentPort?.on("message", (job: WorkerJob) => {
  for (const { idx, item } of job.items) {
    const opts = item.options ? { ...job.opts, ...item.options } : job.opts;
    let result: ReturnType<typeof grade>;
    try {
      result = grade(item.gold, item.prediction, opts);
    } catch (e) {
      result = { extracted: null, equal: false, reason: `error: ${e instanceof Error ? e.message : String(e)}` };
    }
    parentPort!.postMessage({ idx, result } satisfies WorkerReply);
  }
});
