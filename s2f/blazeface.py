"""The BlazeFace short-range detector model, fetched once from the mediapipe 0.10.21 wheel and checked by hash.

mediapipe >= 1.0 ships no model files; the 0.10.21 wheel carries the one the Tasks FaceDetector needs.
Set-up fetches it (`python -m s2f.blazeface`); the stages only check it (`require_model`) and never download.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from s2f.atomic import atomic_write_bytes
from s2f.errors import InputError
from s2f.hashing import sha256_file

MODEL_NAME = "face_detection_short_range.tflite"
MODEL_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
WHEEL_SPEC = "mediapipe==0.10.21"
WHEEL_MEMBER = f"mediapipe/modules/face_detection/{MODEL_NAME}"


def cache_dir() -> Path:
    """Where downloaded model files live: $S2F_CACHE, else .cache/models in the project."""
    return Path(os.environ.get("S2F_CACHE", Path(__file__).resolve().parents[1] / ".cache" / "models"))


def model_path() -> Path:
    return cache_dir() / MODEL_NAME


def require_model(dest: Path | None = None) -> Path:
    """The verified model path; InputError (no download at run time) when it is missing or not the right file."""
    dest = dest or model_path()
    if not dest.is_file():
        raise InputError(f"{dest}: the BlazeFace face detector model is missing; fetch it with `make setup`")
    if sha256_file(dest) != MODEL_SHA256:
        raise InputError(f"{dest}: not the BlazeFace model s2f expects (SHA-256 differs); delete it and run "
                         "`make setup`")
    return dest


def ensure_model(dest: Path | None = None) -> Path:
    """Set-up: return the verified model path, downloading the wheel and extracting the model if needed."""
    dest = dest or model_path()
    if dest.exists() and sha256_file(dest) == MODEL_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp, WHEEL_SPEC],
            check=True,
        )
        (wheel,) = Path(tmp).glob("mediapipe-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(WHEEL_MEMBER)
    got = hashlib.sha256(data).hexdigest()
    if got != MODEL_SHA256:
        raise RuntimeError(f"{MODEL_NAME} from {WHEEL_SPEC} has SHA-256 {got}, expected {MODEL_SHA256}")
    return atomic_write_bytes(dest, data)


if __name__ == "__main__":
    print(f"[setup] {MODEL_NAME}: {ensure_model()} (sha256 ok)")
