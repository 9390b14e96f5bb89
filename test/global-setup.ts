/**
 * One scratch directory per test run. Every temporary directory the tests make (and those of the CLIs, engines and
 * browsers they spawn) goes inside it through TMPDIR, and it is removed when the run ends, so test runs do not pile
 * thousands of directories into /tmp. `TOKENSQUEEZE_KEEP_TEST_TMP=1` keeps it, and prints where, for looking into a
 * failure. Report screenshots still go to the system temporary directory (`test/report/browser.ts`), where they are
 * meant to stay.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const system = tmpdir();
  process.env.TOKENSQUEEZE_TEST_ARTIFACTS ??= join(system, "tokensqueeze-test-artifacts");
  const scratch = mkdtempSync(join(system, "tokensqueeze-tests-"));
  // Read by os.tmpdir() in the test workers, forked after this runs, and in every process they spawn.
  process.env.TMPDIR = scratch;
  return () => {
    if (process.env.TOKENSQUEEZE_KEEP_TEST_TMP) {
      process.stdout.write(`test scratch directory kept: ${scratch}\n`);
      return;
    }
    rmSync(scratch, { recursive: true, force: true });
  };
}
