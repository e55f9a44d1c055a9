"""The faces stage: the speaker's face among several, every reject reason, stable and resumable output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from s2f.config import FacesParams
from s2f.faces import stage
from s2f.faces.align import Aligner, frontality
from s2f.faces.clip import process_clip
from s2f.faces.detect import Detection, FaceDetector, choose_face, merge, tile_starts
from s2f.faces.sheet import contact_sheet
from s2f.images import decode_png
from s2f.media import decode_frames, displayed_size, probe
from s2f.shards import Shard, part_path, plan_shards
from s2f.synth.attributes import sample_speaker
from s2f.synth.face import FaceRenderer
from s2f.tables import read_dataset, stack_column
from tests.conftest import TINY, lavfi_clip, real_stage, run_stage


def det(x: float, y: float, side: float, score: float = 0.9) -> Detection:
    return Detection((x, y, side, side), score, np.zeros((6, 2), np.float32))


def choose(dets, reference=None, hinted=False, **kw):
    args = {"min_score": 0.6, "min_face_px": 40, "ambiguity": 0.5} | kw
    return choose_face(dets, (400, 300), reference, hinted, **args)


def test_choice_rules_on_hand_made_detections():
    big, small, other_big = det(150, 100, 100), det(10, 10, 50), det(300, 100, 90)
    assert choose([]) == (None, "no face")
    assert choose([small, big]) == (big, None)  # a much smaller face does not compete
    assert choose([big, other_big]) == (None, "two faces")  # comparable faces and nothing to decide
    assert choose([big, other_big], reference=np.array([340.0, 150.0]), hinted=True) == (other_big, None)
    assert choose([det(150, 100, 30)]) == (None, "small face")
    assert choose([det(150, 100, 100, score=0.4)]) == (None, "low score")
    # Following the speaker: a tracked reference picks the face nearest to it, but does not settle ambiguity.
    assert choose([big, other_big], reference=np.array([200.0, 150.0])) == (None, "two faces")
    assert choose([big, small], reference=np.array([30.0, 30.0])) == (None, "two faces")


def _pair_frame(left: int, right: int, size: int = 160) -> np.ndarray:
    faces = [FaceRenderer(sample_speaker(0, i), size).frame(0.2) for i in (left, right)]
    return np.hstack(faces)


def test_two_drawn_faces_need_a_hint_and_the_hint_picks_its_face():
    frame = _pair_frame(1, 2)
    with FaceDetector() as detector:
        dets = detector.detect(frame)
    assert len(dets) == 2
    assert choose_face(dets, (320, 160), None, False, 0.6, 40, 0.5) == (None, "two faces")
    face, _ = choose_face(dets, (320, 160), np.array([0.75 * 320, 80.0]), True, 0.6, 40, 0.5)
    assert face.center[0] > 160


def _clip_row(path: Path, clip_id: str = "c", **extra) -> dict:
    """A clip-table row with the sizes ingest records: the displayed ones."""
    video = next(s for s in probe(path)["streams"] if s["codec_type"] == "video")
    width, height = displayed_size(video)
    return {"clip_id": clip_id, "speaker_id": "s", "split": "train", "path": str(path), "sha256": clip_id,
            "width": width, "height": height, "segment_start": None, "segment_end": None,
            "face_x": None, "face_y": None, **extra}


@pytest.fixture(scope="module")
def tools():
    with FaceDetector() as detector:
        yield detector, Aligner()


def test_hint_chooses_the_speaker_in_a_two_person_clip(tiny_clips: list[Path], tmp_path: Path, tools):
    pair = tmp_path / "pair.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(tiny_clips[0]), "-i", str(tiny_clips[2]), "-filter_complex",
                    "hstack", "-c:v", "libx264", "-an", str(pair)], check=True)
    p = FacesParams()
    ambiguous = process_clip(_clip_row(pair), p, *tools)
    assert ambiguous.reject["reason"] == "several faces" and ambiguous.drops["two faces"] == ambiguous.decoded
    right = process_clip(_clip_row(pair, face_x=0.75, face_y=0.5), p, *tools)
    alone = process_clip(_clip_row(tiny_clips[2]), p, *tools)
    other = process_clip(_clip_row(tiny_clips[0]), p, *tools)
    assert right.reject is None
    assert right.feature["feature"] @ alone.feature["feature"] > right.feature["feature"] @ other.feature["feature"]
    assert all(f["box"][0] > 128 for f in right.frames)  # boxes in the clip's own pixels: the right half


def test_tiles_cover_the_frame_and_duplicates_merge():
    for n, side in [(640, 360), (360, 140), (1000, 96), (100, 140)]:
        starts = tile_starts(n, side)
        assert starts[0] == 0 and min(starts[-1] + side, n) == n
        assert all(b - a <= side / 2 for a, b in zip(starts, starts[1:], strict=False))
    kp = np.zeros((6, 2), np.float32)
    whole = Detection((100, 100, 80, 80), 0.4, kp)  # the letterboxed frame's loose box round the face
    tile = Detection((110, 110, 55, 55), 0.97, kp)  # a tile's tight one
    other = Detection((300, 100, 60, 60), 0.9, kp)
    assert merge([whole, tile, other]) == [tile, other]


def test_every_faces_reject_reason(tiny_clips: list[Path], tmp_path: Path, tools):
    pattern = lavfi_clip(tmp_path / "pattern.mp4", 2.0)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 4000)
    face = _clip_row(tiny_clips[1])
    cases = {
        "no face": (_clip_row(pattern), FacesParams()),
        "face too small": (face, FacesParams(min_face_px=200)),
        "too few good frames": (face, FacesParams(min_score=0.999)),
        "undecodable": ({**face, "path": str(garbage)}, FacesParams()),
    }
    for reason, (row, p) in cases.items():
        out = process_clip(row, p, *tools)
        assert out.reject is not None and out.reject["reason"] == reason, (reason, out.reject)
        assert out.feature is None and out.frames == []
    short = process_clip(face, FacesParams(fps=1.0, per_clip=4, min_frames=3), *tools)  # 2 s at 1 fps: 2 frames
    assert short.reject["reason"] == "too few good frames" and "2 good of 2 frames (need 3)" in short.reject["detail"]


def test_faces_stage_on_the_synthetic_corpus(tiny_processed: Path, tiny_clips: list[Path]):
    features = read_dataset(tiny_processed / "face_features")
    faces = read_dataset(tiny_processed / "faces")
    assert len(features) == len(tiny_clips) and read_dataset(tiny_processed / "faces_rejects").empty
    assert (features.n_frames == 4).all() and (faces.groupby("clip_id").size() == 4).all()
    vectors = stack_column(features.feature, (128,))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert decode_png(faces.crop[0]).shape == (128, 128, 3)
    assert stack_column(faces.landmarks, (68, 2)).shape == (len(faces), 68, 2)
    assert (faces.frontality > 0.8).mean() > 0.9  # drawn faces look straight at the camera
    # Two clips of one speaker are closer than clips of different speakers (the descriptor sees identity).
    sims = vectors @ vectors.T
    same = features.speaker_id.to_numpy()[:, None] == features.speaker_id.to_numpy()[None, :]
    off_diagonal = ~np.eye(len(features), dtype=bool)
    assert sims[same & off_diagonal].mean() > sims[~same].mean() + 0.05
    sheet = contact_sheet(faces, per_row=4)
    assert sheet.shape == (128 * len(faces) // 4, 128 * 4, 3)


def test_frontality_is_balance_of_the_nose_between_the_jaw_ends():
    marks = np.zeros((68, 2))
    marks[0, 0], marks[16, 0] = 10, 110
    marks[30, 0] = 60
    assert frontality(marks) == 1.0
    marks[30, 0] = 85
    assert frontality(marks) == pytest.approx(25 / 75)


def test_resume_after_a_lost_shard_gives_the_same_output(tiny_corpus: Path, tmp_path: Path):
    from tests.conftest import ingest_to

    clips = ingest_to("synth", tiny_corpus, None, tmp_path)
    p, out = FacesParams(shard_size=3, per_clip=2), stage.FacesOutputs.under(tmp_path / "run")
    first = run_stage(stage.run_shard, p, clips, out)
    assert first["clips"] == len(list(tiny_corpus.glob("mp4/*/*/*.mp4"))) and first["skipped"] == 0
    parts = {f: f.read_bytes() for d in out.dirs for f in sorted(d.glob("part-*"))}
    shards = plan_shards(read_dataset(clips), p.shard_size, p.model_dump(mode="json"))
    lost = part_path(out.faces, shards[1].key)
    lost.unlink()  # as if the run died before this shard finished
    (lost.parent / "part-stale0000.parquet").write_bytes(b"left over by other params")
    second = run_stage(stage.run_shard, p, clips, out)
    assert second["skipped"] == 2 and second["clips"] == len(shards[1].clips)  # only the lost shard ran again
    assert {f: f.read_bytes() for d in out.dirs for f in sorted(d.glob("part-*"))} == parts
    assert run_stage(stage.run_shard, p, clips, out)["skipped"] == 3


def test_shard_output_is_stable_across_runs(tiny_clips: list[Path], tmp_path: Path):
    rows = [_clip_row(c, clip_id=f"c{i}") for i, c in enumerate(tiny_clips[:2])]
    for run in ("a", "b"):
        stage.run_shard(Shard("key", rows), FacesParams(), stage.FacesOutputs.under(tmp_path / run), {"m": 1})
    for name in ("faces", "face_features", "faces_rejects"):
        assert part_path(tmp_path / "a" / name, "key").read_bytes() == part_path(tmp_path / "b" / name,
                                                                                   "key").read_bytes()


def test_real_clips_get_face_features(real_clips: Path):
    real_processed = real_stage("faces", real_clips)
    features = read_dataset(real_processed / "face_features")
    assert len(features) >= 29, read_dataset(real_processed / "faces_rejects")
    faces = read_dataset(real_processed / "faces", columns=["clip_id", "time", "box", "frontality"])
    assert faces.frontality.median() > 0.7


def test_frames_are_streamed_at_the_asked_rate(tiny_clips: list[Path]):
    frames = list(decode_frames(tiny_clips[0], 64, 64, fps=2.0))
    assert len(frames) == int(TINY.seconds * 2) and frames[0].shape == (64, 64, 3)


def test_a_broken_row_is_a_reject_and_the_rest_of_the_shard_goes_on(tiny_clips: list[Path], tmp_path: Path):
    good = _clip_row(tiny_clips[0], clip_id="good")
    broken = {**_clip_row(tiny_clips[1], clip_id="broken"), "width": "not a number"}
    counts = stage.run_shard(Shard("k", [good, broken]), FacesParams(), stage.FacesOutputs.under(tmp_path), {})
    assert counts["features"] == 1 and counts["rejects"] == 1
    rejects = read_dataset(tmp_path / "faces_rejects")
    assert list(rejects.reason) == ["failed"] and "ValueError" in rejects.detail[0]
    assert list(read_dataset(tmp_path / "face_features").clip_id) == ["good"]


def test_descriptors_in_worker_processes_equal_one_by_one():
    chips = [np.ascontiguousarray(FaceRenderer(sample_speaker(3, i), 150).frame(0.3)) for i in range(20)]
    serial = Aligner()
    pooled = Aligner(workers=2)
    try:
        together = pooled.descriptors(chips)
    finally:
        pooled.close()
    alone = np.stack([serial.descriptor(c) for c in chips])
    assert together.shape == (20, 128) and np.array_equal(together, alone)
    assert not np.allclose(alone[0], alone[1])  # different faces


_FACES_STAGE = """import hashlib, sys
import numpy as np
from s2f.config import FacesParams
from s2f.faces import stage
from s2f.faces.detect import FaceDetector
from s2f.media import decode_frames
from s2f.tables import read_dataset
from tests.stages import run_stage
clips, out = sys.argv[1], sys.argv[2]
run_stage(stage.run_shard, FacesParams(fps=1.0, per_clip=2, min_frames=2), clips, stage.FacesOutputs.under(out))
floats = []  # what the search (XNNPACK) gives on the same frames, to show that this CPU runs other kernels
with FaceDetector() as detector:
    for path in read_dataset(clips).path:
        for frame in decode_frames(path, 256, 256, 1.0, 0.0, 2.0):
            floats += [v for d in detector.detect(frame) for v in (d.score, *d.keypoints.ravel())]
