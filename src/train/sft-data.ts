/**
 * Reads an SFT data file (JSONL, one example per line) into token sequences with loss masks. Three row shapes,
 * the ones TRL's SFTTrainer accepts:
 *   {"text": "..."}                                   loss on every token (language modelling)
 *   {"prompt": "...", "completion": "..."}            loss on the completion only
 *   {"messages": [{"role", "content"}, ...]}          rendered with the model's chat template; loss on the final
 *                                                     assistant message (which must be last)
 * Prompt and completion are tokenized separately, so the mask boundary is exact. EOS is appended after `text` and
 * `completion` (the chat template ends an assistant turn itself). The file is read like every other data file
 * (src/data/records.ts: the same errors for malformed JSON, invalid UTF-8 and an empty file); errors name the
 * file, line and field, and `skipBadRows` skips and counts bad rows instead of stopping at the first.
 */
import { createHash } from "node:crypto";
import { readJsonlRowsSync } from "../data/records.js";
import type { SkippedRow } from "../data/types.js";
import { InputError } from "../util/errors.js";
import type { TokenSequence } from "./token-loss.js";

export interface SftTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
}

export interface ChatRenderer {
  render(messages: ReadonlyArray<{ role: string; content: string }>, opts?: { addGenerationPrompt?: boolean }): string;
}

export interface SftDataOptions {
  tokenizer: SftTokenizer;
  /** Appended after `text` and `completion` rows; undefined appends nothing. */
  eosTokenId?: number;
  /** Needed for `messages` rows. */
  chat?: ChatRenderer | null;
  /** Longer sequences are cut to this many tokens. */
  maxLength: number;
  /** Skip and count bad rows (`--skip-bad-rows`) instead of throwing on the first. */
  skipBadRows?: boolean;
}

export interface SftDataset {
  examples: TokenSequence[];
  /** Rows cut to maxLength. */
  truncated: number;
  /** Rows left with no target token after truncation (not used). */
  dropped: number;
  /** sha256 of the token ids and masks: what a resumed run must train on. */
  fingerprint: string;
  /** Bad rows skipped under `skipBadRows` (empty otherwise: the first bad row throws). */
  skipped: SkippedRow[];
}

export function readSftJsonl(file: string, opts: SftDataOptions): SftDataset {
  const examples: TokenSequence[] = [];
  const skipped: SkippedRow[] = [];
  let truncated = 0;
  let dropped = 0;
  const hash = createHash("sha256");
  for (const result of readJsonlRowsSync(file)) {
    let seq: TokenSequence;
    try {
      if (!result.ok) throw result.error;
      seq = tokenizeRow(result.row.value, { file: result.row.file, line: result.row.line }, opts);
    } catch (err) {
      if (!(err instanceof InputError) || !opts.skipBadRows) throw err;
      skipped.push({ file: err.location.file, line: err.location.line, field: err.location.field, message: err.message });
      continue;
    }
    if (seq.ids.length > opts.maxLength) {
      seq = { ids: seq.ids.slice(0, opts.maxLength), lossMask: seq.lossMask?.slice(0, opts.maxLength) };
      truncated++;
    }
    const targets = seq.lossMask === undefined ? seq.ids.length - 1 : seq.lossMask.slice(1).reduce((a, b) => a + b, 0);
    if (targets < 1) {
      dropped++;
      continue;
    }
    hash.update(JSON.stringify(seq));
    examples.push(seq);
  }
  if (examples.length === 0) {
    const why = skipped.length > 0 ? `every row was skipped as bad or lost its target tokens to --max-length` : "every row lost its target tokens to --max-length";
    throw new InputError({ file }, `no usable examples (${why})`);
  }
  return { examples, truncated, dropped, fingerprint: hash.digest("hex"), skipped };
}

function stringField(row: Record<string, unknown>, field: string, at: { file: string; line: number }): string {
  const v = row[field];
  if (typeof v !== "string") throw new InputError({ ...at, field }, v === undefined ? "missing" : `expected a string, got ${JSON.stringify(v)?.slice(0, 40)}`);
  return v;
}

function tokenizeRow(row: Record<string, unknown>, at: { file: string; line: number }, opts: SftDataOptions): TokenSequence {
  const eos = opts.eosTokenId === undefined ? [] : [opts.eosTokenId];
  if ("messages" in row) {
    if (!opts.chat) throw new InputError({ ...at, field: "messages" }, "the model has no chat_template in tokenizer_config.json; use prompt/completion rows");
    const messages = row.messages;
    if (!Array.isArray(messages) || messages.length === 0) throw new InputError({ ...at, field: "messages" }, "expected a non-empty list of {role, content}");
    const parsed = messages.map((m: unknown, k) => {
      const field = `messages[${k}]`;
      if (m === null || typeof m !== "object") throw new InputError({ ...at, field }, "expected {role, content}");
      const { role, content } = m as Record<string, unknown>;
      if (typeof role !== "string") throw new InputError({ ...at, field: `${field}.role` }, "expected a string");
      if (typeof content !== "string") throw new InputError({ ...at, field: `${field}.content` }, "expected a string");
      return { role, content };
    });
    if (parsed.at(-1)!.role !== "assistant") throw new InputError({ ...at, field: `messages[${parsed.length - 1}].role` }, "the last message must be the assistant's (it is what the model learns)");
    const prompt = opts.chat.render(parsed.slice(0, -1), { addGenerationPrompt: true });
    const full = opts.chat.render(parsed, { addGenerationPrompt: false });
    if (!full.startsWith(prompt)) throw new InputError({ ...at, field: "messages" }, "the chat template does not render the conversation as prompt + assistant turn; use prompt/completion rows");
    return promptCompletion(opts.tokenizer.encode(prompt, { addSpecialTokens: true }), opts.tokenizer.encode(full.slice(prompt.length), { addSpecialTokens: false }));
  }
  if ("prompt" in row || "completion" in row) {
    const prompt = stringField(row, "prompt", at);
    const completion = stringField(row, "completion", at);
    return promptCompletion(opts.tokenizer.encode(prompt, { addSpecialTokens: true }), [...opts.tokenizer.encode(completion, { addSpecialTokens: false }), ...eos]);
  }
  if ("text" in row) {
    const ids = [...opts.tokenizer.encode(stringField(row, "text", at), { addSpecialTokens: true }), ...eos];
    return { ids };
  }
  throw new InputError(at, 'expected a "text" field, "prompt" and "completion" fields, or a "messages" list');
}

/** A prompt (context only) followed by a completion (the training targets). */
export function promptCompletion(prompt: number[], completion: number[]): TokenSequence {
  return { ids: [...prompt, ...completion], lossMask: [...prompt.map(() => 0), ...completion.map(() => 1)] };
}
