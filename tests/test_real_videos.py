"""Real videos end to end, as docs/data.md's block says: configs/real-videos.yaml merged into params.yaml with
`s2f params --merge`, then `s2f repro evaluate` on ../shared/realdata (ingest to evaluate, a few epochs) and
`s2f report`; skips without the clips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2f.tables import read_dataset
from tests.conftest import copy_project
from tests.test_docs import run_block
from tests.test_pipeline import _dvc, prefect_api  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_real_videos_run_from_ingest_to_the_report(prefect_api, realdata: Path, tmp_path: Path):  # noqa: F811
    copy_project(tmp_path, ("dvc.yaml", "params.yaml", "s2f", "flows", "configs"))
    config = tmp_path / "configs" / "real-videos.yaml"  # as committed, its ../shared pointed at this machine's
    config.write_text(config.read_text().replace("../shared/realdata", str(realdata)))
    _dvc("init", "--no-scm", "-q", cwd=tmp_path)
    # docs/data.md's block as written; its `make run` is the set-up (done) and then `s2f repro evaluate`
    run_block("s2f params --merge configs/real-videos.yaml", tmp_path, {"make run": "s2f repro evaluate"}, 1800)

    clips = read_dataset(tmp_path / "data/processed/clips")
    manifest = __import__("pandas").read_csv(realdata / "manifest.csv")
    assert len(clips) == len(manifest) and set(clips.gender) == {"f", "m"}
    # by speaker: a person's several files stay in one split, and every split has people in it
    assert clips.groupby("speaker_id").split.nunique().max() == 1 and set(clips.split) == {"train", "val", "test"}
    assert len(read_dataset(tmp_path / "data/processed/face_features")) >= len(clips) - 3
    card = json.loads((tmp_path / "models/voice_encoder/config.json").read_text())
    assert card["trained_on"] == "folder"
    metrics = json.loads((tmp_path / "reports/metrics.json").read_text())
    assert metrics["test"]["speakers"] == clips[clips.split == "test"].speaker_id.nunique() >= 2
    assert {"voice", "resemblyzer", "mean", "chance"} <= set(metrics["6s"])
    html = (tmp_path / "reports/report.html").read_text()
    assert "resemblyzer + ridge" in html and html.count("data:image/png;base64,") >= 3
