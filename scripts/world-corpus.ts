/**
 * Writes the world's pretraining corpus for trainer/world_pretrain.py:
 *   <out>/train.jsonl    one trace per line: {id, level, care, format, user | prompt, response, answer, masked?}
 *   <out>/heldout.jsonl  the held-out problems (never in train.jsonl): {id, level, question, answer}
 *
 *   tsx scripts/world-corpus.ts --out .cache/world --problems 60000 --seed 1 [--style-spread 0.2]
 *     [--extra-verify 0.5 [--extra-verify-max 3]]
 *
 * --style-spread makes wording a per-trace style (TracePolicy.styleSpread); --extra-verify P ends a share P of the
 * traces with 1 to --extra-verify-max (default 3) more closing verifications (TracePolicy.extraVerify). Without
 * them the corpus is the one the pre-#12 model was trained on.
 *
 * Problems are spread evenly over the levels; each training problem gets one trace. The model must answer under
 * both evaluation prompt presets (src/sampling/prompts.ts), so the traces come in their formats:
 *   chat        `user` is the question + DeepSeek's instruction, rendered with the model's chat template
 *   chat-plain  `user` is the bare question
 *   paper       `prompt` is the paper's plain-text template (ending in an opened "<think>\n"); the response
 *               continues the thinking and puts the answer in <answer> … </answer>
 */
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateProblem, heldoutProblems, MAX_LEVEL, MIN_LEVEL } from "../src/world/expression.js";
import { paperPrompt } from "../src/sampling/prompts.js";
import { chatUserMessage } from "../src/sampling/prompts.js";
import { deriveSeed, Rng } from "../src/util/rng.js";
import { DEFAULT_POLICY, errorSpans, generateTrace, paperResponse, THINK_OPEN } from "../src/world/traces.js";

function maskedField(spans: Array<[number, number]>): { masked?: Array<[number, number]> } {
  return spans.length > 0 ? { masked: spans } : {};
}

const { values } = parseArgs({
  options: {
    out: { type: "string", default: ".cache/world" },
    problems: { type: "string", default: "60000" },
    seed: { type: "string", default: "1" },
    "style-spread": { type: "string" },
    "extra-verify": { type: "string" },
    "extra-verify-max": { type: "string", default: "3" },
  },
});
const out = values.out!;
const total = Number(values.problems);
const seed = Number(values.seed);
if (!Number.isInteger(total) || total <= 0) throw new Error(`--problems must be a positive integer, got ${values.problems}`);
const spread = values["style-spread"] === undefined ? undefined : Number(values["style-spread"]);
if (spread !== undefined && !(spread > 0)) throw new Error(`--style-spread must be a positive number, got ${values["style-spread"]}`);
const extra = values["extra-verify"] === undefined ? undefined : Number(values["extra-verify"]);
if (extra !== undefined && !(extra >= 0 && extra <= 1)) throw new Error(`--extra-verify must be a probability in [0, 1], got ${values["extra-verify"]}`);
const extraMax = Number(values["extra-verify-max"]);
if (!Number.isInteger(extraMax) || extraMax < 1) throw new Error(`--extra-verify-max must be a positive integer, got ${values["extra-verify-max"]}`);
const policy = {
  ...DEFAULT_POLICY,
  ...(spread === undefined ? {} : { styleSpread: spread }),
  ...(extra === undefined ? {} : { extraVerify: { p: extra, max: extraMax } }),
};
mkdirSync(out, { recursive: true });

const FORMAT_SHARES = { chat: 0.6, chatPlain: 0.15 };

async function writeLines(file: string, rows: Iterable<unknown>): Promise<number> {
  const ws = createWriteStream(file);
  let n = 0;
  for (const r of rows) {
    if (!ws.write(JSON.stringify(r) + "\n")) await new Promise<void>((res) => ws.once("drain", () => res()));
    n++;
  }
  await new Promise<void>((res, rej) => ws.end((err?: Error | null) => (err ? rej(err) : res())));
  return n;
}

function* trainRows(): Generator<unknown> {
  const levels = MAX_LEVEL - MIN_LEVEL + 1;
  for (let i = 0; i < total; i++) {
    const level = MIN_LEVEL + (i % levels);
    const p = generateProblem("train", level, seed, Math.floor(i / levels));
    const t = generateTrace(p, seed, 0, policy);
    const x = new Rng(deriveSeed("world-corpus-format", p.id, seed)).next();
    const base = { id: p.id, level, care: t.care, question: p.question, answer: p.answer };
    // `masked`: character spans of the response that carry a deliberate error (trained on as context, never as target).
    const chatMasked = maskedField(errorSpans(t, THINK_OPEN.length));
    if (x < FORMAT_SHARES.chat) yield { ...base, format: "chat", user: chatUserMessage(p.question), response: t.response, ...chatMasked };
    else if (x < FORMAT_SHARES.chat + FORMAT_SHARES.chatPlain) yield { ...base, format: "chat-plain", user: p.question, response: t.response, ...chatMasked };
    else yield { ...base, format: "paper", prompt: paperPrompt(p.question).prompt, response: paperResponse(t), ...maskedField(errorSpans(t, 0)) };
  }
}

const heldout = heldoutProblems().map((p) => ({
  id: p.id,
  level: p.level,
  question: p.question,
  user: chatUserMessage(p.question),
  paperPrompt: paperPrompt(p.question).prompt,
  answer: p.answer,
}));
const nTrain = await writeLines(join(out, "train.jsonl"), trainRows());
const nHeld = await writeLines(join(out, "heldout.jsonl"), heldout);
process.stderr.write(`world-corpus: ${nTrain} training traces, ${nHeld} held-out problems → ${out}\n`);
