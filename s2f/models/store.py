"""Saving and loading models without pickle: safetensors weights + a JSON model card (config.json, schema
ModelCard); training checkpoints that torch loads with `weights_only=True` (tensors and plain values only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict
from safetensors.torch import save_file
from torch import nn

from s2f.atomic import atomic_write


class ModelCard(BaseModel):
    """A trained model's config.json: what it is, how it is built, what made it and how it scored on val.
    Written by the training flows and read by s2f.models.zoo, the evaluate flow, `s2f predict` and `s2f app`,
    all through to_json / from_json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["face_decoder", "voice_encoder"]
    arch: dict[str, Any]  # the network's config (DecoderConfig / EncoderConfig fields)
    params: dict[str, Any]  # its params section, as trained
    params_hash: str  # Params.section_hash of that section
    data_version: str  # the versions of the datasets it learned from
    metrics: dict[str, Any]  # val metrics at the end of training
    preset: str | None = None  # voice encoder: cpu or paper
    trained_on: str | None = None  # voice encoder: the ingest source of its data ("synth": the synthetic corpus)
    decoder: str | None = None  # voice encoder: params_hash of the frozen decoder it was trained through

    def to_json(self) -> str:
        """The file's text; keys a face decoder does not have are left out, not written as null."""
        return json.dumps({k: v for k, v in self.model_dump().items() if v is not None}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        """Raises ValueError (pydantic's ValidationError, or JSON's error) for anything else."""
        return cls.model_validate_json(text)

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def save_model(model: nn.Module, card: ModelCard, directory: str | Path) -> Path:
    """Write `model.safetensors` and `config.json` (the model card) into `directory`."""
    directory = Path(directory)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(directory / WEIGHTS, lambda p: save_file(state, str(p)))
    atomic_write(directory / CONFIG, lambda p: p.write_text(card.to_json()))
    return directory


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    atomic_write(path, lambda p: torch.save(state, p))


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any] | None:
    path = Path(path)
    return torch.load(path, weights_only=True, map_location=device) if path.is_file() else None
