"""Load trained models from their folders (config.json + model.safetensors): no pickle involved.

Whatever is wrong with a folder (a missing or non-JSON config, another kind of model, truncated or foreign
weights) is one InputError naming the file and the stage that remakes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from s2f.errors import InputError
from s2f.models.networks import DecoderConfig, EncoderConfig, FaceDecoder, VoiceEncoder, VoiceEnsemble
from s2f.models.store import CONFIG, WEIGHTS

# kind -> (what it is called, the stage that writes it)
KINDS = {"face_decoder": ("face decoder", "train_face"), "voice_encoder": ("voice encoder", "train_voice")}


def _load(directory: str | Path, kind: str, build: Callable[[dict[str, Any]], nn.Module]) -> tuple[Any, dict]:
    what, stage = KINDS[kind]
    fix = f"remake it with `dvc repro {stage}`"
    config_path, weights = Path(directory) / CONFIG, Path(directory) / WEIGHTS
    if not config_path.is_file():
        raise InputError(f"no trained {what} at {directory} (no {CONFIG}): run `make run` first, or {fix}")
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{config_path}: not valid JSON ({err}); {fix}") from None
    if not isinstance(config, dict) or config.get("model", kind) != kind:
        found = config.get("model") if isinstance(config, dict) else type(config).__name__
        raise InputError(f"{config_path}: not a {what} (it describes {found!r}); {fix}")
    try:
        model = build(config)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{config_path}: not a {what}'s config ({type(err).__name__}: {err}); {fix}") from None
    if not weights.is_file():
        raise InputError(f"{weights}: missing; {fix}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"{weights}: damaged ({err}); {fix}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise InputError(f"{weights}: its tensors do not fit {config_path} (another model's weights?); {fix}") \
            from None
    return model.eval(), config


def _decoder(config: dict[str, Any]) -> FaceDecoder:
    return FaceDecoder(DecoderConfig(**{**config["arch"], "channels": tuple(config["arch"]["channels"])}))


def _encoder(config: dict[str, Any]) -> VoiceEnsemble:
    if "members" not in config:
        raise KeyError("members (saved by an older s2f, before encoders were ensembles)")
    return VoiceEnsemble([VoiceEncoder(EncoderConfig(**config["arch"])) for _ in range(int(config["members"]))])


def load_decoder(directory: str | Path) -> tuple[FaceDecoder, dict[str, Any]]:
    return _load(directory, "face_decoder", _decoder)


def load_encoder(directory: str | Path) -> tuple[VoiceEnsemble, dict[str, Any]]:
    return _load(directory, "voice_encoder", _encoder)
