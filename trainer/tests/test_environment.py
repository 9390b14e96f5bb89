"""The venv holds the reference libraries the TypeScript tests call; fail loudly if one is missing."""
import importlib


def test_reference_libraries_import():
    for name in ["torch", "transformers", "math_verify", "safetensors", "tokenizers"]:
        importlib.import_module(name)


def test_torch_runs_on_cpu():
    import torch

    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert torch.allclose(x @ x.T, torch.tensor([[5.0, 14.0], [14.0, 50.0]]))
