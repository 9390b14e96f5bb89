/**
 * The GGUF tokenizer (tokenizer.ggml.*) ↔ HF tokenizer.json + tokenizer_config.json, for byte-level BPE
 * vocabularies (tokenizer.ggml.model "gpt2": GPT-2, SmolLM, Llama 3, Qwen). A GGUF stores the vocabulary, the
 * merges, a type per token and only the *name* of the pre-tokenizer (tokenizer.ggml.pre); the names below map to
 * the split llama.cpp applies for them, and back. Anything else is refused naming the key or field.
 */
import { InputError } from "../util/errors.js";
import { TOKEN_TYPE } from "./constants.js";
import { meta, type Metadata, type MetadataView } from "./metadata.js";

/** Qwen2's split (digits one by one). */
const QWEN2_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
/** Llama 3's split (digits in runs of up to three). */
const LLAMA3_SPLIT = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

const byteLevel = (useRegex: boolean): Record<string, unknown> => ({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const splitThenBytes = (pattern: string): Record<string, unknown> => ({
  type: "Sequence",
  pretokenizers: [{ type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false }, byteLevel(false)],
});

/** tokenizer.ggml.pre → the HF pre-tokenizer doing the same split. */
const PRE_TOKENIZERS: Record<string, () => Record<string, unknown>> = {
  gpt2: () => byteLevel(true),
  // SmolLM: every digit alone, then GPT-2's split.
  smollm: () => ({ type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, byteLevel(true)] }),
  qwen2: () => splitThenBytes(QWEN2_SPLIT),
  "deepseek-r1-qwen": () => splitThenBytes(QWEN2_SPLIT),
  "llama-bpe": () => splitThenBytes(LLAMA3_SPLIT),
  llama3: () => splitThenBytes(LLAMA3_SPLIT),
  "llama-v3": () => splitThenBytes(LLAMA3_SPLIT),
};

export interface HfTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  chatTemplate: string | null;
}

/** GPT-2's byte → printable character table (bytes_to_unicode). */
function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  return out;
}

/** A GGUF file's tokenizer as HF files. `contextLength` becomes model_max_length. */
export function ggufTokenizerToHf(m: MetadataView, contextLength: number | undefined): HfTokenizerFiles {
  const model = m.requiredString("tokenizer.ggml.model");
  if (model !== "gpt2") {
    throw new InputError({ file: m.file, field: "tokenizer.ggml.model" }, `only byte-level BPE vocabularies ("gpt2") can be converted, got ${JSON.stringify(model)}`);
  }
  const pre = m.string("tokenizer.ggml.pre") ?? "gpt2";
  const preTokenizer = PRE_TOKENIZERS[pre];
  if (preTokenizer === undefined) {
    throw new InputError({ file: m.file, field: "tokenizer.ggml.pre" }, `pre-tokenizer ${JSON.stringify(pre)} is not supported (${Object.keys(PRE_TOKENIZERS).join(", ")} are)`);
  }
  const tokens = m.stringArray("tokenizer.ggml.tokens");
  if (tokens === undefined) throw new InputError({ file: m.file, field: "tokenizer.ggml.tokens" }, "missing");
  const types = m.integerArray("tokenizer.ggml.token_type") ?? tokens.map(() => TOKEN_TYPE.NORMAL);
  if (types.length !== tokens.length) {
    throw new InputError({ file: m.file, field: "tokenizer.ggml.token_type" }, `has ${types.length} entries for ${tokens.length} tokens`);
  }
  const merges = m.stringArray("tokenizer.ggml.merges") ?? [];
  const alphabet = new Set(byteToUnicode());
  const toByteLevel = (t: string): string => {
    const table = byteToUnicode();
    return Array.from(Buffer.from(t, "utf8"), (b) => table[b]).join("");
  };

  // No prototype: vocabularies hold tokens such as "constructor", "toString" and "__proto__".
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const added: Array<Record<string, unknown>> = [];
  tokens.forEach((t, id) => {
    const type = types[id];
    if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED) {
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === TOKEN_TYPE.CONTROL });
    }
    // Vocabulary entries are spelled in the byte alphabet; an added token written in plain text is respelled
    // for the BPE vocabulary (it is matched whole, as an added token, anyway).
    const key = [...t].every((c) => alphabet.has(c)) ? t : toByteLevel(t);
    if (!(key in vocab)) vocab[key] = id;
  });

  const id = (key: string): number | undefined => {
    const v = m.integer(key);
    if (v !== undefined && v >= tokens.length) throw new InputError({ file: m.file, field: key }, `${v} is not a token id below ${tokens.length}`);
    return v;
  };
  const bos = id("tokenizer.ggml.bos_token_id");
  const eos = id("tokenizer.ggml.eos_token_id");
  const unk = id("tokenizer.ggml.unknown_token_id");
  const pad = id("tokenizer.ggml.padding_token_id");
  const addBos = m.bool("tokenizer.ggml.add_bos_token") ?? false;
  const addEos = m.bool("tokenizer.ggml.add_eos_token") ?? false;
  const single: Array<Record<string, unknown>> = [];
  const specialTokens: Record<string, unknown> = {};
  const special = (tokenId: number | undefined, field: string): void => {
    if (tokenId === undefined) throw new InputError({ file: m.file, field }, "is missing but the file asks to add it to every text");
    single.push({ SpecialToken: { id: tokens[tokenId], type_id: 0 } });
    specialTokens[tokens[tokenId]] = { id: tokens[tokenId], ids: [tokenId], tokens: [tokens[tokenId]] };
  };
  if (addBos) special(bos, "tokenizer.ggml.bos_token_id");
  single.push({ Sequence: { id: "A", type_id: 0 } });
  if (addEos) special(eos, "tokenizer.ggml.eos_token_id");

  const tokenizerJson: Record<string, unknown> = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer(),
    post_processor: { type: "TemplateProcessing", single, pair: [...single, { Sequence: { id: "B", type_id: 1 } }], special_tokens: specialTokens },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map((s, i) => {
        const parts = s.split(" ");
        if (parts.length !== 2) throw new InputError({ file: m.file, field: `tokenizer.ggml.merges[${i}]` }, `expected "left right", got ${JSON.stringify(s)}`);
        return parts;
      }),
    },
  };
  const chatTemplate = m.string("tokenizer.chat_template") ?? null;
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: "PreTrainedTokenizerFast",
    clean_up_tokenization_spaces: false,
    add_bos_token: addBos,
    add_eos_token: addEos,
    ...(bos !== undefined ? { bos_token: tokens[bos] } : {}),
    ...(eos !== undefined ? { eos_token: tokens[eos] } : {}),
    ...(unk !== undefined ? { unk_token: tokens[unk] } : {}),
    ...(pad !== undefined ? { pad_token: tokens[pad] } : {}),
    ...(contextLength !== undefined ? { model_max_length: contextLength } : {}),
    ...(chatTemplate !== null ? { chat_template: chatTemplate } : {}),
  };
  return { tokenizerJson, tokenizerConfig, chatTemplate };
}

