"""Reference side of test/world/*.test.ts: what Python `tokenizers` / `transformers` make of the committed world
model. Reads one JSON request on stdin, prints one JSON answer on stdout.

  {"op": "tokenize", "model": dir, "texts": [...]}                     -> {"tokenizers": [[ids]], "transformers": [[ids]]}
  {"op": "chat", "model": dir, "messages": [...]}                      -> {"text": rendered with the generation prompt}
  {"op": "logprobs", "model": dir, "prefix": [ids], "continuation": [ids]} -> {"logprobs": [...]}
"""
import json
import sys

req = json.load(sys.stdin)
op = req["op"]
if op == "tokenize":
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    raw = Tokenizer.from_file(req["model"] + "/tokenizer.json")
    fast = AutoTokenizer.from_pretrained(req["model"])
    out = {
        "tokenizers": [raw.encode(t, add_special_tokens=False).ids for t in req["texts"]],
        "transformers": [fast(t, add_special_tokens=False)["input_ids"] for t in req["texts"]],
        "decoded": [raw.decode(raw.encode(t, add_special_tokens=False).ids, skip_special_tokens=False) for t in req["texts"]],
    }
elif op == "chat":
    from transformers import AutoTokenizer

    fast = AutoTokenizer.from_pretrained(req["model"])
    out = {"text": fast.apply_chat_template(req["messages"], add_generation_prompt=True, tokenize=False)}
elif op == "logprobs":
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(req["model"], torch_dtype=torch.float32)
    model.eval()
    ids = torch.tensor([req["prefix"] + req["continuation"]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    lp = torch.log_softmax(logits, dim=-1)
    start = len(req["prefix"])
    out = {"logprobs": [lp[start + j - 1, tok].item() for j, tok in enumerate(req["continuation"])]}
else:
    raise SystemExit(f"unknown op {op}")
json.dump(out, sys.stdout)
