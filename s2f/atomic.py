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

_UNDER_WAY: set[Path] = set()  # this process's temporary files and staging folders not yet renamed or removed


def discard_under_way() -> None:
    """Remove the temporary files and staging folders of this process's writes that ended in an exception, once
    nothing writes there any more. An interrupted stage's `finally` removes them while its worker processes may
    still be writing (on SIGTERM, Prefect unwinds the flow before the stage's handler stops the workers), so a
    worker can recreate a folder after it; the stage calls this after stopping them."""
    for path in list(_UNDER_WAY):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        _UNDER_WAY.discard(path)


def _beside(path: Path, tag: str) -> Path:
    """A unique hidden sibling of `path` that keeps its extension (cv2 and ffmpeg pick the format by it)."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex}.{tag}{path.suffix}")


_ANY_LEFTOVER = re.compile(r"\..+\.[0-9a-f]{32}\.(tmp|staging|old)(\.[^.]+)?")


def remove_leftovers(path: str | Path) -> None:
    """Remove what killed writes left at an output `path`: its own `_beside` copies next to it and, if it is a
    folder, every `_beside` name inside it. A stage's worker processes write with their own `_UNDER_WAY`, which the
    stage process cannot see: once it has killed them, it sweeps its outputs with this."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    found = [p for tag in ("tmp", "staging", "old") for p in _leftovers(path, tag)]
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                if _ANY_LEFTOVER.fullmatch(name):
                    found.append(Path(root, name))
            dirs[:] = [d for d in dirs if not _ANY_LEFTOVER.fullmatch(d)]
    for leftover in found:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


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
    _UNDER_WAY.add(tmp)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _UNDER_WAY.discard(tmp)  # kept on an exception, for discard_under_way
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
    _UNDER_WAY.add(staging)
    old = _beside(path, "old")
    try:
        fill(staging)
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    _UNDER_WAY.discard(staging)  # kept on an exception, for discard_under_way
    return path
