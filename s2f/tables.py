"""Versioned Parquet datasets, written atomically.

A dataset is a directory of `part-NNNNN.parquet` files. Each part carries, in its Parquet metadata, the dataset
name, its schema version and the params that produced it, so a table found on disk says what made it. Writers
build the new directory beside the old one and swap it in with renames: an interrupted run leaves either the old
dataset or the new one, never a half-written file that a rerun would trust.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from s2f import __version__
from s2f.atomic import atomic_dir, atomic_write

META_KEY = b"s2f"


def _with_meta(table: pa.Table, dataset: str, schema_version: int, params: dict[str, Any]) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(
        {"dataset": dataset, "schema_version": schema_version, "params": params, "s2f_version": __version__},
        sort_keys=True,
    ).encode()
    return table.replace_schema_metadata(meta)


def write_parquet(table: pa.Table, path: Path, *, dataset: str, schema_version: int, params: dict[str, Any]) -> Path:
    """Write one Parquet file atomically."""
    return atomic_write(path, lambda tmp: pq.write_table(_with_meta(table, dataset, schema_version, params), tmp))


def write_dataset(
    parts: Iterable[pa.Table], path: Path, *, dataset: str, schema_version: int, params: dict[str, Any]
) -> Path:
    """Replace the dataset directory `path` with the given parts, atomically as a whole."""
    def fill(staging: Path) -> None:
        for i, part in enumerate(parts):
            write_parquet(part, staging / f"part-{i:05d}.parquet", dataset=dataset,
                          schema_version=schema_version, params=params)

    return atomic_dir(path, fill)


def read_dataset(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read every part of a dataset directory (or a single Parquet file) into one frame."""
    path = Path(path)
    files = sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no parquet parts")
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files]).to_pandas()


def read_meta(path: Path) -> dict[str, Any]:
    """The s2f metadata (dataset, schema_version, params, s2f_version) of a dataset or file."""
    path = Path(path)
    first = min(path.glob("part-*.parquet")) if path.is_dir() else path
    return json.loads(pq.read_schema(first).metadata[META_KEY])


def list_column(arrays: list[np.ndarray], value_type: pa.DataType) -> pa.ListArray:
    """An Arrow list column from numpy arrays (flattened), without a Python loop over values."""
    flat = [np.asarray(a).ravel() for a in arrays]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in flat])]).astype(np.int32)
    values = np.concatenate(flat) if flat else np.zeros(0)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(value_type.to_pandas_dtype())))


def rows_table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts holding a schema's columns; numpy arrays or lists for its list columns) as a table of it."""
    def column(field: pa.Field) -> pa.Array:
        values = [r[field.name] for r in rows]
        if pa.types.is_list(field.type):
            return list_column(values, field.type.value_type)
        return pa.array(values, field.type)

    return pa.Table.from_arrays([column(f) for f in schema], schema=schema)


def list_arrays(batch: pa.RecordBatch, values: str = "values", shape: str = "shape") -> list[np.ndarray]:
    """The inverse of `list_column` on a record batch: each row's values as a numpy view of its `shape`.

    Views into one buffer, no Python object per value, so streaming large spectrogram sets stays cheap.
    """
    column = batch.column(values)
    flat, offsets = column.values.to_numpy(zero_copy_only=False), column.offsets.to_numpy()
    return [flat[offsets[i]:offsets[i + 1]].reshape(s) for i, s in enumerate(batch.column(shape).to_pylist())]


def stack_column(values: pd.Series, shape: tuple[int, ...]) -> np.ndarray:
    """Rows of a list column read by pandas, stacked to an array of (rows, *shape)."""
    return np.stack([np.asarray(v).reshape(shape) for v in values]) if len(values) else np.zeros((0, *shape))


def dataset_version(path: str | Path) -> str:
    """A short fingerprint of a dataset's parts (names and sizes), recorded with models trained on it."""
    path = Path(path)
    files = sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]
    blob = "|".join(f"{f.name}:{f.stat().st_size}" for f in files)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