/** The tokenizer.ggml.pre name for an HF pre-tokenizer, or an error naming the field. */
function preTokenizerName(j: Record<string, unknown>, file: string): string {
  const pt = j.pre_tokenizer as Record<string, unknown> | null | undefined;
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
  for (const name of ["gpt2", "smollm", "qwen2", "llama-bpe"]) if (same(pt, PRE_TOKENIZERS[name]())) return name;
  throw new InputError({ file, field: "pre_tokenizer" }, `no llama.cpp pre-tokenizer does this split (supported: GPT-2 byte-level, SmolLM digits + byte-level, Qwen2 and Llama 3 regex splits): ${JSON.stringify(pt)}`);
}

/** Drops the keys that do not change how text is split (offsets, prefix-space flags that are false). */
function canonical(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(canonical);
  if (x === null || typeof x !== "object") return x;
  const o = x as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    if (k === "trim_offsets" || (k === "add_prefix_space" && o[k] === false) || (k === "prepend_scheme" && o[k] === "never") || k === "invert") continue;
    out[k] = canonical(o[k]);
  }
  if (out.behavior === "isolated") out.behavior = "Isolated";
  return out;
}

export interface GgufTokenizerInput {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  chatTemplate: string | null;
  /** The model's vocab_size: the token list is padded to it. */
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
  /** For error messages. */
  file: string;
}

