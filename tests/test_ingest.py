"""Ingest: every source, every reject reason, speaker-disjoint splits, stable and atomic output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from s2f.config import SplitParams
from s2f.errors import InputError
from s2f.ingest.probe import inspect_shard
from s2f.ingest.sources import avspeech_name, list_source
from s2f.ingest.table import SCHEMA_VERSION, assign_splits, build_tables
from s2f.tables import read_dataset, read_meta, write_dataset
from tests.conftest import TINY, copy_clip, lavfi_clip

SPLIT = SplitParams()


def ingest(source: str, root: Path, csv: Path | None = None, min_seconds: float = 1.5,
           split: SplitParams = SPLIT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the ingest flow does, without Prefect: list, probe, assemble."""
    cands, rejects = list_source(source, root, csv)
    rows, more = inspect_shard(cands, min_seconds)
    clips, rej = build_tables(source, rows, rejects + more, split, seed=0)
    return clips.to_pandas(), rej.to_pandas()


def test_synth_source_reads_every_clip_with_meta(tiny_corpus: Path, tiny_clips: list[Path]):
    clips, rejects = ingest("synth", tiny_corpus)
    assert len(clips) == len(tiny_clips) and rejects.empty
    assert set(clips.speaker_id) == {f"id{i:05d}" for i in range(TINY.speakers)}
    attrs = read_dataset(tiny_corpus / "attributes.parquet").set_index("speaker_id")
    assert (clips.gender == clips.speaker_id.map(attrs.gender)).all()
    row = clips.iloc[0]
    assert (row.width, row.height, row.fps, row.video_codec, row.audio_codec, row.audio_sample_rate,
            row.audio_channels) == (128, 128, 25.0, "h264", "aac", 16000, 1)
    assert abs(row.duration - TINY.seconds) < 0.05 and len(row.sha256) == 64
    assert clips.segment_start.isna().all() and clips.face_x.isna().all()


def test_voxceleb2_layout_with_its_trailing_space_meta(tiny_clips: list[Path], tmp_path: Path):
    root = tmp_path / "vox2"
    for i, clip in enumerate(tiny_clips[:4]):
        copy_clip(clip, root / "dev" / "mp4" / f"id0{i // 2 + 1}000" / f"vid{i}" / "00001.mp4")
    copy_clip(tiny_clips[4], root / "dev" / "mp4" / "notanid" / "v" / "00001.mp4")
    meta = tmp_path / "vox2_meta.csv"
    meta.write_text("VoxCeleb2 ID ,VGGFace2 ID ,Gender ,Set \nid01000 ,n000001 ,f ,dev \nid02000 ,n000002 ,m ,test \n")
    clips, rejects = ingest("voxceleb2", root, meta)
    assert sorted(clips.speaker_id) == ["id01000", "id01000", "id02000", "id02000"]
    assert dict(zip(clips.speaker_id, clips.gender, strict=True)) == {"id01000": "f", "id02000": "m"}
    assert list(rejects.reason) == ["bad layout"]


def test_avspeech_csv_keeps_first_row_and_records_missing_downloads(tiny_clips: list[Path], tmp_path: Path):
    root = tmp_path / "avspeech"
    copy_clip(tiny_clips[0], root / f"{avspeech_name('AbC-123_xyz', 12.5, 14.5)}.mp4")
    copy_clip(tiny_clips[2], root / f"{avspeech_name('Zz9', 0.0, 2.0)}.mp4")
    copy_clip(tiny_clips[4], root / "FullVideo01.mp4")  # a whole video: the row's segment is cut from it
    csv = tmp_path / "avspeech_train.csv"
    csv.write_text("AbC-123_xyz,12.500000,14.500000,0.51,0.42\n"
                   "Zz9,0.000000,2.000000,0.3,0.6\n"
                   "Gone0000000,3.000000,9.000000,0.5,0.5\n"
                   "FullVideo01,0.200000,1.900000,0.45,0.55\n")
    clips, rejects = ingest("avspeech", root, csv)
    by_speaker = clips.set_index("speaker_id")
    assert sorted(by_speaker.index) == ["AbC-123_xyz", "FullVideo01", "Zz9"]
    first = by_speaker.loc["AbC-123_xyz"]
    assert (first.source_row, first.face_x, first.face_y) == ("avspeech_train.csv:1", 0.51, 0.42)
    cut = by_speaker.loc["FullVideo01"]
    assert (cut.segment_start, cut.segment_end) == (0.2, 1.9) and abs(cut.duration - 1.7) < 1e-9
    assert list(rejects.reason) == ["missing file"] and rejects.source_row[0] == "avspeech_train.csv:3"


def test_folder_source_speakers_from_parent_or_csv(tiny_clips: list[Path], tmp_path: Path):
    root = tmp_path / "videos"
    copy_clip(tiny_clips[0], root / "alice" / "a.mp4")
    copy_clip(tiny_clips[2], root / "alice" / "b.mov")
    copy_clip(tiny_clips[4], root / "bob" / "c.mp4")
    clips, _ = ingest("folder", root)
    assert sorted(clips.speaker_id) == ["alice", "alice", "bob"]

    csv = tmp_path / "speakers.csv"
    csv.write_text("file,speaker_id,gender\nvideos/alice/a.mp4,P1,female\nvideos/bob/c.mp4,P2,M\n"
                   "videos/carol/gone.mp4,P3,f\n")
    clips, rejects = ingest("folder", root, csv)
    assert dict(zip(clips.speaker_id, clips.gender, strict=True)) == {"P1": "f", "P2": "m"}
    assert sorted(rejects.reason) == ["missing file", "no speaker"]

    # A row naming a file outside root (which DVC does not track) is a reject and is never opened.
    copy_clip(tiny_clips[1], tmp_path / "elsewhere" / "d.mp4")
    csv.write_text("file,speaker_id\nvideos/alice/a.mp4,P1\nelsewhere/d.mp4,P4\n/etc/passwd,P5\n")
    clips, rejects = ingest("folder", root, csv)
    assert list(clips.speaker_id) == ["P1"]
    outside = rejects[rejects.reason == "outside root"]
    assert sorted(Path(p).name for p in outside.path) == ["d.mp4", "passwd"]
    assert all("is not below paths.videos" in d for d in outside.detail)

    (tmp_path / "nocols.csv").write_text("name,who\nx,y\n")
    with pytest.raises(InputError, match="paths.videos_csv: .* needs columns 'file'"):
        list_source("folder", root, tmp_path / "nocols.csv")
    with pytest.raises(InputError, match="paths.videos: .* is not a directory"):
        list_source("folder", tmp_path / "absent", None)


