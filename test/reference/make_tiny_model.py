"""Regenerates test/fixtures/tiny-llama/: a tiny Llama (≈130k parameters) with a real byte-level BPE tokenizer.

    .venv/bin/python test/reference/make_tiny_model.py [--out test/fixtures/tiny-llama]

The text is synthetic (arithmetic questions and answers, some unicode), made here from a fixed seed, so nothing
is copied from a dataset. The tokenizer is trained with Python `tokenizers`; the model is initialised by
transformers and lightly trained with PyTorch for a few hundred steps so that its samples look like the text
(useful for README examples), then saved with save_pretrained (float32 safetensors).
"""

import argparse
import json
import os
import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

WORDS = ["apples", "pears", "marbles", "books", "coins", "birds", "cups", "stones"]
NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Zoë", "José"]


def synthetic_corpus(rng: random.Random, n: int) -> list[str]:
    lines = []
    for _ in range(n):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        name, word = rng.choice(NAMES), rng.choice(WORDS)
        kind = rng.randint(0, 3)
        if kind == 0:
            q = f"{name} has {a} {word} and finds {b} more. How many {word} now?"
            ans = f"{a} + {b} = {a + b}. The answer is {a + b}."
        elif kind == 1:
            hi, lo = max(a, b), min(a, b)
            q = f"{name} had {hi} {word} and gave away {lo}. How many are left?"
            ans = f"{hi} - {lo} = {hi - lo}. The answer is {hi - lo}."
        elif kind == 2:
            a, b = a % 13, b % 13
            q = f"What is {a} times {b}?"
            ans = f"{a} × {b} = {a * b}. The answer is {a * b}."
        else:
            q = f"Compute {a} + {b} − {a % 7}."
            ans = f"{a} + {b} = {a + b}, then {a + b} − {a % 7} = {a + b - a % 7}. The answer is {a + b - a % 7}."
        lines.append(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n<think>\n{ans}\n</think>\n\\boxed{{{ans.split()[-1][:-1]}}}<|im_end|>\n")
    return lines


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    extra = ["Unicode: naïve café, Zoë, José, 数学, ∑ x² ≤ 1, emoji 🙂", "\\frac{1}{2} + \\sqrt{3}"]
    tok.train_from_iterator(texts + extra, trainer=trainer)
    return tok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "tiny-llama"))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)

    corpus = synthetic_corpus(rng, 4000)
    tok = train_tokenizer(corpus, vocab_size=512)
    vocab = tok.get_vocab_size()
    eot, im_start, im_end = (tok.token_to_id(s) for s in SPECIALS)

    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=eot,
        eos_token_id=[eot, im_end],
        pad_token_id=eot,
    )
    model = LlamaForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    encoded = [tok.encode(t).ids for t in corpus]
    seq = 96
    for step in range(args.steps):
        batch = [rng.choice(encoded)[:seq] for _ in range(16)]
        width = max(len(b) for b in batch)
        ids = torch.full((16, width), eot, dtype=torch.long)
        mask = torch.zeros((16, width), dtype=torch.long)
        for i, b in enumerate(batch):
            ids[i, : len(b)] = torch.tensor(b)
            mask[i, : len(b)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.3f}")

    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    GenerationConfig(bos_token_id=eot, eos_token_id=[eot, im_end], pad_token_id=eot).save_pretrained(args.out)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 512,
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}: vocab {vocab}, params {sum(p.numel() for p in model.parameters())}")


if __name__ == "__main__":
    main()
