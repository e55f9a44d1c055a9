"""Load trained models from their folders (config.json + model.safetensors): no pickle involved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s2f.errors import InputError
from s2f.models.networks import DecoderConfig, EncoderConfig, FaceDecoder, VoiceEncoder, VoiceEnsemble
from s2f.models.store import load_config, load_weights


def load_decoder(directory: str | Path) -> tuple[FaceDecoder, dict[str, Any]]:
    config = load_config(directory)
    arch = {**config["arch"], "channels": tuple(config["arch"]["channels"])}
    return load_weights(FaceDecoder(DecoderConfig(**arch)), directory), config


def load_encoder(directory: str | Path) -> tuple[VoiceEnsemble, dict[str, Any]]:
    config = load_config(directory)
    if "members" not in config:  # saved before encoders were ensembles and widened
        raise InputError(f"{directory}: a voice encoder saved by an older s2f; retrain it with `dvc repro train_voice`")
    members = [VoiceEncoder(EncoderConfig(**config["arch"])) for _ in range(config["members"])]
    return load_weights(VoiceEnsemble(members), directory), config
