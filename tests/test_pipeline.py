"""End to end: `dvc repro` runs the Prefect flows on tiny params; unchanged inputs rerun nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.env import configure
from s2f.evaluate.results import EvaluationResults, SeedResults
from s2f.tables import read_dataset
from tests.conftest import PROJECT, bin_first_env, copy_project

pytestmark = pytest.mark.slow

# Threads, not the default process pool: on 2-3 tiny shards a stage's pool start-up (spawned workers importing
# Prefect and torch) is pure overhead, paid 7 times here. Each runner's tables are checked against the library's
# in test_runners.py, and a real `s2f run` on the process pool is interrupted in test_processes.py.
TINY = {"runner": {"kind": "threads", "workers": 2},
        "synth": {"speakers": 5, "clips_per_speaker": 1, "seconds": 2.0, "size": 128},
        "ingest": {"shard_size": 2, "split": {"train": 0.4, "val": 0.2, "test": 0.4}},
        "faces": {"shard_size": 2}, "audio": {"seconds": 2.0, "shard_size": 2},
        "face_model": {"epochs": 1, "batch_size": 4},
        "voice_model": {"epochs": 1, "frames": 100, "batch_size": 2},
        "evaluate": {"seconds": [1.0, 2.0], "grid_speakers": 2}, "reproduce": {"runs": 2}}
STAGES = ("synth", "ingest", "faces", "audio", "train_face", "train_voice", "evaluate")


def tiny_params() -> dict:
    """The project's params.yaml (dvc.yaml templates read it) with tiny sizes."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    return params


@pytest.fixture(scope="module")
def prefect_api(prefect_api_url: str):
    """The run's Prefect server for every stage process the tests start (PREFECT_API_URL), as `make server` gives
    a user: without it each `s2f run STAGE` starts a temporary server of its own (~7 s a process)."""
    configure()  # DVC's and Prefect's telemetry off for the dvc and s2f processes, as under `make`
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PREFECT_API_URL", prefect_api_url)
        yield