def test_every_reject_reason_and_nothing_good_is_lost(tiny_clips: list[Path], tmp_path: Path):
    root = tmp_path / "mixed" / "spk"
    good = [copy_clip(tiny_clips[i], root / f"good{i}.mp4") for i in range(3)]
    copy_clip(tiny_clips[0], root / "zz_copy_of_good0.mp4")
    (root / "empty.mp4").write_bytes(b"")
    (root / "garbage.mp4").write_bytes(b"this is not a video at all" * 100)
    data = tiny_clips[1].read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])
    lavfi_clip(root / "silent_film.mp4", 2.0, audio=False)
    lavfi_clip(root / "radio.mp4", 2.0, video=False, fmt="mp4")
    lavfi_clip(root / "short.mp4", 0.6)
    good.append(copy_clip(tiny_clips[3], root / "-dash.mp4"))  # not an ffmpeg option
    clips, rejects = ingest("folder", root.parent)
    assert sorted(Path(p).name for p in clips.path) == sorted(p.name for p in good)
    reasons = dict(zip((Path(p).name for p in rejects.path), rejects.reason, strict=True))
    assert reasons == {
        "empty.mp4": "empty file", "garbage.mp4": "unreadable", "truncated.mp4": "truncated",
        "silent_film.mp4": "no audio stream", "radio.mp4": "no video stream", "short.mp4": "too short",
        "zz_copy_of_good0.mp4": "duplicate",
    }
    detail = dict(zip(reasons, rejects.detail, strict=True))
    assert detail["zz_copy_of_good0.mp4"].endswith("good0.mp4")
    assert "ingest.min_seconds 1.5" in detail["short.mp4"]


def test_split_is_speaker_disjoint_deterministic_and_follows_ratios():
    speakers = [f"s{i}" for i in range(200)]
    a = assign_splits(speakers, SPLIT, seed=0)
    assert a == assign_splits(list(reversed(speakers)), SPLIT, seed=0)
    assert a != assign_splits(speakers, SPLIT, seed=1)
    counts = pd.Series(a).value_counts().to_dict()
    assert counts == {name: round(200 * getattr(SPLIT, name)) for name in ("train", "val", "test")}
    tiny = assign_splits(["a", "b", "c"], SPLIT, seed=0)
    assert sorted(tiny.values()) == ["test", "train", "val"]
    assert set(assign_splits(["a", "b"], SplitParams(train=1.0, val=0.0, test=0.0), 0).values()) == {"train"}


def test_clip_table_split_by_speaker_and_stable_across_runs(tiny_corpus: Path, tmp_path: Path):
    first, _ = ingest("synth", tiny_corpus)
    assert (first.groupby("speaker_id").split.nunique() == 1).all()
    assert set(first.split) == {"train", "val", "test"}
    paths = []
    for run in range(2):
        clips, rej = build_tables("synth", *inspect_shard(list_source("synth", tiny_corpus, None)[0], 1.5), SPLIT, 0)
        paths.append(write_dataset([clips], tmp_path / f"run{run}" / "clips", dataset="clips",
                                   schema_version=SCHEMA_VERSION, params={"x": 1}))
    files = [next(p.glob("part-*.parquet")).read_bytes() for p in paths]
    assert files[0] == files[1]
    assert read_meta(paths[0]) == {"dataset": "clips", "schema_version": SCHEMA_VERSION, "params": {"x": 1},
                                   "s2f_version": read_meta(paths[0])["s2f_version"]}
    assert pq.read_schema(next(paths[0].glob("*.parquet"))).field("clip_id").type == "string"


def test_interrupted_write_keeps_the_previous_dataset(tmp_path: Path):
    good, _ = build_tables("synth", [], [], SPLIT, 0)
    target = write_dataset([good], tmp_path / "clips", dataset="clips", schema_version=1, params={})
    before = sorted(p.name for p in target.iterdir())

    def parts():
        yield good
        raise KeyboardInterrupt  # the run dies mid-write

    with pytest.raises(KeyboardInterrupt):
        write_dataset(parts(), target, dataset="clips", schema_version=1, params={})
    assert sorted(p.name for p in target.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips"]


def test_real_clips_as_a_folder_source(realdata: Path):
    clips, rejects = ingest("folder", realdata / "clips", realdata / "manifest.csv")
    manifest = pd.read_csv(realdata / "manifest.csv")
    assert len(clips) == 33 and rejects.empty
    assert clips.speaker_id.nunique() == manifest.speaker_id.nunique() == 29
    assert (clips.groupby("speaker_id").split.nunique() == 1).all()
    assert {"mp2", "aac"} <= set(clips.audio_codec)
