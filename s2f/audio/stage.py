"""The `audio` stage on one shard of clips: spectrogram and rejects part files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np
import pandas as pd

from s2f.audio.spectrogram import SAMPLE_RATE, spectrogram
from s2f.audio.speech import segments
from s2f.config import AudioParams
from s2f.media import decode_audio, ffmpeg_message, segment_cut
from s2f.schemas import SPECTROGRAMS
from s2f.shards import Shard, is_done, rejects_table, write_parts
from s2f.tables import rows_table

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class AudioOutputs:
    """Where the stage writes its two datasets (paths.spectrograms, paths.audio_rejects)."""

    spectrograms: str | Path
    rejects: str | Path

    @property
    def dirs(self) -> list[Path]:
        return [Path(self.spectrograms), Path(self.rejects)]

    @classmethod
    def under(cls, folder: str | Path) -> AudioOutputs:
        """The two datasets side by side in one folder, named as in the default catalog."""
        return cls(Path(folder) / "spectrograms", Path(folder) / "audio_rejects")


# How far past the speech it keeps the stage reads a clip (leading silence, music): it decodes at most
# seconds x segments_per_clip + this, so an hour-long file costs the memory of a minute-long one.
LEAD_SECONDS = 60.0


def clip_audio(clip: dict[str, Any], p: AudioParams) -> np.ndarray:
    """16 kHz mono samples of a clip-table row, honouring its segment, at most `read_seconds(p)` of them."""
    start, duration = segment_cut(clip)
    cap = read_seconds(p)
    return decode_audio(clip["path"], SAMPLE_RATE, start, cap if duration is None else min(duration, cap))


def read_seconds(p: AudioParams) -> float:
    return p.seconds * p.segments_per_clip + LEAD_SECONDS


# The spectrograms dataset, written here and nowhere else: each segment's float16 values, flattened, with its shape
# (2, frames, 257) (its columns: s2f/schemas.py; s2f.tables.list_arrays reads them back).
SPECTROGRAMS_SCHEMA = SPECTROGRAMS.schema


def run_shard(shard: Shard, p: AudioParams, out: AudioOutputs, meta: dict[str, Any]) -> dict[str, Any]:
    """Process a shard unless its parts already exist; returns counts for the log."""
    dirs = out.dirs
    if is_done(dirs, shard.key):
        return {"skipped": 1}
    rows, rejects = [], []
    for clip in shard.clips:
        ident = {"clip_id": clip["clip_id"], "speaker_id": clip["speaker_id"]}
        try:
            pieces, problem = segments(clip_audio(clip, p), p)
        except ffmpeg.Error as err:
            pieces, problem = [], ("undecodable", ffmpeg_message(err))
        except Exception as exc:  # one broken clip must become a reject, not stop the stage
            pieces, problem = [], ("failed", f"{type(exc).__name__}: {exc}")
        if problem:
            rejects.append({**ident, "path": clip["path"], "reason": problem[0], "detail": problem[1]})
        for k, seg in enumerate(pieces):
            spec = spectrogram(seg.samples)
            rows.append({**ident, "split": clip["split"], "segment": k, "segment_start": seg.start,
                         "shape": list(spec.shape), "values": spec.astype(np.float16)})
    table = rows_table(SPECTROGRAMS_SCHEMA, rows)
    rej = rejects_table(rejects)
    write_parts({dirs[1]: rej, dirs[0]: table}, shard.key, schema_version=SCHEMA_VERSION, params=meta)
    return {"clips": len(shard.clips), "segments": len(rows), "rejects": len(rejects)}


def spectrogram_array(row: pd.Series) -> np.ndarray:
    """A spectrograms-table row's values as a float32 (2, frames, 257) array."""
    return np.asarray(row["values"], np.float32).reshape(tuple(row["shape"]))
