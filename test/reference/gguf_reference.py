"""Reference side of the GGUF tests: gguf-py (the GGUF library of llama.cpp) and transformers' gguf_file= loader.

Subcommands (paths are given by the TypeScript tests):
  quants --out DIR
      Writes DIR/quants.gguf with gguf-py's GGUFWriter: one tensor per type (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
      Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) made of random blocks (random bytes with finite random scales), and DIR/<tensor>.f32 with
      gguf.quants.dequantize of each, as raw little-endian float32.
  check --gguf FILE --folder DIR --out OUT.json
      Reads a GGUF written by the TypeScript writer from the HF folder DIR with gguf-py's GGUFReader. Writes
      {"tensors": {name: {"type", "max_abs_diff" (dequantised vs the folder's tensor, llama q/k rows permuted as
      llama.cpp's converter does), "f16_exact" (F16 equals numpy's float16 rounding), "q8_0_bytes_equal" (Q8_0
      bytes equal gguf.quants.quantize)}}, "metadata": {key: value for scalar keys}, "tokens": count,
      "extra": [names of tensors with no HF counterpart]}.
  shard --folder DIR --out DIR2
      Copies the HF folder DIR to DIR2 with its weights in bfloat16 split over two shards and a
      model.safetensors.index.json, as transformers saves large models.
  smollm2 --gguf FILE --texts TEXTS.json --real REAL.txt --chat CHAT.json --new N --out OUT.json
      transformers (CPU, float32) loads the GGUF with gguf_file=: token ids of every text; logits of the first 200
      tokens of REAL.txt (OUT.json's "real_ids", logits to OUT.json + ".logits.f32"); the chat prompt's ids
      (apply_chat_template with the generation prompt) and N greedy tokens after it (KV cache; EOS does not
      stop), with the smallest top-1 minus top-2 logit margin along the way.
"""

import argparse
import functools
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf.quants import dequantize, quantize


def cmd_quants(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(7)
    os.makedirs(args.out, exist_ok=True)
    w = gguf.GGUFWriter(os.path.join(args.out, "quants.gguf"), "llama")
    rows = 3
    # (type, block elements, block bytes, byte offsets of float16 scales in a block)
    quant_types = [
        (Q.Q8_0, 32, 34, [0]),
        (Q.Q4_0, 32, 18, [0]),
        (Q.Q4_1, 32, 20, [0, 2]),
        (Q.Q5_0, 32, 22, [0]),
        (Q.Q5_1, 32, 24, [0, 2]),
        (Q.Q2_K, 256, 84, [80, 82]),
        (Q.Q3_K, 256, 110, [108]),
        (Q.Q4_K, 256, 144, [0, 2]),
        (Q.Q5_K, 256, 176, [0, 2]),
        (Q.Q6_K, 256, 210, [208]),
    ]
    tensors = {}
    for qt, elems, nbytes, scale_at in quant_types:
        blocks = rows * 2
        raw = rng.integers(0, 256, size=(blocks, nbytes), dtype=np.uint8)
        for at in scale_at:
            scales = (rng.standard_normal(blocks) * 0.05).astype(np.float16)
            raw[:, at:at + 2] = scales.view(np.uint8).reshape(blocks, 2)
        raw = raw.reshape(rows, 2 * nbytes)
        tensors[f"{qt.name.lower()}.weight"] = (raw, qt)
    values = (rng.standard_normal((rows, 64)) * 3).astype(np.float32)
    values[0, :4] = [0.0, -0.0, 65504.0, 1e-7]  # zero, negative zero, the largest half, a half subnormal
    tensors["f32.weight"] = (values, Q.F32)
    tensors["f16.weight"] = (values.astype(np.float16), Q.F16)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(rows, 128)
    tensors["bf16.weight"] = (bf16, Q.BF16)
    for name, (data, qt) in tensors.items():
        if qt in (Q.F32, Q.F16):
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for name, (data, qt) in tensors.items():
        ref = dequantize(np.asarray(data).view(np.uint8).reshape(rows, -1), qt).astype("<f4")
        ref.tofile(os.path.join(args.out, f"{name}.f32"))


def llama_permute(x: np.ndarray, heads: int) -> np.ndarray:
    return x.reshape(heads, 2, x.shape[0] // heads // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)


def cmd_check(args: argparse.Namespace) -> None:
    from safetensors.numpy import load_file

    with open(os.path.join(args.folder, "config.json")) as f:
        cfg = json.load(f)
    hf = load_file(os.path.join(args.folder, "model.safetensors"))
    reader = gguf.GGUFReader(args.gguf)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == "llama" else getattr(gguf.MODEL_ARCH, arch.upper()), cfg["num_hidden_layers"])
    # gguf-py maps HF names to GGUF names; invert it for this file's tensors.
    to_hf = {}
    for hf_name in hf:
        base, _, suffix = hf_name.rpartition(".")
        g = names.get_name(base)
        if g is not None:
            to_hf[f"{g}.{suffix}"] = hf_name
    out = {"tensors": {}, "metadata": {}, "tokens": 0, "extra": []}
    for t in reader.tensors:
        if t.name not in to_hf:
            out["extra"].append(t.name)  # llama.cpp-only tensors such as rope_freqs
            continue
        ref = hf[to_hf[t.name]]
        if arch == "llama" and ".attn_q." in t.name:
            ref = llama_permute(ref, cfg["num_attention_heads"])
        if arch == "llama" and ".attn_k." in t.name:
            ref = llama_permute(ref, cfg["num_key_value_heads"])
        got = dequantize(t.data, t.tensor_type).reshape(ref.shape)
        entry = {"type": t.tensor_type.name, "max_abs_diff": float(np.abs(got - ref).max())}
        if t.tensor_type == Q.F16:
            entry["f16_exact"] = bool((got == ref.astype(np.float16).astype(np.float32)).all())
        if t.tensor_type == Q.Q8_0:
            entry["q8_0_bytes_equal"] = quantize(ref, Q.Q8_0).tobytes() == np.asarray(t.data).tobytes()
        out["tensors"][t.name] = entry
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            if key == "tokenizer.ggml.tokens":
                out["tokens"] = len(field.data)
            continue
        v = field.parts[field.data[0]]
        out["metadata"][key] = bytes(v).decode() if field.types[0] == gguf.GGUFValueType.STRING else v.tolist()[0]
    with open(args.out, "w") as f:
        json.dump(out, f)


def cmd_shard(args: argparse.Namespace) -> None:
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.folder):
        if f.endswith(".json") or f.endswith(".jinja"):
            shutil.copy(os.path.join(args.folder, f), os.path.join(args.out, f))
    tensors = {k: v.to(torch.bfloat16) for k, v in load_file(os.path.join(args.folder, "model.safetensors")).items()}
    names = list(tensors)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate([names[:half], names[half:]]):
        shard = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({k: tensors[k] for k in part}, os.path.join(args.out, shard), metadata={"format": "pt"})
        weight_map.update({k: shard for k in part})
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)


