"""Where clips come from: each source lists candidate clips (and rejects it can see without opening a file).

- synth: the generated corpus (VoxCeleb2 layout with meta.csv at its root)
- voxceleb2: `.../mp4/<speaker>/<video>/<n>.mp4` plus vox2_meta.csv (trailing spaces in header and values)
- folder: any videos below a directory; speaker from a CSV (file, speaker_id[, gender]) or the parent folder
- avspeech: the header-less CSV youtube_id,start,end,x,y plus a directory of downloaded clips
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from s2f.errors import InputError
from s2f.labels import normalize_gender

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".flv", ".ts"}
VOX_SPEAKER = re.compile(r"^id\d+$")


@dataclass(frozen=True)
class Candidate:
    """A clip a source names, before its file is opened."""

    path: str
    speaker_id: str
    source_row: str
    segment_start: float | None = None
    segment_end: float | None = None
    face_x: float | None = None
    face_y: float | None = None
    gender: str | None = None


@dataclass(frozen=True)
class Reject:
    """A clip that cannot be used, and why (`reason` is a short code, `detail` the specifics)."""

    path: str
    source_row: str
    reason: str
    detail: str


def _videos_below(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def read_vox_meta(path: Path) -> pd.DataFrame:
    """VoxCeleb meta CSV (VoxCeleb2: comma, trailing spaces; VoxCeleb1: tab) as speaker_id, gender, set."""
    sep = "\t" if "\t" in path.read_text().splitlines()[0] else ","
    meta = pd.read_csv(path, sep=sep, dtype=str, skipinitialspace=True)
    meta.columns = [c.strip() for c in meta.columns]
    meta = meta.apply(lambda col: col.str.strip())
    id_col = next(c for c in meta.columns if c.startswith("VoxCeleb") and c.endswith("ID"))
    return pd.DataFrame({"speaker_id": meta[id_col], "gender": meta["Gender"].map(normalize_gender),
                         "set": meta.get("Set")})


def list_voxceleb2(root: Path, meta_csv: Path | None) -> tuple[list[Candidate], list[Reject]]:
    """Videos in VoxCeleb2's layout; speaker is the `idNNNNN` folder two levels above the file."""
    genders: dict[str, str | None] = {}
    if meta_csv is not None:
        meta = read_vox_meta(meta_csv)
        genders = dict(zip(meta["speaker_id"], meta["gender"], strict=True))
    cands, rejects = [], []
    for path in _videos_below(root):
        rel = path.relative_to(root).as_posix()
        speaker = path.parent.parent.name
        if not VOX_SPEAKER.match(speaker):
            rejects.append(Reject(str(path), rel, "bad layout", "expected .../<idNNNNN>/<video>/<n>.mp4"))
        else:
            cands.append(Candidate(str(path), speaker, rel, gender=genders.get(speaker)))
    return cands, rejects


def list_folder(root: Path, speakers_csv: Path | None) -> tuple[list[Candidate], list[Reject]]:
    """Every video below root; speaker from the CSV when given (paths relative to the CSV or to root)."""
    videos = _videos_below(root)
    if speakers_csv is None:
        return [Candidate(str(p), p.parent.name, p.relative_to(root).as_posix()) for p in videos], []
    table = pd.read_csv(speakers_csv, dtype=str, skipinitialspace=True)
    table.columns = [c.strip() for c in table.columns]
    file_col = next((c for c in ("file", "path", "filename") if c in table.columns), None)
    if file_col is None or "speaker_id" not in table.columns:
        raise InputError(f"paths.videos_csv: {speakers_csv} needs columns 'file' (or 'path') and 'speaker_id'; "
                          f"it has {list(table.columns)}")
    by_path: dict[Path, tuple[int, pd.Series]] = {}
    rejects = []
    for i, row in table.iterrows():
        rel = str(row[file_col]).strip()
        found = next((p for p in (speakers_csv.parent / rel, root / rel) if p.is_file()), None)
        if found is None:
            rejects.append(Reject(str(root / rel), f"{speakers_csv.name}:{i + 2}", "missing file",
                                  f"{rel} is listed in {speakers_csv.name} but not found"))
        else:
            by_path[found.resolve()] = (i, row)
    cands = []
    for p in videos:
        hit = by_path.pop(p.resolve(), None)
        rel = p.relative_to(root).as_posix()
        if hit is None:
            rejects.append(Reject(str(p), rel, "no speaker", f"not listed in {speakers_csv.name}"))
            continue
        i, row = hit
        cands.append(Candidate(str(p), str(row["speaker_id"]).strip(), f"{speakers_csv.name}:{i + 2}",
                               gender=normalize_gender(row.get("gender"))))
    inside = root.resolve()
    for path, (i, row) in by_path.items():  # listed, but not a video file name below root
        line = f"{speakers_csv.name}:{i + 2}"
        if not path.is_relative_to(inside):  # DVC tracks the root only: such a file could change unseen
            rejects.append(Reject(str(path), line, "outside root",
                                  f"{path} is not below paths.videos {root}; move it there"))
            continue
        cands.append(Candidate(str(path), str(row["speaker_id"]).strip(), line,
                               gender=normalize_gender(row.get("gender"))))
    return cands, rejects


def avspeech_name(youtube_id: str, start: float, end: float) -> str:
    """The common file name of a downloaded AVSpeech segment."""
    return f"{youtube_id}_{start:010.6f}-{end:010.6f}"


def list_avspeech(root: Path, csv: Path) -> tuple[list[Candidate], list[Reject]]:
    """AVSpeech rows (no header: the first row is data) matched to downloaded clips.

    A segment clip `{id}_{start}-{end}.<ext>` is used whole; a full video `{id}.<ext>` is cut to start..end.
    The YouTube id stands for the speaker (AVSpeech has no speaker ids).
    """
    rows = pd.read_csv(csv, header=None, names=["youtube_id", "start", "end", "face_x", "face_y"],
                       dtype={"youtube_id": str}, skipinitialspace=True)
    files = {p.stem: p for p in _videos_below(root)}
    cands, rejects = [], []
    for i, r in rows.iterrows():
        line = f"{csv.name}:{i + 1}"
        segment = files.get(avspeech_name(r.youtube_id, r.start, r.end))
        whole = files.get(r.youtube_id)
        if segment is not None:
            cands.append(Candidate(str(segment), r.youtube_id, line, face_x=r.face_x, face_y=r.face_y))
        elif whole is not None:
            cands.append(Candidate(str(whole), r.youtube_id, line, float(r.start), float(r.end), r.face_x, r.face_y))
        else:
            rejects.append(Reject(str(root / (avspeech_name(r.youtube_id, r.start, r.end) + ".mp4")), line,
                                  "missing file", f"no downloaded clip for {r.youtube_id} {r.start}-{r.end}"))
    return cands, rejects


def list_source(source: str, root: Path, csv: Path | None) -> tuple[list[Candidate], list[Reject]]:
    """Dispatch on `ingest.source`."""
    if not root.is_dir():
        raise InputError(f"paths.videos: {root} is not a directory")
    if csv is not None and not csv.is_file():
        raise InputError(f"paths.videos_csv: {csv} not found")
    if source == "synth":
        return list_voxceleb2(root, csv or root / "meta.csv")
    if source == "voxceleb2":
        return list_voxceleb2(root, csv)
    if source == "folder":
        return list_folder(root, csv)
    if source == "avspeech":
        assert csv is not None
        return list_avspeech(root, csv)
    raise InputError(f"ingest.source: unknown source {source!r}")
