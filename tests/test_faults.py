"""The fault corpus (tests/faults.py: broken, odd and good media made from the real clips) through ingest, faces,
audio and `s2f predict`: every case ends as its expected reject reason or as a usable clip, and no command
answers a bad file with a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flows.cli import main
from s2f.config import AudioParams, FacesParams
from s2f.tables import read_dataset
from tests import faults
from tests.conftest import PROJECT, ingest_to, run_stage, shared

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus, ingested (folder source with its speakers CSV), then through faces and audio."""
    from s2f.audio import stage as audio
    from s2f.faces import stage as faces

    def build(out: Path) -> None:
        faults.build(realdata, out)
        clips = ingest_to("folder", out / faults.ROOT, out / faults.CSV, out / "processed")
        run_stage(faces.run_shard, FacesParams(shard_size=8), clips, faces.FacesOutputs.under(out / "processed"))
        run_stage(audio.run_shard, AudioParams(shard_size=8), clips, audio.AudioOutputs.under(out / "processed"))

    return shared(tmp_path_factory, "faults", build)


def _case(path: str, root: Path) -> str:
    """The case name of a table's path (relative to the corpus root)."""
    return Path(os.path.relpath(Path(path).resolve(), root.resolve())).as_posix()


def _outcomes(corpus: Path, stage: str) -> tuple[set[str], dict[str, str]]:
    """The cases a stage kept, and the reason for each it rejected."""
    root, processed = corpus / faults.ROOT, corpus / "processed"
    clips = read_dataset(processed / "clips")
    name = dict(zip(clips.clip_id, (_case(p, root) for p in clips.path), strict=True))
    if stage == "ingest":
        rejects = read_dataset(processed / "clips_rejects")
        return set(name.values()), {_case(p, root): r for p, r in zip(rejects.path, rejects.reason, strict=True)}
    kept_table, reject_table = {"faces": ("face_features", "faces_rejects"),
                                "audio": ("spectrograms", "audio_rejects")}[stage]
    kept = {name[c] for c in read_dataset(processed / kept_table).clip_id}
    rejects = read_dataset(processed / reject_table)
    return kept, {name[c]: r for c, r in zip(rejects.clip_id, rejects.reason, strict=True)}


def _expected(stage: str) -> tuple[set[str], dict[str, str]]:
    """What a stage must keep and reject. Faces and audio each read the whole clip table, so every clip that
    ingest kept reaches both."""
    reaching = faults.CASES if stage == "ingest" else [c for c in faults.CASES if c.ingest is None]
    return ({c.name for c in reaching if getattr(c, stage) is None},
            {c.name: getattr(c, stage) for c in reaching if getattr(c, stage) is not None})


@pytest.mark.parametrize("stage", ["ingest", "faces", "audio"])
def test_every_case_is_kept_or_rejected_with_its_reason(corpus: Path, stage: str):
    kept, rejects = _outcomes(corpus, stage)
    want_kept, want_rejects = _expected(stage)
    assert rejects == want_rejects
    assert kept == want_kept


def test_sizes_are_as_shown_and_wide_frames_keep_confident_faces(corpus: Path):
    """A phone's portrait video is recorded upright (else its frames are squashed and no face is found); in a
    16:9 frame BlazeFace scored a head half the frame's height below 0.4 letterboxed, and finds it in squares."""
    clips = read_dataset(corpus / "processed" / "clips")
    name = {c: _case(p, corpus / faults.ROOT) for c, p in zip(clips.clip_id, clips.path, strict=True)}
    size = {name[c]: (w, h) for c, w, h in zip(clips.clip_id, clips.width, clips.height, strict=True)}
    assert size["phone.mp4"] == (400, 700) and size["wide_1080p.mp4"] == (1920, 1080)
    assert size["odd.webm"] == (359, 299)
    faces = read_dataset(corpus / "processed" / "faces")
    scores = faces.groupby(faces.clip_id.map(name)).score.agg(list)
    per_clip = FacesParams().per_clip
    assert len(scores["phone.mp4"]) == len(scores["wide_1080p.mp4"]) == per_clip
    assert min(scores["wide_1080p.mp4"]) > 0.9


def test_predict_draws_a_face_or_says_why_in_one_line(corpus: Path, tiny_models: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture):
    """Every file of the corpus in one `s2f predict --compare --json` call: each input gets its face, or its own
    one-line error while the others go on."""
    cases = [c for c in faults.CASES if (corpus / faults.ROOT / c.name).is_file()]
    code = main(["predict", *(str(corpus / faults.ROOT / c.name) for c in cases), "-o", str(tmp_path),
                 "--models", str(tiny_models), "--compare", "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    results = {_case(r["input"], corpus / faults.ROOT): r for r in json.loads(captured.out)}
    want = {c.name: c.predict or ("face", c.compare) for c in cases}  # error words, or a face and a comparison
    got = {}
    for name, r in results.items():
        if "error" in r:  # the expected words when the error holds them, else the whole error
            got[name] = want[name] if isinstance(want[name], str) and want[name] in r["error"] else r["error"]
        else:
            got[name] = ("face", r["compare"] is not None)
    assert got == want
    for r in results.values():
        assert "error" in r or (Path(r["face"]).is_file() and r["trained_on"] == "synth")
    lines = captured.err.splitlines()  # one per error, and one per face without a real face to compare it with
    assert code == 1 and all(line.startswith("s2f predict: ") for line in lines)
    assert len(lines) == sum(v != ("face", True) for v in want.values())


def test_the_readme_lists_every_reject_reason_of_the_corpus():
    readme = (PROJECT / "README.md").read_text()
    reasons = {r for c in faults.CASES for r in (c.ingest, c.faces, c.audio) if r}
    assert {r for r in reasons if f"`{r}`" not in " ".join(readme.split())} == set()
