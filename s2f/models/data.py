"""The spectrograms and face features as training and evaluation read them (the one place that reads those two
datasets): for training, spectrograms streamed from Parquet, paired with their clip's face feature.

The spectrogram set can be far larger than memory, so it is read one record batch at a time and shuffled
through a bounded buffer; DataLoader workers take disjoint part files. When a split fits in memory
(`SplitRecords.load`), the same stream reads its records from there instead of decoding Parquet every epoch:
order and crops are a function of (seed, epoch) either way, so runs are reproducible and the two give the same
batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from s2f.errors import InputError
from s2f.tables import list_arrays, read_dataset, stack_column


def load_features(path: str | Path, split: str | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """(clip ids, speaker ids, (n, dim) features) of a face_features dataset, optionally one split."""
    table = read_dataset(path, columns=["clip_id", "speaker_id", "split", "feature"])
    if split is not None:
        table = table[table.split == split]
    table = table.sort_values("clip_id")
    dim = len(table.feature.iloc[0]) if len(table) else 0
    return table.clip_id.tolist(), table.speaker_id.tolist(), stack_column(table.feature, (dim,)).astype(np.float32)


def read_spectrograms(path: str | Path, split: str) -> dict[str, np.ndarray]:
    """First-segment spectrograms of one split, by clip id (only that split is read): the evaluation's queries."""
    table = pq.read_table(path, columns=["clip_id", "segment", "shape", "values"], filters=[("split", "=", split)])
    return {clip: spec.astype(np.float32)
            for batch in table.to_batches()
            for clip, segment, spec in zip(batch.column("clip_id").to_pylist(), batch.column("segment").to_pylist(),
                                           list_arrays(batch), strict=True)
            if segment == 0}


def spectrogram_ids(path: str | Path, split: str) -> set[str]:
    """Clips of a split that the audio stage accepted (read without their values)."""
    table = pq.read_table(path, columns=["clip_id"], filters=[("split", "=", split)])
    return set(table.column("clip_id").to_pylist())


Record = tuple[str, np.ndarray]  # (clip id, float16 (2, frames, 257) spectrogram)


@dataclass(frozen=True)
class FeatureSplit:
    """One split's face features, sorted by clip id."""

    ids: list[str]
    speakers: list[str]
    features: np.ndarray  # (clips, dim) float32


@dataclass(frozen=True)
class VoiceData:
    """What voice training reads: the train and val clips' face features (its targets) and their spectrograms,
    held in memory (`*_records`) when a split fits the budget, else streamed from the `spectrograms` folder."""

    train: FeatureSplit
    val: FeatureSplit
    spectrograms: Path
    train_records: SplitRecords | None = None
    val_records: SplitRecords | None = None


def load_voice_data(features: str | Path, spectrograms: str | Path, memory_gb: float) -> VoiceData:
    """The face features of the train and val splits and, where a split's spectrograms take at most `memory_gb`
    (float16), those spectrograms; raises InputError when there is too little to train on."""
    train, val = (FeatureSplit(*load_features(features, s)) for s in ("train", "val"))
    if len(train.ids) < 2 or not val.ids:  # the teacher's feature scaling needs a spread: 2 clips at least
        raise InputError(f"{features}: need face features for at least 2 train clips and 1 val clip "
                         f"(found {len(train.ids)} and {len(val.ids)})")
    budget = memory_gb * 2 ** 30
    return VoiceData(train, val, Path(spectrograms), SplitRecords.load(spectrograms, "train", set(train.ids), budget),
                     SplitRecords.load(spectrograms, "val", set(val.ids), budget))


class SplitRecords:
    """One split's spectrograms held in memory (float16, as stored), grouped by part file."""

    def __init__(self, by_file: dict[Path, list[Record]]):
        self.by_file = by_file

    @classmethod
    def load(cls, spectrograms: str | Path, split: str, clips: set[str], max_bytes: float) -> "SplitRecords | None":
        """The split's records of `clips`, or None when they would take more than `max_bytes`."""
        files = sorted(Path(spectrograms).glob("part-*.parquet"))
        need = 0
        for f in files:
            table = pq.read_table(f, columns=["clip_id", "split", "shape"])
            for clip, part, shape in zip(*(table.column(c).to_pylist() for c in ("clip_id", "split", "shape"))):
                need += 2 * int(np.prod(shape)) if part == split and clip in clips else 0
        if need > max_bytes:
            return None
        by_file: dict[Path, list[Record]] = {}
        for f in files:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=64, columns=["clip_id", "split", "shape",
                                                                               "values"]):
                for clip, part, spec in zip(batch.column("clip_id").to_pylist(), batch.column("split").to_pylist(),
                                            list_arrays(batch)):
                    if part == split and clip in clips:
                        by_file.setdefault(f, []).append((clip, spec.copy()))
        return cls(by_file)


class SpectrogramStream(IterableDataset):
    """(spectrogram (2, frames, 257), row) pairs of one split, streamed: `rows` maps each clip id to its row in the
    split's FeatureSplit (its face feature and speaker); clips not in it are skipped."""

    def __init__(self, spectrograms: str | Path, rows: dict[str, int], split: str, frames: int | None,
                 train: bool, seed: int = 0, buffer: int = 64, records: SplitRecords | None = None):
        self.files = sorted(Path(spectrograms).glob("part-*.parquet"))
        self.records = records
        self.rows, self.split, self.frames = rows, split, frames
        self.train, self.seed, self.buffer, self.epoch = train, seed, buffer, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _crop(self, spec: np.ndarray, rng: random.Random) -> np.ndarray:
        """A `frames`-long window: random when training, the first `frames` otherwise (evaluate scores a clip's first
        seconds); tiled if the input is shorter. `frames` None: the whole spectrogram."""
        if self.frames is None:
            return spec
        have = spec.shape[1]
        if have < self.frames:
            spec = np.concatenate([spec] * (-(-self.frames // have)), axis=1)
            have = spec.shape[1]
        start = rng.randrange(have - self.frames + 1) if self.train else 0
        return spec[:, start:start + self.frames]

    def _records(self, files: list[Path]) -> Iterator[tuple[np.ndarray, int]]:
        rng = random.Random(f"{self.seed}/{self.epoch}/crop")  # str seeds are hashed stably
        if self.records is not None:
            for f in files:
                for clip, spec in self.records.by_file.get(f, []):
                    if clip in self.rows:
                        yield self._crop(spec, rng).astype(np.float32), self.rows[clip]
            return
        for f in files:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=16, columns=["clip_id", "split", "shape",
                                                                               "values"]):
                for clip, split, spec in zip(batch.column("clip_id").to_pylist(), batch.column("split").to_pylist(),
                                             list_arrays(batch)):
                    if split == self.split and clip in self.rows:
                        yield self._crop(spec.astype(np.float32), rng), self.rows[clip]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        files = list(self.files)
        rng = random.Random(f"{self.seed}/{self.epoch}/order")
        if self.train:
            rng.shuffle(files)
        info = get_worker_info()
        if info is not None:
            files = files[info.id::info.num_workers]
        buffer: list[tuple[np.ndarray, int]] = []
        for item in self._records(files):
            if not self.train:
                yield torch.from_numpy(item[0]), item[1]
                continue
            buffer.append(item)
            if len(buffer) >= self.buffer:
                spec, row = buffer.pop(rng.randrange(len(buffer)))
                yield torch.from_numpy(spec), row
        rng.shuffle(buffer)
        for spec, row in buffer:
            yield torch.from_numpy(spec), row
