/**
 * Work limits for one grading call. Every loop in the parser and evaluator pays into a Budget, so no input —
 * however long, deep or explosive — can keep a call running past its deadline: the budget throws instead.
 */

/** Thrown when a call runs out of steps or time; callers turn it into a cheap fallback verdict. */
export class BudgetExceeded extends Error {
  constructor(readonly why: "time" | "steps" | "depth" | "size") {
    super(`grader budget exceeded (${why})`);
    this.name = "BudgetExceeded";
  }
}

export class Budget {
  private steps = 0;
  private nextClockCheck = 512;
  readonly deadline: number;

  constructor(
    readonly timeoutMs: number,
    readonly maxSteps = 2_000_000,
  ) {
    this.deadline = performance.now() + timeoutMs;
  }

  /** Charge `n` steps; checks the clock every few hundred steps (reading it costs more than a step). */
  tick(n = 1): void {
    this.steps += n;
    if (this.steps >= this.nextClockCheck) {
      if (this.steps > this.maxSteps) throw new BudgetExceeded("steps");
      if (performance.now() > this.deadline) throw new BudgetExceeded("time");
      this.nextClockCheck = this.steps + 512;
    }
  }

  /** True while there is time left (for optional extra work such as more evaluation points). */
  hasTime(fraction = 1): boolean {
    return performance.now() < this.deadline - this.timeoutMs * (1 - fraction);
  }

  get used(): number {
    return this.steps;
  }
}
