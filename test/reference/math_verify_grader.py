#!/usr/bin/env python3
"""Reference verdicts from Python math-verify, for the TypeScript grader's differential test and benchmark.

Reads JSON Lines (stdin, or the file named as the only argument), one object per line:
    {"id": ..., "gold": "<reference answer>", "prediction": "<model response or bare answer>"}
and writes one JSON line per input:
    {"id": ..., "equal": bool, "gold_parsed": [...], "pred_parsed": [...], "seconds": float}

The reference is parsed as "\\boxed{<gold>}" so that math-verify reads the whole answer (a bare reference such
as "1, -2" would otherwise be matched piecemeal); the prediction is parsed as written. Both use math-verify's
defaults (LatexExtractionConfig + ExprExtractionConfig, float_rounding=6, strict=True), the way evaluation
harnesses call it. `seconds` covers parse + verify only, so callers can time math-verify without process start-up.
"""
import json
import logging
import sys
import time

from math_verify import parse, verify

logging.disable(logging.CRITICAL)


def main() -> int:
    src = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    out = sys.stdout
    for line in src:
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        t0 = time.perf_counter()
        try:
            gold = parse("\\boxed{" + row["gold"] + "}")
            pred = parse(row["prediction"])
            equal = bool(verify(gold, pred))
        except Exception as e:  # math-verify swallows most errors itself; anything left is a "not equal"
            gold, pred, equal = [], [str(e)], False
        seconds = time.perf_counter() - t0
        out.write(json.dumps({
            "id": row.get("id"),
            "equal": equal,
            "gold_parsed": [str(x) for x in gold],
            "pred_parsed": [str(x) for x in pred],
            "seconds": seconds,
        }) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
