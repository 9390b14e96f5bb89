"""The world pretraining recipe's pieces: the tokenizer keeps digits single, the chat template renders the turn
layout the corpus assumes, prompt tokens carry no loss, and a saved folder loads back in transformers."""
import json
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import world_pretrain as wp  # noqa: E402

TEXTS = [
    "Compute (17+25)*3-8.\n<think>\n17+25=42. Now 42*3-8.\n\n42*3=126. Now 126-8.\n\n126-8=118.\n\nSo the answer is 118.\n</think>\n\nThe answer is \\boxed{118}."
] * 50 + ["ones 9+6=15, tens 2+5+1=8, hundreds 7+8=15, thousands 4+3+1=8. So 4729+3856=8585."] * 50


def test_tokenizer_digits_single_and_think_tags_whole():
    tok = wp.train_tokenizer(TEXTS, 300)
    fast = wp.wrap_tokenizer(tok)
    for number in ["4729", "1000000", "8585"]:
        ids = fast(number, add_special_tokens=False)["input_ids"]
        assert len(ids) == len(number)
    ids = fast("<think>\nx\n</think>", add_special_tokens=False)["input_ids"]
    assert ids[0] == fast.convert_tokens_to_ids("<think>")
    assert ids[-1] == fast.convert_tokens_to_ids("</think>")
    assert fast.decode(fast(TEXTS[0], add_special_tokens=False)["input_ids"]) == TEXTS[0]


def test_chat_template_and_prompt_masking(tmp_path):
    fast = wp.wrap_tokenizer(wp.train_tokenizer(TEXTS, 300))
    text = fast.apply_chat_template([{"role": "user", "content": "Compute 2+3."}], add_generation_prompt=True, tokenize=False)
    assert text == "<|user|>Compute 2+3.<|assistant|>"
    rows = [{"user": "Compute 2+3.", "response": "<think>\n2+3=5.\n</think>\n\nThe answer is \\boxed{5}."}, {"prompt": "User: Compute 2+3.\nAssistant: <think>\n", "response": "2+3=5."}]
    examples = wp.encode_examples(fast, rows)
    eos = fast.convert_tokens_to_ids(wp.EOS)
    for (ids, plen, masked), row in zip(examples, rows):
        assert masked == []
        assert ids[-1] == eos
        assert fast.decode(ids[plen:-1]) == row["response"]
    ids, labels, _ = wp.collate(examples, [0, 1], eos)
    assert (labels[0, : examples[0][1]] == -100).all()
    assert labels[0, examples[0][1]].item() == examples[0][0][examples[0][1]]
    batches = wp.make_batches(examples * 10, 64, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(20))


def test_masked_error_spans_carry_no_loss():
    """A deliberate error (`masked` character spans of the response) is context, never a target."""
    fast = wp.wrap_tokenizer(wp.train_tokenizer(TEXTS, 300))
    response = "<think>\n47*8=386. Now 386+5.\n\nCheck: 47*8=376, not 386. Now 376+5.\n</think>"
    start = response.index("386")
    rows = [{"user": "Compute 47*8+5.", "response": response, "masked": [[start, start + 3]]}]
    (ids, plen, masked), = wp.encode_examples(fast, rows)
    # Digits are single tokens: exactly the three digits of the first 386 are masked.
    assert [fast.decode([ids[i]]) for i in masked] == ["3", "8", "6"]
    assert all(i >= plen for i in masked)
    _, labels, _ = wp.collate([(ids, plen, masked)], [0], fast.convert_tokens_to_ids(wp.EOS))
    assert (labels[0, masked] == -100).all()
    # Everything else of the response, the later copies of 386 included, is trained on.
    trained = [i for i in range(plen, len(ids)) if i not in masked]
    assert (labels[0, trained] == torch.tensor([ids[i] for i in trained])).all()


def test_saved_folder_loads_in_transformers(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    fast = wp.wrap_tokenizer(wp.train_tokenizer(TEXTS, 300))
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False,
                         eos_token_id=fast.convert_tokens_to_ids(wp.EOS), pad_token_id=fast.convert_tokens_to_ids(wp.EOS))
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    wp.save(model, fast, config, tmp_path)
    tc = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert tc["chat_template"] == wp.CHAT_TEMPLATE
    back = AutoModelForCausalLM.from_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    ids = torch.tensor([tok(TEXTS[0], add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, back(input_ids=ids).logits, atol=1e-5)


def _tiny_corpus(path: Path) -> None:
    path.mkdir(parents=True)
    rows = [
        {"id": f"t{i}", "question": f"Compute {i}+{i + 3}.", "user": f"Compute {i}+{i + 3}.", "response": f"<think>\n{i}+{i + 3}={2 * i + 3}.\n</think>\n\nThe answer is \\boxed{{{2 * i + 3}}}."}
        for i in range(200)
    ]
    (path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "heldout.jsonl").write_text(json.dumps({"id": "h0", "question": "Compute 1000+1.", "answer": 1001}) + "\n")


def test_a_stopped_run_resumes_to_the_same_model(tmp_path):
    """SIGKILL after a checkpoint, start again with the same arguments: the same weights as an uninterrupted run."""
    import os
    import signal
    import subprocess
    import time

    corpus = tmp_path / "corpus"
    _tiny_corpus(corpus)
    script = str(Path(wp.__file__))
    common = ["--corpus", str(corpus), "--vocab-size", "300", "--hidden", "32", "--layers", "2", "--heads", "2", "--intermediate", "64",
              "--max-positions", "128", "--tokens-per-batch", "256", "--steps", "60", "--warmup", "5", "--threads", "1", "--checkpoint-every", "5"]

    def run(out: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, script, *common, "--out", str(out)], capture_output=True, text=True, timeout=900, check=True)

    run(tmp_path / "straight")
    out = tmp_path / "resumed"
    ckpt = Path(f"{out}.ckpt")
    proc = subprocess.Popen([sys.executable, script, *common, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "the run finished (or never checkpointed) before it could be stopped"
    again = run(out)
    assert "resuming from" in again.stdout
    assert not ckpt.exists()
    assert (out / "model.safetensors").read_bytes() == (tmp_path / "straight" / "model.safetensors").read_bytes()
