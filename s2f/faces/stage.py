"""The `faces` stage on one shard of clips: three part files (kept frames, per-clip features, rejects)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2f.config import FacesParams
from s2f.faces.align import Aligner
from s2f.faces.clip import ClipFaces, process_clip
from s2f.faces.detect import FaceDetector
from s2f.schemas import FACE_FEATURES, FACES
from s2f.shards import Shard, is_done, rejects_table, write_parts
from s2f.tables import rows_table

# 2: score, box and keypoints measured by BlazeFace's reference kernels; features summed in a fixed order.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class FacesOutputs:
    """Where the stage writes its three datasets (paths.faces, paths.face_features, paths.faces_rejects)."""

    faces: str | Path
    features: str | Path
    rejects: str | Path

    @property
    def dirs(self) -> list[Path]:
        return [Path(self.faces), Path(self.features), Path(self.rejects)]

    @classmethod
    def under(cls, folder: str | Path) -> FacesOutputs:
        """The three datasets side by side in one folder, named as in the default catalog."""
        return cls(*(Path(folder) / name for name in ("faces", "face_features", "faces_rejects")))


_local = threading.local()


def _aligner() -> Aligner:
    """One set of dlib models per worker thread (the recognition network is not shared across threads)."""
    if not hasattr(_local, "aligner"):
        _local.aligner = Aligner()
    return _local.aligner


# The faces stage's two datasets, written here and nowhere else (their columns: s2f/schemas.py).
FACES_SCHEMA = FACES.schema
FACE_FEATURES_SCHEMA = FACE_FEATURES.schema


def run_shard(shard: Shard, p: FacesParams, out: FacesOutputs, meta: dict[str, Any]) -> dict[str, Any]:
    """Process a shard unless its parts already exist; returns counts and timings for the log."""
    dirs = out.dirs
    if is_done(dirs, shard.key):
        return {"skipped": 1}
    frames, features, rejects = [], [], []
    drops: Counter = Counter()
    seconds: Counter = Counter()
    decoded = 0
    with FaceDetector() as detector:
        for clip in shard.clips:
            ident = {"clip_id": clip["clip_id"], "speaker_id": clip["speaker_id"], "split": clip["split"]}
            try:
                res = process_clip(clip, p, detector, _aligner())
            except Exception as exc:  # one broken clip must become a reject, not stop the stage
                res = ClipFaces(reject={"reason": "failed", "detail": f"{type(exc).__name__}: {exc}"})
            drops.update(res.drops)
            seconds.update(res.seconds)
            decoded += res.decoded
            if res.reject:
                rejects.append({**ident, "path": clip["path"], **res.reject})
                continue
            frames += [{**ident, **f} for f in res.frames]
            features.append({**ident, **res.feature})
    rej = rejects_table(rejects)
    # faces last: a shard counts as done only when all three parts exist
    tables = {dirs[2]: rej, dirs[1]: rows_table(FACE_FEATURES_SCHEMA, features),
              dirs[0]: rows_table(FACES_SCHEMA, frames)}
    write_parts(tables, shard.key, schema_version=SCHEMA_VERSION, params=meta)
    return {"clips": len(shard.clips), "features": len(features), "rejects": len(rejects), "frames": decoded,
            "kept": len(frames), **{f"drop {k}": v for k, v in drops.items()},
            **{f"s_{k}": v for k, v in seconds.items()}}

