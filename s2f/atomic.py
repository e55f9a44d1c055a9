"""Atomic writes: build a file or a directory beside its target under a unique temporary name, then rename it
into place, so an interrupted run leaves the old output or the new one, never half of one that a rerun would
trust."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable


def _beside(path: Path, tag: str) -> Path:
    """A unique hidden sibling of `path` that keeps its extension (cv2 and ffmpeg pick the format by it)."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex}.{tag}{path.suffix}")


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` to fill a temporary file next to `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _beside(path, "tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_dir(path: str | Path, fill: Callable[[Path], object]) -> Path:
    """Call `fill(staging)` on a new directory next to `path`, then swap it in for `path` as a whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _beside(path, "staging")
    staging.mkdir()
    old = _beside(path, "old")
    try:
        fill(staging)
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path
