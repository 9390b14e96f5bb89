/**
 * Grades and analyses samples written by trainer/world_sample.py (the tuning loop), printing the world report
 * as JSON — the same numbers `tokensqueeze world report` computes from the embedded engine's samples.
 *
 *   tsx scripts/world-analyze.ts samples.jsonl [--model models/world-base]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gradeResponse } from "../src/sampling/sample-problem.js";
import { loadModelFolder } from "../src/model/folder.js";
import { worldReport, type WorldSample } from "../src/world/report.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { model: { type: "string", default: "models/world-base" } } });
if (positionals.length !== 1) throw new Error("usage: world-analyze.ts samples.jsonl [--model dir]");
const tokenizer = loadModelFolder(values.model!).tokenizer;
interface Row { problemId: string; level: number; answer: string; sampleIndex: number; text: string; tokens: number; finishReason: string }
const rows = readFileSync(positionals[0], "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Row);
const samples: WorldSample[] = rows.map((r) => ({ ...r, correct: gradeResponse(r.text, r.answer).equal }));
const report = worldReport(samples, (t) => tokenizer.encode(t, { addSpecialTokens: false }).length);
process.stdout.write(JSON.stringify(report, null, 1) + "\n");
