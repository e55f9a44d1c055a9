"""Sharded stage outputs that resume.

A stage cuts the clip table into shards; each shard writes one part file per output dataset, named by a hash of
the shard's clips (ids, content hashes, segments) and the stage's params. A rerun skips shards whose parts all
exist, so an interrupted run finishes only what is missing, and the final content equals an uninterrupted run's.
Parts that no longer belong to the plan (other params, other clips) are pruned at the end.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from s2f.schemas import SHARD_REJECTS
from s2f.tables import write_parquet

REJECTS_SCHEMA = SHARD_REJECTS.schema


@dataclass(frozen=True)
class Shard:
    key: str
    clips: list[dict[str, Any]]


def _clean(value: Any) -> Any:
    """NaN -> None and numpy scalars -> Python, so rows hash and serialise the same everywhere."""
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def plan_shards(clips: pd.DataFrame, size: int, params: dict[str, Any]) -> list[Shard]:
    """Cut the clip table (sorted by clip_id) into shards of `size` clips, keyed by the clips and `params`.

    The key uses each clip's id, content hash and segment, so an upstream rerun that leaves the clips as they
    were leaves every shard done.
    """
    records = [{k: _clean(v) for k, v in r.items()} for r in clips.sort_values("clip_id").to_dict("records")]
    shards = []
    for i in range(0, len(records), size):
        chunk = records[i:i + size]
        ident = [(r["clip_id"], r["sha256"], r.get("segment_start"), r.get("segment_end")) for r in chunk]
        blob = json.dumps({"params": params, "clips": ident}, sort_keys=True, default=str)
        shards.append(Shard(hashlib.sha256(blob.encode()).hexdigest()[:20], chunk))
    return shards


def part_path(dataset: Path, key: str) -> Path:
    return Path(dataset) / f"part-{key}.parquet"


def is_done(datasets: list[Path], key: str) -> bool:
    return all(part_path(d, key).exists() for d in datasets)


def write_parts(tables: dict[Path, pa.Table], key: str, *, schema_version: int, params: dict[str, Any]) -> None:
    """Write a shard's part into each dataset directory (each file atomically)."""
    for dataset, table in tables.items():
        write_parquet(table, part_path(dataset, key), dataset=Path(dataset).name, schema_version=schema_version,
                      params=params)


def rejects_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A stage's rejects part: clip_id, speaker_id, path, reason, detail."""
    return pa.Table.from_pandas(pd.DataFrame(rows, columns=REJECTS_SCHEMA.names), schema=REJECTS_SCHEMA,
                                preserve_index=False)


def prune(datasets: list[Path], keys: list[str]) -> int:
    """Delete parts (and stray temp files) not in `keys`; returns how many files went."""
    wanted = {f"part-{k}.parquet" for k in keys}
    gone = 0
    for d in map(Path, datasets):
        for f in d.glob("*"):
            if f.is_file() and f.name not in wanted:
                f.unlink()
                gone += 1
    return gone