def cmd_smollm2(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    # transformers' GGUF loader parses the file's metadata twice and rebuilds gguf-py's tensor-name table once per
    # tensor (about 20 s of 35 here); both are pure functions of their arguments, so caching them changes nothing
    # but the time.
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(gguf.get_tensor_name_map)
    readers = {}
    plain_reader = gguf.GGUFReader

    def cached_reader(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = plain_reader(path, mode)
        return readers[key]

    gguf.GGUFReader = cached_reader
    folder, name = os.path.split(args.gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    with open(args.texts) as f:
        texts = json.load(f)
    out = {"ids": [tok.encode(t) for t in texts]}
    with open(args.real) as f:
        real_ids = tok.encode(f.read())[:200]
    out["real_ids"] = real_ids
    with open(args.chat) as f:
        messages = json.load(f)
    prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(prompt, dict) or hasattr(prompt, "input_ids"):
        prompt = prompt["input_ids"]
    out["prompt_ids"] = list(prompt)

    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([real_ids])).logits[0].to(torch.float32).numpy()
        logits.astype("<f4").tofile(args.out + ".logits.f32")
        # Greedy decoding by hand so that EOS does not end it and nothing else (min_new_tokens) changes the logits.
        step = model(input_ids=torch.tensor([out["prompt_ids"]]), use_cache=True)
        tokens, margins = [], []
        for _ in range(args.new):
            last = step.logits[0, -1]
            top = torch.topk(last, 2).values
            margins.append(float(top[0] - top[1]))
            nxt = int(torch.argmax(last))
            tokens.append(nxt)
            step = model(input_ids=torch.tensor([[nxt]]), past_key_values=step.past_key_values, use_cache=True)
    out["generated"] = tokens
    out["min_margin"] = min(margins)
    with open(args.out, "w") as f:
        json.dump(out, f)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("quants")
    p.add_argument("--out", required=True)
    p = sub.add_parser("check")
    p.add_argument("--gguf", required=True)
    p.add_argument("--folder", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("shard")
    p.add_argument("--folder", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("smollm2")
    p.add_argument("--gguf", required=True)
    p.add_argument("--texts", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--chat", required=True)
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    {"quants": cmd_quants, "check": cmd_check, "shard": cmd_shard, "smollm2": cmd_smollm2}[args.cmd](args)


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
