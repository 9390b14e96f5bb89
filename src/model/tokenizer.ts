/**
 * The model's own tokenizer, read from `tokenizer.json` (+ `tokenizer_config.json`) through
 * @huggingface/tokenizers (pure JS). Token ids match Python `tokenizers` (checked in test/model/tokenizer.test.ts).
 *
 * Generation needs text as tokens arrive (stop strings) without re-decoding the whole completion every step; for
 * byte-level BPE (GPT-2/Llama-3/Qwen style) each token is a fixed byte string, so `TokenStreamDecoder` appends
 * bytes and decodes UTF-8 incrementally. Other decoders fall back to a full decode per step.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { InputError } from "../util/errors.js";

export interface TokenizerFiles {
  /** Parsed `tokenizer.json`. */
  tokenizerJson: Record<string, unknown>;
  /** Parsed `tokenizer_config.json` ({} when absent). */
  tokenizerConfig: Record<string, unknown>;
}

export class ModelTokenizer {
  readonly files: TokenizerFiles;
  private readonly tok: Tokenizer;
  /** Ids of added tokens marked special (left out of decoded text, like skip_special_tokens=True). */
  readonly specialIds: ReadonlySet<number>;
  /** Vocabulary size including added tokens (largest id + 1). */
  readonly size: number;
  /** Per-token bytes for byte-level decoders; null when the decoder is not plain byte-level. */
  private readonly tokenBytes: Array<Uint8Array> | null;

  constructor(files: TokenizerFiles, file = "tokenizer.json") {
    this.files = files;
    const j = files.tokenizerJson;
    const model = j.model as Record<string, unknown> | undefined;
    if (model === undefined || typeof model !== "object") throw new InputError({ file, field: "model" }, "missing");
    try {
      this.tok = new Tokenizer(j, files.tokenizerConfig);
    } catch (err) {
      throw new InputError({ file }, `cannot build the tokenizer: ${(err as Error).message}`);
    }
    const special = new Set<number>();
    let maxId = -1;
    const added = Array.isArray(j.added_tokens) ? (j.added_tokens as Array<Record<string, unknown>>) : [];
    for (const t of added) {
      const id = t.id as number;
      if (t.special === true) special.add(id);
      maxId = Math.max(maxId, id);
    }
    const vocab = model.vocab as Record<string, number> | undefined;
    if (vocab !== undefined) for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
    this.specialIds = special;
    this.size = maxId + 1;
    this.tokenBytes = isPlainByteLevel(j) ? this.buildTokenBytes(added) : null;
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /** Text of `ids`; special tokens are skipped by default (as vLLM/OpenAI return text). */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    // Models often pad their vocabulary past the tokenizer's; such ids have no text.
    const known = ids.filter((id) => id >= 0 && id < this.size);
    if (known.length === 0) return "";
    return this.tok.decode(known, { skip_special_tokens: opts.skipSpecialTokens ?? true, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** A decoder for tokens arriving one at a time (generation). */
  streamDecoder(): TokenStreamDecoder {
    return this.tokenBytes !== null ? new ByteLevelStreamDecoder(this.tokenBytes) : new FullRedecodeStreamDecoder(this);
  }

  private buildTokenBytes(added: Array<Record<string, unknown>>): Array<Uint8Array> {
    const unicodeToByte = byteLevelDecodeMap();
    const out: Array<Uint8Array> = new Array(this.size);
    const enc = new TextEncoder();
    const addedById = new Map<number, Record<string, unknown>>();
    for (const t of added) addedById.set(t.id as number, t);
    for (let id = 0; id < this.size; id++) {
      const a = addedById.get(id);
      if (a !== undefined) {
        out[id] = a.special === true ? new Uint8Array(0) : enc.encode(String(a.content));
        continue;
      }
      const tok = this.tok.id_to_token(id);
      if (tok === undefined) {
        out[id] = new Uint8Array(0);
        continue;
      }
      const bytes: number[] = [];
      for (const ch of tok) {
        const b = unicodeToByte.get(ch);
        if (b === undefined) {
          // Not a byte-level symbol: fall back to its UTF-8 (such vocabularies do not reach here in practice).
          for (const x of enc.encode(ch)) bytes.push(x);
        } else bytes.push(b);
      }
      out[id] = Uint8Array.from(bytes);
    }
    return out;
  }
}

/** Appends tokens; `text` is the decoded text so far (complete UTF-8 characters only). */
export interface TokenStreamDecoder {
  push(id: number): void;
  readonly text: string;
}

class ByteLevelStreamDecoder implements TokenStreamDecoder {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  text = "";
  constructor(private readonly tokenBytes: Array<Uint8Array>) {}
  push(id: number): void {
    const b = this.tokenBytes[id];
    if (b !== undefined && b.length > 0) this.text += this.decoder.decode(b, { stream: true });
  }
}

class FullRedecodeStreamDecoder implements TokenStreamDecoder {
  private readonly ids: number[] = [];
  text = "";
  constructor(private readonly tok: ModelTokenizer) {}
  push(id: number): void {
    this.ids.push(id);
    // Hold back a trailing replacement character: it may be half of a multi-byte character.
    const t = this.tok.decode(this.ids);
    this.text = t.endsWith("\uFFFD") ? t.slice(0, -1) : t;
  }
}

/** True when decoding is exactly "map each byte-level symbol back to its byte, then UTF-8". */
function isPlainByteLevel(j: Record<string, unknown>): boolean {
  const dec = j.decoder as Record<string, unknown> | null | undefined;
  if (dec === null || dec === undefined) return false;
  const model = j.model as Record<string, unknown>;
  if (model.type !== "BPE") return false;
  if (dec.type === "ByteLevel") return true;
  if (dec.type === "Sequence" && Array.isArray(dec.decoders)) {
    return (dec.decoders as Array<Record<string, unknown>>).every((d) => d.type === "ByteLevel");
  }
  return false;
}

/** GPT-2's bytes_to_unicode, inverted: printable bytes map to themselves, the rest to 256 + n. */
function byteLevelDecodeMap(): Map<string, number> {
  const bs: number[] = [];
  for (let b = "!".charCodeAt(0); b <= "~".charCodeAt(0); b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const map = new Map<string, number>();
  bs.forEach((b, i) => map.set(String.fromCharCode(cs[i]), b));
  return map;
}