def _dvc(*args: str, cwd: Path) -> str:
    done = subprocess.run(["dvc", *args], cwd=cwd, env=bin_first_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the pipeline definition and the code it depends on, with tiny params."""
    copy_project(tmp_path, ("dvc.yaml", "s2f", "flows"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    _dvc("init", "--no-scm", "-q", cwd=tmp_path)
    return tmp_path


def _pipeline(cwd: Path) -> subprocess.Popen:
    """`s2f pipeline` (the flow a schedule runs) as its own process, in the project folder."""
    return subprocess.Popen([str(Path(sys.executable).parent / "s2f"), "pipeline"], cwd=cwd, env=bin_first_env(),
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


def test_pipeline_flow_runs_what_changed_once_pushes_and_pulls(prefect_api, project: Path, tmp_path_factory):
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
    assert json.loads((project / "models/voice_encoder/config.json").read_text())["trained_on"] == "synth"
    metrics = json.loads(_dvc("metrics", "show", "--json", cwd=project))
    assert "val_loss" in json.dumps(metrics) and "val_l1" in json.dumps(metrics) and "R@10" in json.dumps(metrics)
    report = json.loads((project / "reports/metrics.json").read_text())
    assert report["test"] == {"clips": 2, "speakers": 2, "pool": 2}
    for length in ("1s", "2s"):
        assert set(report[length]) == {"voice", "chance", "mean", "resemblyzer"}
        for scores in report[length].values():  # in a pool of 2, the true face is always in the top 2
            assert scores["retrieval"]["cosine"]["R@2"] == 1.0 and 0 <= scores["retrieval"]["cosine"]["R@1"] <= 1
            assert 0 <= scores["matching"]["1:2"] <= 1 and scores["image_retrieval"]["R@2"] == 1.0
    html = (project / "reports/report.html").read_text()
    assert "resemblyzer + ridge" in html and html.count("data:image/png;base64,") >= 3 and "1:2 matching" in html
    assert html.count("<table") >= 4 and "&lt;table" not in html  # tables as HTML; text autoescaped around them
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch
    assert "Not measured for these models yet: the tables above are one training" in html  # no make reproduce
    assert (project / "reports/faces_grid.png").is_file() and (project / "models/attributes.json").is_file()

    # The flow pushed every output; a copy without outputs or cache pulls them back identical.
    before = {**_hashes(project / "data"), **_hashes(project / "models")}
    shutil.rmtree(project / "data")
    shutil.rmtree(project / "models")
    shutil.rmtree(project / ".dvc" / "cache")
    _dvc("pull", cwd=project)
    assert {**_hashes(project / "data"), **_hashes(project / "models")} == before

    # Two runs at once after a change: one runs the stages, the other waits for it and finds nothing to do (so
    # unchanged inputs rerun nothing). The change is to evaluate and to an ingest param that leaves the clips as
    # they were: ingest reruns, faces and audio rerun but find every shard done (their parts untouched), training
    # is not repeated.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["evaluate"]["grid_speakers"] = 1
    params["ingest"]["min_seconds"] = 1.0
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    grid = (project / "reports/faces_grid.png").read_bytes()
    parts = {p: p.stat().st_mtime_ns for p in (project / "data/processed/faces").glob("part-*")}
    outputs = sorted(_finish(p) for p in [_pipeline(project), _pipeline(project)])
    assert [_ran(out) for out in outputs if "nothing to do" not in out] == [{"ingest", "faces", "audio", "evaluate"}]
    assert sum("nothing to do" in out for out in outputs) == 1
    assert {p: p.stat().st_mtime_ns for p in (project / "data/processed/faces").glob("part-*")} == parts
    assert (project / "reports/faces_grid.png").read_bytes() != grid  # one speaker now
    assert "changed" not in _dvc("status", "evaluate", "--with-deps", cwd=project)  # nothing half-written

    # make reproduce: one more training of both models from the next seeds, evaluated on the same test queries;
    # seeds.json gives each headline metric over both runs. `make run`'s models are run 0, not trained again.
    decoder = (project / "models/face_decoder/model.safetensors").read_bytes()
    _dvc("repro", "reproduce", cwd=project)
    seeds = SeedResults.read(project / "reports/seeds.json", EvaluationResults.read(project / "reports/metrics.json"))
    assert seeds.runs == 2 and seeds.seeds == [{"face_model": 0, "voice_model": 0}, {"face_model": 1, "voice_model": 1}]
    assert json.loads((project / "runs/run1/voice_encoder/config.json").read_text())["params"]["seed"] == 1
    assert (project / "runs/run1/face_decoder/model.safetensors").read_bytes() != decoder
    assert (project / "models/face_decoder/model.safetensors").read_bytes() == decoder
    assert seeds.queries == 2 and set(seeds.lengths) == {"1s", "2s", "f2f"}
    for length, by_method in seeds.lengths.items():  # the voice methods per audio length, and the decoder's F2F
        assert set(by_method) == ({"decoder"} if length == "f2f" else {"voice", "chance", "mean", "resemblyzer"})
        assert all(e.lo <= e.mean <= e.hi for by_metric in by_method.values() for e in by_metric.values())
    assert set(seeds.lengths["f2f"]["decoder"]) == set(seeds.lengths["2s"]["voice"]) | {"sharpness"}
    assert set(seeds.comparisons["2s"]) == {"voice - chance", "voice - mean", "voice - resemblyzer"}
    html = (project / "reports/report.html").read_text()  # rendered again with the seeds section
    assert "2 trainings of both models" in html and "land inside the interval in" in html
    assert "changed" not in _dvc("status", cwd=project)

    run_doc_blocks(project, tmp_path_factory.mktemp("docs"))


def run_doc_blocks(project: Path, tmp: Path) -> None:
    """The docs' command blocks that need a project with trained models and reports, as written (test_docs.py's
    RUN_BY): the inputs they name are made here, placeholders swapped for this project's folders."""
    from tests.conftest import espeak_wav
    from tests.test_docs import run_block

    video = sorted((project / "data/raw/synth/mp4").rglob("*.mp4"))[0]  # a drawn face, looped under real speech
    speech = espeak_wav(project / "speech.wav", "The quick brown fox jumps over the lazy dog, and then it rests "
                                                "for a while in the warm afternoon sun.")
    ffmpeg = ["ffmpeg", "-v", "error", "-y"]
    subprocess.run([*ffmpeg, "-stream_loop", "-1", "-i", str(video), "-i", str(speech), "-map", "0:v", "-map",
                    "1:a", "-shortest", "-c:v", "libx264", "-c:a", "aac", str(project / "clip.mp4")], check=True)
    subprocess.run([*ffmpeg, "-i", str(speech), "-c:a", "aac", str(project / "talk.m4a")], check=True)
    (project / "clips").mkdir()
    for name in ("interview.mp4", "clips/a.mp4", "clips/b.mp4"):
        shutil.copy(project / "clip.mp4", project / name)
    run_block("s2f predict clip.mp4", project, {"/path/to/models": str(project / "models")})
    for made in ("clip.face.png", "face.png", "interview.face.png", "interview.face.compare.png", "speech.face.png",
                 "faces/a.face.png", "faces/b.face.png"):
        assert (project / made).stat().st_size > 1000, made

    run_block("s2f contact-sheet", project, {"/tmp/real/faces": "data/processed/faces"})
    assert (project / "reports/contact_sheet.png").is_file() and (project / "real.png").is_file()
    # dvc metrics diff compares with the last git commit: the project becomes a git repository with one
    subprocess.run("git init -q && git add dvc.yaml dvc.lock params.yaml && git -c user.name=s2f "
                   "-c user.email=s2f@localhost commit -q -m tiny", shell=True, cwd=project, check=True)
    _dvc("config", "core.no_scm", "false", cwd=project)
    (shown,) = run_block("dvc metrics show", project)
    assert "val_loss" in shown
    assert (project / "reports/dvc_plots/index.html").is_file() and (project / "reports/face_grid_val.png").is_file()

    out = tmp / "ablation/infonce_only/seed0"
    run_block("out=/tmp/ablation/infonce_only/seed0", project, {"/tmp/": f"{tmp}/"})
    card = json.loads((out / "model/config.json").read_text())
    assert card["params"]["loss"]["standardized_l2"] == 0 and (out / "reports/metrics.json").is_file()

    videos = tmp / "videos"  # /data/videos: a folder of people, one subfolder each
    for i, clip in enumerate(sorted((project / "data/raw/synth/mp4").rglob("*.mp4"))):
        person = videos / f"person{i % 3}"
        person.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, person / f"{i}.mp4")
    shutil.copy(project / "params.yaml", project / "my_params.yaml")
    run_block("s2f run synth --set synth.speakers=10", project, {"/data/videos": str(videos)})
    assert len(list((project / "data/raw/synth/mp4").iterdir())) == 10
    clips = read_dataset(project / "data/processed/clips")
    assert set(clips.source) == {"folder"} and set(clips.speaker_id) == {"person0", "person1", "person2"}
