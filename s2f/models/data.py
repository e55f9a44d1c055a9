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
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from s2f.errors import InputError
from s2f.models.augment import Augmentation, augment
from s2f.models.speaker import SpeakerEmbedding, crop_partials, mean_of, partial_starts
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


def split_records(part_file: Path, split: str, clips: set[str]) -> list[Record]:
    """The records of one part file that belong to `split` and `clips`, in file order."""
    out: list[Record] = []
    for batch in pq.ParquetFile(part_file).iter_batches(batch_size=64, columns=["clip_id", "split", "shape",
                                                                               "values"]):
        for clip, part, spec in zip(batch.column("clip_id").to_pylist(), batch.column("split").to_pylist(),
                                    list_arrays(batch)):
            if part == split and clip in clips:
                out.append((clip, spec.copy()))
    return out


@dataclass(frozen=True)
class Views:
    """The views of a clip whose frozen speaker embedding training uses: the clean recording and `augmented` copies
    with the training augmentation's effects, each drawn once from (seed, clip, copy). Computed once per record:
    the embedding network runs on none of the training steps (that would triple a CPU training's time), and its
    head still sees a clip through rooms, microphones and channels."""

    augmentation: Augmentation
    augmented: int
    seed: int

    @property
    def count(self) -> int:
        return 1 + (self.augmented if self.augmentation.active else 0)

    @torch.no_grad()
    def partials(self, speaker: SpeakerEmbedding, clip: str, index: int, spec: np.ndarray,
                 which: list[int] | None = None) -> np.ndarray:
        """(views, partials, 256) for one record (the `index`th of its part file in the split): every view, or those
        in `which` (0 is the clean one), on the speaker network's device."""
        clean = torch.from_numpy(spec.astype(np.float32))[None]
        key = (self.seed * 7919 + zlib.crc32(f"{clip}/{index}".encode())) * 31
        copies = [clean if k == 0 else augment(clean, self.augmentation, key + k)
                  for k in (range(self.count) if which is None else which)]
        device = speaker.mel_bands.device
        return speaker.partials(torch.cat(copies).to(device)).cpu().numpy()


class SplitRecords:
    """One split's spectrograms held in memory (float16, as stored), grouped by part file."""

    def __init__(self, by_file: dict[Path, list[Record]]):
        self.by_file = by_file
        self.partials: dict[Path, list[np.ndarray]] | None = None  # `embed`: each record's speaker partials

    def embed(self, speaker: SpeakerEmbedding, views: Views) -> None:
        """Compute every record's speaker-embedding partials once, for each of its views (`Views`)."""
        self.partials = {f: [views.partials(speaker, clip, k, spec) for k, (clip, spec) in enumerate(records)]
                         for f, records in self.by_file.items()}

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
        by_file = {f: found for f in files if (found := split_records(f, split, clips))}
        return cls(by_file)


class SpectrogramStream(IterableDataset):
    """(spectrogram (2, frames, 257), row) pairs of one split, streamed: `rows` maps each clip id to its row in the
    split's FeatureSplit (its face feature and speaker); clips not in it are skipped."""

    def __init__(self, spectrograms: str | Path, rows: dict[str, int], split: str, frames: int | None,
                 train: bool, seed: int = 0, buffer: int = 64, records: SplitRecords | None = None,
                 speaker: SpeakerEmbedding | None = None, views: Views | None = None):
        self.files = sorted(Path(spectrograms).glob("part-*.parquet"))
        self.records = records
        self.speaker = speaker  # given: each item also has its crop's speaker embedding, of one of its `views`
        self.views = views or Views(Augmentation(), 0, seed)
        self.rows, self.split, self.frames = rows, split, frames
        self.train, self.seed, self.buffer, self.epoch = train, seed, buffer, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _crop(self, spec: np.ndarray, rng: random.Random) -> tuple[np.ndarray, int, int]:
        """A `frames`-long window: random when training, the first `frames` otherwise (evaluate scores a clip's first
        seconds); tiled if the input is shorter. `frames` None: the whole spectrogram. With its start and length."""
        if self.frames is None:
            return spec, 0, spec.shape[1]
        have = spec.shape[1]
        if have < self.frames:
            spec = np.concatenate([spec] * (-(-self.frames // have)), axis=1)
            have = spec.shape[1]
        start = rng.randrange(have - self.frames + 1) if self.train else 0
        return spec[:, start:start + self.frames], start, self.frames

    def _item(self, spec: np.ndarray, row: int, rng: random.Random, clip: str, index: int,
              partials: np.ndarray | None) -> tuple:
        crop, start, length = self._crop(spec, rng)
        if self.speaker is None:
            return crop.astype(np.float32), row
        which = rng.randrange(self.views.count) if self.train else 0
        # streamed: the one view's partials, as SplitRecords.embed computes every view's
        view = partials[which] if partials is not None else self.views.partials(self.speaker, clip, index, spec,
                                                                                  [which])[0]
        chosen = crop_partials(partial_starts(spec.shape[1]), start, length) if length < spec.shape[1] else None
        picked = torch.from_numpy(view if chosen is None else view[chosen])
        return crop.astype(np.float32), row, mean_of(picked[None])[0]

    def _records(self, files: list[Path]) -> Iterator[tuple]:
        rng = random.Random(f"{self.seed}/{self.epoch}/crop")  # str seeds are hashed stably
        if self.records is not None:
            for f in files:
                cached = self.records.partials.get(f) if self.records.partials is not None else None
                for i, (clip, spec) in enumerate(self.records.by_file.get(f, [])):
                    if clip in self.rows:
                        yield self._item(spec, self.rows[clip], rng, clip, i, cached[i] if cached else None)
            return
        for f in files:
            index = 0  # the record's place among its part file's records of the split (as SplitRecords numbers them)
            for batch in pq.ParquetFile(f).iter_batches(batch_size=16, columns=["clip_id", "split", "shape",
                                                                               "values"]):
                for clip, split, spec in zip(batch.column("clip_id").to_pylist(), batch.column("split").to_pylist(),
                                             list_arrays(batch)):
                    if split == self.split and clip in self.rows:
                        yield self._item(spec, self.rows[clip], rng, clip, index, None)
                    index += split == self.split and clip in self.rows

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        files = list(self.files)
        rng = random.Random(f"{self.seed}/{self.epoch}/order")
        if self.train:
            rng.shuffle(files)
        info = get_worker_info()
        if info is not None:
            files = files[info.id::info.num_workers]
        buffer: list[tuple] = []
        for item in self._records(files):
            if not self.train:
                yield (torch.from_numpy(item[0]), *item[1:])
                continue
            buffer.append(item)
            if len(buffer) >= self.buffer:
                item = buffer.pop(rng.randrange(len(buffer)))
                yield (torch.from_numpy(item[0]), *item[1:])
        rng.shuffle(buffer)
        for item in buffer:
            yield (torch.from_numpy(item[0]), *item[1:])
