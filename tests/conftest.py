"""Shared fixtures: a tiny real synthetic corpus, hand-made media files, and the real clips when present."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from s2f.config import AudioParams, FaceModelParams, FacesParams, SplitParams, SynthParams, VoiceModelParams
from tests.stages import run_stage

# The library's heavier modules (torch, sklearn, mediapipe) are imported inside the fixtures and helpers that use
# them: pytest-xdist's controller loads this file too, and runs no test.

PROJECT = Path(__file__).resolve().parents[1]
REALDATA = PROJECT.parent / "shared" / "realdata"


def pytest_configure(config: pytest.Config) -> None:
    """In the run's first process (pytest-xdist's controller, or the only one): its pid, which the workers inherit
    in their environment (the run's Prefect server ends when this process has ended)."""
    if not hasattr(config, "workerinput"):
        os.environ[_RUN_PID] = str(os.getpid())


_RUN_PID = "S2F_TEST_RUN_PID"


def _start_prefect_server(folder: Path) -> None:
    """Prefect's API server with its state (database) in `folder`, its URL in folder/url, and a watchdog
    (s2f.processes) that stops it once the run's first process has ended, SIGKILLed or not: after pytest-xdist's
    workers have ended and their Prefect clients, like the only process's, have sent their last logs."""
    from flows.env import configure
    from flows.server import serve
    from s2f.processes import REAP_TOKEN, watchdog

    configure()  # telemetry off
    token = f"s2f-tests-prefect-{os.environ[_RUN_PID]}-{uuid.uuid4().hex}"
    _, url = serve({"PREFECT_HOME": str(folder / "home"), REAP_TOKEN: token})
    watchdog(int(os.environ[_RUN_PID]), token)
    (folder / "url").write_text(url)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, the end-to-end pipeline test (the longest, a third of the suite) before them: under `make
    test` (pytest-xdist's worksteal, which hands the first worker the first half of the list) it then starts at
    once and runs beside the rest of the suite instead of after other slow tests."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, item.path.name != "test_pipeline.py"))


def shared(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """A session fixture's folder, built once per test run. Under pytest-xdist each worker is a session of its own:
    the first worker to ask builds the folder (under a file lock) and the others wait for it and reuse it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    path, built = root / f"shared-{name}", root / f"shared-{name}.built"
    with FileLock(f"{path}.lock"):
        if not built.is_file():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            build(path)
            built.touch()
    return path


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One Prefect API server for the whole test run, pytest-xdist's workers included: the first test to ask
    starts it and the others reuse it (a Prefect test harness per module cost a server start, 13-27 s, each)."""
    return (shared(tmp_path_factory, "prefect", _start_prefect_server) / "url").read_text()


TINY = SynthParams(speakers=4, clips_per_speaker=2, seconds=2.0, size=128, seed=7)


def render_corpus(p: SynthParams, root: Path) -> Path:
    """Render a corpus with the library functions (no Prefect), as the synth flow does."""
    from s2f.synth.corpus import plan_corpus, render_clip, write_index

    rendered = [render_clip(job, p, root) for job in plan_corpus(p)]
    write_index(p, root, rendered)
    return root


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared(tmp_path_factory, "synth", lambda root: render_corpus(TINY, root))


@pytest.fixture(scope="session")
def tiny_clips(tiny_corpus: Path) -> list[Path]:
    return sorted(tiny_corpus.glob("mp4/*/*/*.mp4"))


def lavfi_clip(path: Path, seconds: float, video: bool = True, audio: bool = True, fmt: str | None = None) -> Path:
    """A small test-pattern clip made by ffmpeg (for reject cases and odd formats)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["ffmpeg", "-v", "error", "-y"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc=size=96x96:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=16000:duration={seconds}"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p"] if video else []
    args += ["-c:a", "aac"] if audio else []
    args += ["-f", fmt] if fmt else []
    subprocess.run(args + [str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not (REALDATA / "manifest.csv").is_file():
        pytest.skip(f"real clips not present at {REALDATA} (only on machines with ../shared/realdata)")
    return REALDATA


def copy_project(dst: Path, names: tuple[str, ...]) -> Path:
    """A copy of the project's files and folders `names` (dvc.yaml, s2f, flows, ...) in dst, for a pipeline run."""
    for name in names:
        src = PROJECT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst / name)
    return dst


def copy_clip(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def outputs_under(stage: str, folder: Path) -> list[str]:
    """`--set` arguments that send every catalog entry `stage` writes into `folder`, each under its default name
    (paths.faces -> FOLDER/faces, paths.classifiers -> FOLDER/attributes.json)."""
    from s2f.catalog import relocate, writes
    from s2f.config import PathsParams

    moved = relocate(PathsParams(), (stage,), folder)
    return [a for name in writes(stage) for a in ("--set", f"paths.{name}={getattr(moved, name)}")]


def ingest_to(source: str, root: Path, csv: Path | None, out: Path) -> Path:
    """Ingest without Prefect (list, probe, assemble, write clips and clips_rejects); returns the clips path."""
    from s2f.ingest.probe import inspect_shard
    from s2f.ingest.sources import list_source
    from s2f.ingest.table import build_tables
    from s2f.tables import write_dataset

    cands, rejects = list_source(source, root, csv)
    rows, more = inspect_shard(cands, 1.5)
    clips, rej = build_tables(source, rows, rejects + more, SplitParams(), seed=0)
    write_dataset([rej], out / "clips_rejects", dataset="clips_rejects", schema_version=1, params={})
    return write_dataset([clips], out / "clips", dataset="clips", schema_version=1, params={})


@pytest.fixture(scope="session")
def tiny_processed(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny corpus through ingest, faces and audio (shards of 3 clips)."""
    from s2f.audio import stage as audio
    from s2f.faces import stage as faces

    def build(out: Path) -> None:
        clips = ingest_to("synth", tiny_corpus, None, out)
        run_stage(faces.run_shard, FacesParams(shard_size=3), clips, faces.FacesOutputs.under(out))
        run_stage(audio.run_shard, AudioParams(shard_size=3, seconds=TINY.seconds), clips,
                  audio.AudioOutputs.under(out))

    return shared(tmp_path_factory, "processed", build)


@pytest.fixture(scope="session")
def real_clips(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 33 real clips through ingest (folder source, manifest as speakers CSV): the folder of the clips table."""
    return shared(tmp_path_factory, "real",
                  lambda out: ingest_to("folder", realdata / "clips", realdata / "manifest.csv", out))


def bin_first_env() -> dict[str, str]:
    """This environment with its bin first on PATH, for commands that call `s2f` or `dvc` by name."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def real_stage(name: str, out: Path) -> Path:
    """The faces or audio stage on the real clips ingested into `out` (each test runs only the stage it reads).
    Faces keep 2 frames a clip, not 4: dlib's descriptors (about 90 ms each here) were most of the time, and
    the slow tier's real-video test runs the defaults."""
    from s2f.audio import stage as audio
    from s2f.faces import stage as faces

    if name == "faces":
        run_stage(faces.run_shard, FacesParams(per_clip=2), out / "clips", faces.FacesOutputs.under(out))
    else:
        run_stage(audio.run_shard, AudioParams(), out / "clips", audio.AudioOutputs.under(out))
    return out


@pytest.fixture(scope="session")
def tiny_models(tiny_processed: Path, tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder as `make run` leaves it (voice_encoder/, face_decoder/, attributes.json), trained tiny."""
    from s2f.evaluate.attributes import fit_classifiers, save_classifiers, speaker_labels
    from s2f.models.data import load_features, load_voice_data
    from s2f.models.store import ModelCard, save_model
    from s2f.models.train_face import load_face_data, train_face_decoder
    from s2f.models.train_voice import train_voice_encoder
    from s2f.tables import read_dataset

    def build(out: Path) -> None:
        fp = FaceModelParams(epochs=1, batch_size=8)
        decoder, _ = train_face_decoder(fp, load_face_data(tiny_processed / "faces", fp.size))
        save_model(decoder, ModelCard(model="face_decoder", arch=decoder.cfg.to_json(),
                                      params=fp.model_dump(mode="json"), params_hash="tiny", data_version="tiny",
                                      metrics={}), out / "face_decoder")
        vp = VoiceModelParams(epochs=1, frames=100, batch_size=4)
        data = load_voice_data(tiny_processed / "face_features", tiny_processed / "spectrograms", vp.memory_gb)
        encoder, _ = train_voice_encoder(vp, decoder.fc, data, "tiny", out / "ck")
        save_model(encoder, ModelCard(model="voice_encoder", arch=encoder.cfg.to_json(), trained_on="synth",
                                      params=vp.model_dump(mode="json"), params_hash="tiny", data_version="tiny",
                                      metrics={}),
                   out / "voice_encoder")
        labels = speaker_labels(read_dataset(tiny_processed / "clips"), tiny_corpus / "attributes.parquet", ["gender"])
        _, speakers, feats = load_features(tiny_processed / "face_features")
        save_classifiers(fit_classifiers(feats, speakers, labels, min_speakers=1), out / "attributes.json")

    return shared(tmp_path_factory, "models", build)


def espeak_wav(path: Path, text: str) -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return path
