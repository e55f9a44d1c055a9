"""Shared fixtures: a tiny real synthetic corpus, hand-made media files, and the real clips when present."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from s2f.config import SynthParams
from s2f.synth.corpus import plan_corpus, render_clip, write_index

PROJECT = Path(__file__).resolve().parents[1]
REALDATA = PROJECT.parent / "shared" / "realdata"

TINY = SynthParams(speakers=4, clips_per_speaker=2, seconds=2.0, size=128, seed=7)


def render_corpus(p: SynthParams, root: Path) -> Path:
    """Render a corpus with the library functions (no Prefect), as the synth flow does."""
    rendered = [render_clip(job, p, root) for job in plan_corpus(p)]
    write_index(p, root, rendered)
    return root


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_corpus(TINY, tmp_path_factory.mktemp("synth"))


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


@pytest.fixture
def realdata() -> Path:
    if not (REALDATA / "manifest.csv").is_file():
        pytest.skip(f"real clips not present at {REALDATA} (only on machines with ../shared/realdata)")
    return REALDATA


def copy_clip(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
