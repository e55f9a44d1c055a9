"""Atomic writes: build a file or a directory beside its target under a unique temporary name, then rename it
into place, so an interrupted run leaves the old output or the new one, never half of one that a rerun would
trust."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def _beside(path: Path, tag: str) -> Path:
    """A unique hidden sibling of `path` that keeps its extension (cv2 and ffmpeg pick the format by it)."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex}.{tag}{path.suffix}")


def _leftovers(path: Path, tag: str) -> list[Path]:
    """`_beside` copies of `path` that a killed run left behind; nothing else writes them while a stage holds
    DVC's lock, and an exception path already removes its own."""
    name = re.compile(rf"\.{re.escape(path.stem)}\.[0-9a-f]{{32}}\.{tag}{re.escape(path.suffix)}")
    return [p for p in path.parent.iterdir() if name.fullmatch(p.name)]


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
    for stale in _leftovers(path, "staging") + _leftovers(path, "old"):  # a killed run's, or they pile up
        shutil.rmtree(stale, ignore_errors=True)
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
