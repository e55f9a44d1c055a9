"""Atomic writes and the Parquet list columns that hold spectrograms and features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from s2f.atomic import atomic_dir, atomic_write, remove_leftovers
from s2f.images import write_png
from s2f.tables import list_arrays, list_column


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "face.png"
    target.write_bytes(b"old")

    def fail(tmp: Path) -> None:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"  # format-sniffing writers see the extension
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["face.png"]


def test_png_written_through_a_temp_file_is_a_png(tmp_path: Path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    path = write_png(rgb, tmp_path / "sub" / "grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]


def test_failed_directory_fill_keeps_the_old_directory(tmp_path: Path):
    target = atomic_dir(tmp_path / "corpus", lambda d: (d / "a.txt").write_text("1"))

    def fail(staging: Path) -> None:
        (staging / "b.txt").write_text("2")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_dir(target, fail)
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]
    atomic_dir(target, lambda d: (d / "b.txt").write_text("2"))
    assert [p.name for p in target.iterdir()] == ["b.txt"]


def test_directory_write_clears_what_a_killed_run_left_and_nothing_else(tmp_path: Path):
    killed = [tmp_path / f".corpus.{'a' * 32}.staging", tmp_path / f".corpus.{'b' * 32}.old"]
    kept = [tmp_path / f".corpus2.{'c' * 32}.staging", tmp_path / ".corpus.notes.staging"]
    for d in killed + kept:
        d.mkdir()
        (d / "half.mp4").write_bytes(b"half")
    atomic_dir(tmp_path / "corpus", lambda d: (d / "a.txt").write_text("1"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["corpus", *(d.name for d in kept)])
    assert [p.name for p in (tmp_path / "corpus").iterdir()] == ["a.txt"]


def test_leftovers_of_killed_writes_are_swept_from_an_output_and_nothing_else(tmp_path: Path):
    """What a stage process sweeps from its outputs once it has killed its workers, or before a rerun starts."""
    faces, model = tmp_path / "faces", tmp_path / "model"
    hexes = iter(f"{i:x}" * 32 for i in range(10))
    killed = [faces / f".part-abc.{next(hexes)}.tmp.parquet", model / "sub" / f".weights.{next(hexes)}.tmp.bin",
              tmp_path / f".faces.{next(hexes)}.staging", tmp_path / f".model.{next(hexes)}.old"]
    kept = [faces / "part-abc.parquet", faces / ".notes.tmp", model / "sub" / "weights.bin",
            tmp_path / f".faces2.{next(hexes)}.staging", tmp_path / "other" / f".x.{next(hexes)}.tmp.csv"]
    for path in killed + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".staging", ".old"):
            path.mkdir()
            (path / "half.parquet").write_bytes(b"half")
        else:
            path.write_bytes(b"half")
    for output in (faces, model, tmp_path / "missing" / "out"):
        remove_leftovers(output)
    assert not any(p.exists() for p in killed)
    assert all(p.exists() for p in kept)


def test_list_arrays_inverts_list_column():
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.full((1, 4), 7.5, np.float32)]
    batch = pa.RecordBatch.from_arrays([list_column(arrays, pa.float16()), pa.array([list(a.shape) for a in arrays])],
                                       names=["values", "shape"])
    back = list_arrays(batch)
    assert [b.shape for b in back] == [(2, 3), (1, 4)]
    for a, b in zip(arrays, back, strict=True):
        np.testing.assert_array_equal(b.astype(np.float32), a)
