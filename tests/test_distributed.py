"""Data-parallel voice training on CPU: torchrun's processes over gloo train the model one process trains, and a
checkpoint of either resumes in the other (s2f/models/distributed.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flows.server import free_port

pytestmark = pytest.mark.slow  # torchrun starts 2 processes a run: 80 s in all here

SCRIPT = Path(__file__).with_name("ddp_train.py")


def _train(mode: str, processed: Path, out: Path, processes: int, epochs: int) -> dict[str, torch.Tensor]:
    """Run tests/ddp_train.py in `processes` processes; what process 0 saved."""
    args = [str(SCRIPT), mode, str(processed), str(out), str(epochs)]
    launch = ([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
               "--master-addr", "127.0.0.1", "--master-port", str(free_port())] if processes > 1 else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*launch, *args], check=True, capture_output=True, env=env, timeout=300)
    return torch.load(out / "model.pt")


def _more_train_clips(processed: Path, out: Path) -> Path:
    """The tiny corpus's face features and spectrograms with its test speakers moved to train: 6 train clips of 3
    speakers: batches of 4, 2 clips for each of 2 processes."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for name in ("face_features", "spectrograms"):
        shutil.copytree(processed / name, out / name)
        for part in (out / name).glob("*.parquet"):
            table = pq.read_table(part)
            split = pc.if_else(pc.equal(table["split"], "test"), "train", table["split"])
            pq.write_table(table.set_column(table.schema.get_field_index("split"), "split", split), part)
    return out


def test_two_processes_take_the_steps_one_process_takes_on_their_halves(tiny_processed: Path, tmp_path: Path):
    """Every process trains on its share of each batch with the augmentation that example gets in one process, and
    the gradients are averaged: 3 epochs in 2 processes end with the parameters of 3 epochs in one process that
    computes each half-batch's loss apart (each half with its own batch-norm statistics, as each process has) and
    averages them, up to float rounding. Without the halves the models differ: batch norm over 2 clips or 4."""
    processed = _more_train_clips(tiny_processed, tmp_path / "processed")
    two = _train("epochs", processed, tmp_path / "two", 2, 3)
    halves = _train("halves", processed, tmp_path / "halves", 1, 3)
    one = _train("epochs", processed, tmp_path / "one", 1, 3)
    for name, param in two.items():
        assert torch.allclose(param, halves[name], rtol=1e-4, atol=1e-5), name
    assert any(not torch.allclose(param, one[name], rtol=1e-4, atol=1e-5) for name, param in two.items())


def test_a_checkpoint_of_two_processes_resumes_in_one_and_one_of_one_in_two(tiny_processed: Path, tmp_path: Path):
    processed = _more_train_clips(tiny_processed, tmp_path / "processed")
    for first, then in ((2, 1), (1, 2)):
        out = tmp_path / f"{first}then{then}"
        _train("stage", processed, out / "first", first, 2)
        assert json.loads((out / "first" / "epochs.json").read_text()) == [0, 1]
        (out / "then" / "ck").mkdir(parents=True)  # the checkpoint as a run killed after epoch 0 leaves it
        shutil.copy(out / "first" / "epoch0.pt", out / "then" / "ck" / next((out / "first" / "ck").glob("*.pt")).name)
        resumed = _train("stage", processed, out / "then", then, 2)
        assert json.loads((out / "then" / "epochs.json").read_text()) == [1]  # it went on from epoch 1
        assert all(torch.isfinite(v).all() for v in resumed.values() if v.is_floating_point())
