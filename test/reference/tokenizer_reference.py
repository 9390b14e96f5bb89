"""Reference side of the tokenizer tests: Python `tokenizers` on the same tokenizer.json.

    tokenizer_reference.py encode  --tokenizer FILE --input IN.json --out OUT.json
        IN.json = {"texts": [...], "ids": [[...], ...]}; OUT.json = {"encoded": [[ids]...], "decoded": [text...]}
        (encode with add_special_tokens=True; decode with skip_special_tokens=True)
    tokenizer_reference.py make-split --input IN.json --out tokenizer.json
        Trains a second byte-level BPE tokenizer on IN.json's texts whose pre-tokenizer is a Split on the
        Qwen2/Llama-3 style regex followed by ByteLevel(use_regex=False), with a TemplateProcessing BOS.
"""

import argparse
import json

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cmd", choices=["encode", "make-split"])
    parser.add_argument("--tokenizer")
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.input, encoding="utf-8") as f:
        inp = json.load(f)
    if args.cmd == "encode":
        tok = Tokenizer.from_file(args.tokenizer)
        encoded = [tok.encode(t, add_special_tokens=True).ids for t in inp["texts"]]
        decoded = [tok.decode(ids, skip_special_tokens=True) for ids in inp.get("ids", [])]
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"encoded": encoded, "decoded": decoded}, f)
    else:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=800,
            special_tokens=["<s>", "</s>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(inp["texts"], trainer=trainer)
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
        tok.save(args.out)


if __name__ == "__main__":
    main()
