"""Saving and loading models without pickle: safetensors weights + a JSON config; training checkpoints that
torch loads with `weights_only=True` (tensors and plain values only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from s2f.atomic import atomic_write

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def save_model(model: nn.Module, config: dict[str, Any], directory: str | Path) -> Path:
    """Write `model.safetensors` and `config.json` (architecture, provenance, metrics) into `directory`."""
    directory = Path(directory)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS, lambda p: save_file(state, str(p)))
    atomic_write(directory / CONFIG, lambda p: p.write_text(json.dumps(config, indent=2, sort_keys=True)))
    return directory


def load_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"no trained model at {directory} (missing {CONFIG}); run `make run` first")
    return json.loads(path.read_text())


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    atomic_write(path, lambda p: torch.save(state, p))


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any] | None:
    path = Path(path)
    return torch.load(path, weights_only=True, map_location=device) if path.is_file() else None
