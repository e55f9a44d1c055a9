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

from flows.env import configure
from s2f.tables import read_dataset
from tests.conftest import PROJECT

pytestmark = pytest.mark.slow

TINY = {"synth": {"speakers": 5, "clips_per_speaker": 1, "seconds": 2.0, "size": 128},
        "ingest": {"shard_size": 2, "split": {"train": 0.4, "val": 0.2, "test": 0.4}},
        "faces": {"shard_size": 2}, "audio": {"seconds": 2.0, "shard_size": 2},
        "face_model": {"epochs": 1, "batch_size": 4},
        "voice_model": {"epochs": 1, "frames": 100, "batch_size": 2, "identity_steps": 20, "members": 2},
        "evaluate": {"seconds": [1.0, 2.0], "grid_speakers": 2}}
STAGES = ("synth", "ingest", "faces", "audio", "train_face", "train_voice", "evaluate")


def tiny_params() -> dict:
    """The project's params.yaml (dvc.yaml templates read it) with tiny sizes."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    return params


@pytest.fixture(scope="module", autouse=True)
def prefect_api():
    """One Prefect server for every stage process the tests start (PREFECT_API_URL), as `make server` gives a
    user: without it each `s2f run STAGE` starts a temporary server of its own (~7 s a process)."""
    configure()
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        os.environ["PREFECT_API_URL"] = PREFECT_API_URL.value()
        try:
            yield
        finally:
            del os.environ["PREFECT_API_URL"]


def _env() -> dict[str, str]:
    """This environment's bin first on PATH (the stages call the `s2f` script)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _dvc(*args: str, cwd: Path) -> str:
    done = subprocess.run(["dvc", *args], cwd=cwd, env=_env(), capture_output=True, text=True)
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


def _pipeline(cwd: Path) -> subprocess.Popen:
    """`s2f pipeline` (the flow a schedule runs) as its own process, in the project folder."""
    return subprocess.Popen([str(Path(sys.executable).parent / "s2f"), "pipeline"], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out
    return out


def _ran(output: str) -> set[str]:
    line = next((x for x in output.splitlines() if x.startswith("ran stages: ")), "ran stages: ")
    return set(filter(None, line.removeprefix("ran stages: ").split(", ")))


def _hashes(root: Path) -> dict[str, str]:
    from s2f.hashing import sha256_file

    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_pipeline_flow_runs_what_changed_once_pushes_and_pulls(project: Path, tmp_path_factory):
    remote = tmp_path_factory.mktemp("remote")
    _dvc("remote", "add", "-d", "local", str(remote), cwd=project)
    first = _finish(_pipeline(project))
    assert _ran(first) == set(STAGES)
    clips = read_dataset(project / "data/processed/clips")
    assert len(clips) == 5 and clips.split.value_counts().to_dict() == {"train": 2, "test": 2, "val": 1}
    assert read_dataset(project / "data/processed/clips_rejects").empty
    assert set(read_dataset(project / "data/processed/face_features").clip_id) == set(clips.clip_id)
    assert set(read_dataset(project / "data/processed/spectrograms").clip_id) == set(clips.clip_id)
    for model in ("face_decoder", "voice_encoder"):
        config = json.loads((project / "models" / model / "config.json").read_text())
        assert (project / "models" / model / "model.safetensors").is_file() and config["data_version"]
    metrics = json.loads(_dvc("metrics", "show", "--json", cwd=project))
    assert "val_loss" in json.dumps(metrics) and "val_l1" in json.dumps(metrics) and "R@10" in json.dumps(metrics)
    report = json.loads((project / "reports/metrics.json").read_text())
    assert report["test"] == {"clips": 2, "speakers": 2, "pool": 2}
    for length in ("1s", "2s"):
        assert set(report[length]) == {"voice", "chance", "mean", "resemblyzer"}
        for scores in report[length].values():  # in a pool of 2, the true face is always in the top 2
            assert scores["retrieval"]["cosine"]["R@2"] == 1.0 and 0 <= scores["retrieval"]["cosine"]["R@1"] <= 1
    html = (project / "reports/report.html").read_text()
    assert "resemblyzer + ridge" in html and html.count("data:image/png;base64,") >= 3
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch
    assert (project / "reports/faces_grid.png").is_file() and (project / "models/attributes.json").is_file()

    # Nothing changed: the flow runs no stage.
    assert "nothing to do" in _finish(_pipeline(project))

    # The flow pushed every output; a copy without outputs or cache pulls them back identical.
    before = {**_hashes(project / "data"), **_hashes(project / "models")}
    shutil.rmtree(project / "data")
    shutil.rmtree(project / "models")
    shutil.rmtree(project / ".dvc" / "cache")
    _dvc("pull", cwd=project)
    assert {**_hashes(project / "data"), **_hashes(project / "models")} == before

    # Two runs at once after a change: one runs the stage, the other waits for it and finds nothing to do.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluate"]["grid_speakers"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    grid = (project / "reports/faces_grid.png").read_bytes()
    outputs = sorted(_finish(p) for p in [_pipeline(project), _pipeline(project)])
    assert sum("ran stages: evaluate\n" in out for out in outputs) == 1
    assert sum("nothing to do" in out for out in outputs) == 1
    assert (project / "reports/faces_grid.png").read_bytes() != grid  # one speaker now
    assert "changed" not in _dvc("status", cwd=project)  # outputs match dvc.lock: nothing half-written

    # An ingest change that leaves the clips as they were: ingest reruns, faces and audio find every shard done.
    parts = {p: p.stat().st_mtime_ns for p in (project / "data/processed/faces").glob("part-*")}
    params["ingest"]["min_seconds"] = 1.0
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    fourth = _repro(project)
    assert "Running stage 'ingest'" in fourth and "Running stage 'synth'" not in fourth
    assert {p: p.stat().st_mtime_ns for p in (project / "data/processed/faces").glob("part-*")} == parts
    assert "Running stage 'train_face'" not in fourth and "Running stage 'train_voice'" not in fourth


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_depends_on_the_s2f_code_its_flow_imports(stage: str):
    """A module a stage runs but dvc.yaml does not list would leave stale outputs after a code change."""
    code = (f"import sys, flows.{stage}; "
            "print(*(m.__file__ for n, m in sys.modules.items() if n.startswith('s2f') and m.__file__))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    used = {Path(f).relative_to(PROJECT) for f in done.stdout.split()}
    deps = [Path(d) for d in yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"][stage]["deps"]]
    exempt = {Path("s2f/__init__.py"), Path("s2f/config.py"), Path("s2f/errors.py")}
    missing = {f for f in used - exempt if not any(f == d or d in f.parents for d in deps)}
    assert not missing, f"dvc.yaml stage {stage} misses deps {sorted(map(str, missing))}"