/** HF tokenizer files → tokenizer.* metadata. */
export function hfTokenizerToGguf(t: GgufTokenizerInput): Metadata {
  const j = t.tokenizerJson;
  const bad = (field: string, detail: string): never => {
    throw new InputError({ file: t.file, field }, detail);
  };
  const model = j.model as Record<string, unknown> | undefined;
  if (model === undefined || model.type !== "BPE") bad("model.type", `only BPE tokenizers can be written to GGUF, got ${JSON.stringify(model?.type)}`);
  if (model!.byte_fallback === true) bad("model.byte_fallback", "byte-fallback BPE (SentencePiece style) is not supported");
  const normalizer = j.normalizer as Record<string, unknown> | null | undefined;
  const pre = preTokenizerName(j, t.file);
  // Qwen ships an NFC normalizer, which llama.cpp's qwen2 tokenizer does without; any other normalizer would change ids.
  if (normalizer !== null && normalizer !== undefined && !(pre === "qwen2" && normalizer.type === "NFC")) {
    bad("normalizer", `llama.cpp applies no normalizer; this tokenizer has ${JSON.stringify(normalizer.type)}`);
  }
  const vocab = model!.vocab as Record<string, number>;
  const tokens: Array<string | undefined> = new Array(t.vocabSize);
  const types: number[] = new Array(t.vocabSize).fill(TOKEN_TYPE.NORMAL);
  for (const [tok, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || id < 0 || id >= t.vocabSize) bad(`model.vocab.${tok}`, `id ${id} is not below vocab_size ${t.vocabSize}`);
    tokens[id] = tok;
  }
  const added = Array.isArray(j.added_tokens) ? (j.added_tokens as Array<Record<string, unknown>>) : [];
  for (const a of added) {
    const id = a.id as number;
    if (!Number.isInteger(id) || id < 0 || id >= t.vocabSize) bad("added_tokens", `id ${String(id)} is not below vocab_size ${t.vocabSize}`);
    tokens[id] = String(a.content);
    types[id] = a.special === true ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }
  // Rows of the embedding past the tokenizer (vocabularies padded to a round size) get placeholder tokens, as
  // llama.cpp's converter writes them.
  for (let id = 0; id < t.vocabSize; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TOKEN_TYPE.UNUSED;
    }
  }
  const merges = ((model!.merges ?? []) as unknown[]).map((mg, i) => {
    if (typeof mg === "string") return mg;
    if (Array.isArray(mg) && mg.length === 2) return `${String(mg[0])} ${String(mg[1])}`;
    return bad(`model.merges[${i}]`, "expected \"a b\" or [a, b]");
  });

  const cfg = t.tokenizerConfig;
  const tokenId = (key: string): number | undefined => {
    const v = cfg[key];
    const content = typeof v === "string" ? v : v !== null && typeof v === "object" ? (v as { content?: unknown }).content : undefined;
    if (typeof content !== "string") return undefined;
    const i = tokens.indexOf(content);
    return i >= 0 ? i : undefined;
  };
  const out: Metadata = new Map();
  out.set("tokenizer.ggml.model", meta.str("gpt2"));
  out.set("tokenizer.ggml.pre", meta.str(pre));
  out.set("tokenizer.ggml.tokens", meta.strings(tokens as string[]));
  out.set("tokenizer.ggml.token_type", meta.i32s(types));
  out.set("tokenizer.ggml.merges", meta.strings(merges));
  const bos = t.bosTokenId ?? tokenId("bos_token");
  const eos = t.eosTokenId ?? tokenId("eos_token");
  const pad = t.padTokenId ?? tokenId("pad_token");
  const unk = tokenId("unk_token");
  if (bos !== undefined) out.set("tokenizer.ggml.bos_token_id", meta.u32(bos));
  if (eos !== undefined) out.set("tokenizer.ggml.eos_token_id", meta.u32(eos));
  if (unk !== undefined) out.set("tokenizer.ggml.unknown_token_id", meta.u32(unk));
  if (pad !== undefined) out.set("tokenizer.ggml.padding_token_id", meta.u32(pad));
  const { addBos, addEos } = specialTokensAdded(j, t.file);
  out.set("tokenizer.ggml.add_bos_token", meta.bool(addBos));
  out.set("tokenizer.ggml.add_eos_token", meta.bool(addEos));
  if (t.chatTemplate !== null) out.set("tokenizer.chat_template", meta.str(t.chatTemplate));
  return out;
}

/** Whether the post-processor puts a special token before / after every text (what llama.cpp's add_bos/eos mean). */
function specialTokensAdded(j: Record<string, unknown>, file: string): { addBos: boolean; addEos: boolean } {
  const pp = j.post_processor as Record<string, unknown> | null | undefined;
  if (pp === null || pp === undefined || pp.type === "ByteLevel") return { addBos: false, addEos: false };
  if (pp.type !== "TemplateProcessing" || !Array.isArray(pp.single)) {
    throw new InputError({ file, field: "post_processor" }, `only TemplateProcessing or ByteLevel post-processors can be written to GGUF, got ${JSON.stringify(pp.type)}`);
  }
  const single = pp.single as Array<Record<string, unknown>>;
  const seq = single.findIndex((p) => p.Sequence !== undefined);
  if (single.length > 3 || seq < 0 || seq > 1 || single.length - seq > 2) {
    throw new InputError({ file, field: "post_processor.single" }, "llama.cpp can add at most one token before and one after each text");
  }
  return { addBos: seq === 1, addEos: single.length - seq === 2 };
}
