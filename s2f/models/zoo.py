"""Load trained models from their folders (config.json + model.safetensors): no pickle involved.

Whatever is wrong with a folder (a missing or non-JSON config, another kind of model, truncated or foreign
weights) is one InputError naming the file and the stage that remakes it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

from s2f.errors import InputError
from s2f.models.networks import DecoderConfig, EncoderConfig, FaceDecoder, VoiceEncoder
from s2f.models.store import CONFIG, WEIGHTS, ModelCard

# kind -> (what it is called, the stage that writes it)
KINDS = {"face_decoder": ("face decoder", "train_face"), "voice_encoder": ("voice encoder", "train_voice")}


def read_card(directory: str | Path, kind: str) -> ModelCard:
    """The model card (config.json) of a trained `kind` model, checked against the schema."""
    what, stage = KINDS[kind]
    fix = f"remake it with `dvc repro {stage}`"
    config_path = Path(directory) / CONFIG
    if not config_path.is_file():
        raise InputError(f"no trained {what} at {directory} (no {CONFIG}): run `make run` first, or {fix}")
    try:
        raw = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{config_path}: not valid JSON ({err}); {fix}") from None
    if not isinstance(raw, dict) or raw.get("model", kind) != kind:
        found = raw.get("model") if isinstance(raw, dict) else type(raw).__name__
        raise InputError(f"{config_path}: not a {what} (it describes {found!r}); {fix}")
    try:
        return ModelCard.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{config_path}: not a {what}'s config ({key}: {first['msg'].lower()}; written by an older "
                         f"s2f?); {fix}") from None


def _load(directory: str | Path, kind: str, build: Callable[[ModelCard], nn.Module],
          check_only: bool = False) -> tuple[Any, ModelCard]:
    what, stage = KINDS[kind]
    fix = f"remake it with `dvc repro {stage}`"
    card = read_card(directory, kind)
    config_path, weights = Path(directory) / CONFIG, Path(directory) / WEIGHTS
    try:
        with torch.device("meta") if check_only else contextlib.nullcontext():  # meta: shapes, no memory
            model = build(card)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{config_path}: not a {what}'s config ({type(err).__name__}: {err}); {fix}") from None
    if not weights.is_file():
        raise InputError(f"{weights}: missing; {fix}")
    try:
        if check_only:  # the header only (safetensors checks it against the file's length)
            with safe_open(str(weights), "pt") as f:
                shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        else:
            state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"{weights}: damaged ({err}); {fix}") from None
    misfit = InputError(f"{weights}: its tensors do not fit {config_path} (another model's weights?); {fix}")
    if check_only:
        if shapes != {k: tuple(v.shape) for k, v in model.state_dict().items()}:
            raise misfit
        return None, card
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise misfit from None
    return model.eval(), card


def check_model(directory: str | Path, kind: str) -> ModelCard:
    """What loading would find wrong with a model folder, found without loading its weights (the header's
    tensor names and shapes against the card's architecture); returns the card."""
    return _load(directory, kind, _encoder if kind == "voice_encoder" else _decoder, check_only=True)[1]


def _decoder(card: ModelCard) -> FaceDecoder:
    return FaceDecoder(DecoderConfig(**{**card.arch, "channels": tuple(card.arch["channels"])}))


def _encoder(card: ModelCard) -> VoiceEncoder:
    if "arch" not in card.arch:
        raise KeyError("arch (saved by an older s2f, before the encoder had architectures)")
    return VoiceEncoder(EncoderConfig(**card.arch))


def load_decoder(directory: str | Path) -> tuple[FaceDecoder, ModelCard]:
    return _load(directory, "face_decoder", _decoder)


def load_encoder(directory: str | Path) -> tuple[VoiceEncoder, ModelCard]:
    return _load(directory, "voice_encoder", _encoder)
