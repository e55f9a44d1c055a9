"""End to end: `dvc repro` runs the Prefect flows on tiny params; unchanged inputs rerun nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from s2f.tables import read_dataset
from tests.conftest import PROJECT

pytestmark = pytest.mark.slow

TINY = {"synth": {"speakers": 3, "clips_per_speaker": 1, "seconds": 2.0, "size": 128}, "ingest": {"shard_size": 2},
        "faces": {"shard_size": 2}, "audio": {"seconds": 2.0, "shard_size": 2},
        "face_model": {"epochs": 1, "batch_size": 4},
        "voice_model": {"epochs": 1, "frames": 100, "batch_size": 2, "identity_steps": 20}}
STAGES = ("synth", "ingest", "faces", "audio", "train_face", "train_voice")


def tiny_params() -> dict:
    """The project's params.yaml (dvc.yaml templates read it) with tiny sizes."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    return params


def _dvc(*args: str, cwd: Path) -> str:
    """Run dvc with this environment's bin first on PATH (the stages call the `s2f` script)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _repro(cwd: Path) -> str:
    return _dvc("repro", cwd=cwd)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the pipeline definition and the code it depends on, with tiny params."""
    for name in ("dvc.yaml", "s2f", "flows"):
        src = PROJECT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    _dvc("init", "--no-scm", "-q", cwd=tmp_path)
    return tmp_path


def test_dvc_repro_runs_stages_then_only_what_changed(project: Path):
    first = _repro(project)
    assert all(f"Running stage '{s}'" in first for s in STAGES)
    clips = read_dataset(project / "data/processed/clips")
    assert len(clips) == 3 and set(clips.split) == {"train", "val", "test"}
    assert read_dataset(project / "data/processed/clips_rejects").empty
    assert set(read_dataset(project / "data/processed/face_features").clip_id) == set(clips.clip_id)
    assert set(read_dataset(project / "data/processed/spectrograms").clip_id) == set(clips.clip_id)
    for model in ("face_decoder", "voice_encoder"):
        config = json.loads((project / "models" / model / "config.json").read_text())
        assert (project / "models" / model / "model.safetensors").is_file() and config["data_version"]
    metrics = json.loads(_dvc("metrics", "show", "--json", cwd=project))
    assert "val_loss" in json.dumps(metrics) and "val_l1" in json.dumps(metrics)

    second = _repro(project)
    assert "Running stage" not in second

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["synth"]["speakers"] = 4
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    third = _repro(project)
    assert all(f"Running stage '{s}'" in third for s in STAGES)
    assert len(read_dataset(project / "data/processed/face_features")) == 4

    # An ingest change that leaves the clips as they were: ingest reruns, faces and audio find every shard done.
    parts = {p: p.stat().st_mtime_ns for p in (project / "data/processed/faces").glob("part-*")}
    params["ingest"]["min_seconds"] = 1.0
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    fourth = _repro(project)
    assert "Running stage 'ingest'" in fourth and "Running stage 'synth'" not in fourth
    assert {p: p.stat().st_mtime_ns for p in (project / "data/processed/faces").glob("part-*")} == parts
    assert "Running stage 'train_face'" not in fourth and "Running stage 'train_voice'" not in fourth