print("search", hashlib.sha256(np.array(floats, np.float64).tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_the_faces_stage_writes_the_same_bytes_on_an_older_cpu(tiny_processed: Path, tmp_path: Path):
    """Another machine, emulated: under qemu's SandyBridge CPU (AVX, no AVX2 or FMA) XNNPACK picks other kernels
    and the face search's floats change, but the faces parts (scores, boxes and keypoints measured by the
    reference kernels, landmarks, crops, descriptors) are the same bytes as on this CPU."""
    import os
    import shutil
    import sys

    import pyarrow as pa

    from s2f.hashing import sha256_file
    from s2f.tables import write_dataset

    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.fail("qemu-x86_64 is missing: `make setup` installs it (Debian's qemu-user)")
    clips = read_dataset(tiny_processed / "clips").head(2)
    write_dataset([pa.Table.from_pandas(clips, preserve_index=False)], tmp_path / "clips", dataset="clips",
                  schema_version=1, params={})
    hashes, search = {}, {}
    for cpu in ("native", "SandyBridge"):
        out = tmp_path / "out"  # one output path: it is among the params recorded in the parts
        shutil.rmtree(out, ignore_errors=True)
        prefix = [] if cpu == "native" else [qemu, "-cpu", cpu]
        run = subprocess.run([*prefix, sys.executable, "-c", _FACES_STAGE, str(tmp_path / "clips"), str(out)],
                             check=True, capture_output=True, text=True, cwd=Path(__file__).parents[1],
                             env={**os.environ, "GLOG_minloglevel": "2"})
        search[cpu] = [line for line in run.stdout.splitlines() if line.startswith("search ")]
        hashes[cpu] = {p.relative_to(out).as_posix(): sha256_file(p) for p in sorted(out.rglob("*.parquet"))}
    assert search["native"] != search["SandyBridge"]  # the emulated CPU does run other kernels
    assert len(hashes["native"]) == 3 and hashes["native"] == hashes["SandyBridge"]
    faces = read_dataset(out / "faces")
    assert len(faces) == 4 and (faces.score > 0.5).all()
