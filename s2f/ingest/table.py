"""Assemble the clip table: drop duplicate files, give stable ids, split by speaker, fix the schema."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import pandas as pd
import pyarrow as pa

from s2f.config import SplitParams
from s2f.ingest.sources import Reject
from s2f.schemas import CLIPS, CLIPS_REJECTS

SCHEMA_VERSION = 1
CLIPS_SCHEMA = CLIPS.schema
REJECTS_SCHEMA = CLIPS_REJECTS.schema


def clip_id(source: str, row: dict[str, Any]) -> str:
    """Stable id from what identifies a clip in its source (path and segment), not from run order."""
    key = f"{source}|{row['path']}|{row.get('segment_start')}|{row.get('segment_end')}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _rank(seed: int, speaker: str) -> str:
    return hashlib.sha256(f"{seed}|{speaker}".encode()).hexdigest()


def assign_splits(speakers: Iterable[str], ratios: SplitParams, seed: int) -> dict[str, str]:
    """Speaker -> train/val/test: a seeded hash order cut by the ratios; no speaker in two splits.

    Each split with a non-zero ratio gets at least one speaker when there are enough speakers.
    """
    order = sorted(set(speakers), key=lambda s: _rank(seed, s))
    n = len(order)
    n_test = max(1, round(n * ratios.test)) if ratios.test > 0 and n >= 3 else round(n * ratios.test)
    n_val = max(1, round(n * ratios.val)) if ratios.val > 0 and n >= 3 else round(n * ratios.val)
    if ratios.train > 0 and n >= 3:  # rounding must not take train's last speaker (3 speakers at .4/.1/.5)
        n_test = min(n_test, n - n_val - 1)
    out = {s: "test" for s in order[:n_test]}
    out |= {s: "val" for s in order[n_test:n_test + n_val]}
    out |= {s: "train" for s in order[n_test + n_val:]}
    return out


def drop_duplicates(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Keep the first file (by path) of each content hash; the same file with other segments is kept."""
    first: dict[str, str] = {}
    kept, rejects = [], []
    for row in sorted(rows, key=lambda r: (r["path"], r["segment_start"] or 0.0)):
        owner = first.setdefault(row["sha256"], row["path"])
        if owner == row["path"]:
            kept.append(row)
        else:
            rejects.append(Reject(row["path"], row["source_row"], "duplicate", f"same content as {owner}"))
    return kept, rejects


def build_tables(source: str, rows: list[dict[str, Any]], rejects: list[Reject], ratios: SplitParams,
                 seed: int) -> tuple[pa.Table, pa.Table]:
    """The clips and rejects tables, sorted by clip_id / path so reruns give identical files."""
    kept, dups = drop_duplicates(rows)
    splits = assign_splits((r["speaker_id"] for r in kept), ratios, seed)
    clips = pd.DataFrame([{**r, "clip_id": clip_id(source, r), "split": splits[r["speaker_id"]], "source": source}
                          for r in kept], columns=CLIPS_SCHEMA.names)
    clips = clips.sort_values("clip_id", kind="stable")
    rej = pd.DataFrame([asdict(r) for r in rejects + dups], columns=REJECTS_SCHEMA.names)
    rej = rej.sort_values(["path", "source_row"], kind="stable")
    return (pa.Table.from_pandas(clips, schema=CLIPS_SCHEMA, preserve_index=False),
            pa.Table.from_pandas(rej, schema=REJECTS_SCHEMA, preserve_index=False))
