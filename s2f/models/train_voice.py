"""Train the voice encoder against each clip's face feature.

One encoder (s2f/models/networks.py), Adam, a cosine or exponential learning-rate schedule stepped per epoch. The
loss (s2f/models/losses.py) is InfoNCE against the train speakers' faces plus a standardised squared error by
default; Speech2Face's terms are there too, the distillation teacher (a face classifier of train speakers) fitted
only when its weight is above 0. After every epoch the val loss is measured (InfoNCE among the val speakers'
faces, so it tracks retrieval) and a checkpoint written; the epoch with the lowest val loss is kept, and training
stops after `patience` epochs without a better one. A rerun with the same params, data and decoder continues
from the checkpoint. At the end the kept encoder is recentred (its mean prediction over the train clips moved onto
the train-mean face: VoiceEncoder.recentre), then gets its spread factor for drawing (s2f/models/spread.py) and
its val retrieval scores (the same metrics as the evaluation's, on val speakers).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from s2f import metrics as m
from s2f.audio.spectrogram import HOP, SAMPLE_RATE, WIN
from s2f.config import VoiceModelParams
from s2f.errors import InputError
from s2f.hashing import sha256_file
from s2f.models.augment import Augmentation, augment
from s2f.models.data import FeatureSplit, SpectrogramStream, Views, VoiceData, split_records
from s2f.models.distributed import barrier, parallel, start, total
from s2f.models.losses import VoiceTargets, voice_loss
from s2f.models.networks import EncoderConfig, VoiceEncoder, mixed_precision, pick_device
from s2f.models.speaker import DIM, TEMPOS, SpeakerEmbedding, mean_of, projection
from s2f.models.spread import spread_factor
from s2f.models.store import load_checkpoint, save_checkpoint

EpochLog = Callable[[int, dict[str, float]], None]
POOL, ROUNDS = 100, 20  # val retrieval as the evaluation scores test: pools of 100 faces (all if fewer), 20 rounds


class IdentityClassifier(nn.Module):
    """Standardise a face feature, then a linear layer over train speakers.

    Face descriptors of different people are close (cosine ~0.9), so without standardising, a linear softmax
    stays nearly uniform at T = 2 and the distillation term carries no signal.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, classes: int):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(len(mean), classes)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.linear((feature - self.mean) / self.std)


def fit_identity_classifier(features: np.ndarray, speakers: list[str], steps: int, seed: int,
                            weight_decay: float = 0.0) -> IdentityClassifier:
    """The distillation teacher: fitted on train-speaker face features, then frozen."""
    torch.manual_seed(seed)
    classes = sorted(set(speakers))
    y = torch.tensor([classes.index(s) for s in speakers])
    x = torch.from_numpy(features)
    clf = IdentityClassifier(x.mean(0), x.std(0) + 1e-6, len(classes))
    opt = torch.optim.Adam(clf.parameters(), lr=0.01, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(clf(x), y).backward()
        opt.step()
    return clf.requires_grad_(False).eval()


@dataclass(frozen=True)
class SplitFaces:
    """One split's targets on the device: each clip's face feature and speaker (a row of `faces`), and each
    speaker's face (the normalised mean of its clips' features: what retrieval ranks)."""

    features: torch.Tensor  # (clips, dim)
    speaker: torch.Tensor  # (clips,) row in `faces`
    faces: torch.Tensor  # (speakers, dim)
    speakers: list[str]  # each clip's speaker id

    @classmethod
    def of(cls, split: FeatureSplit, device: torch.device) -> SplitFaces:
        faces, names = m.speaker_faces(split.features, split.speakers)
        index = {s: i for i, s in enumerate(names)}
        owner = np.array([index[s] for s in split.speakers])
        return cls(torch.from_numpy(split.features).to(device), torch.from_numpy(owner).to(device),
                   torch.from_numpy(faces.astype(np.float32)).to(device), list(split.speakers))


def seconds_label(frames: int) -> str:
    """'3s' for 298 STFT frames, '6s' for 598: the audio length they span, as evaluate names its lengths."""
    return f"{round(((frames - 1) * HOP + WIN) / SAMPLE_RATE, 1):g}s"


class VoiceTrainer:
    """Everything one training run needs: data, targets, frozen parts, the encoder and its optimiser."""

    def __init__(self, p: VoiceModelParams, fc: nn.Linear, data: VoiceData):
        self.p, self.data = p, data
        self.ranks, self.device = start(pick_device())  # one process, or one of torchrun's
        self.weights = p.loss
        self.augmentation = Augmentation(**p.augment.model_dump())
        train, val = data.train, data.val
        teacher = (fit_identity_classifier(train.features, train.speakers, p.identity_steps, p.seed,
                                           p.identity_weight_decay).to(self.device) if p.loss.distill else None)
        frozen_fc = fc.requires_grad_(False).to(self.device) if p.loss.fc_l1 else None
        self.train_faces, self.val_faces = SplitFaces.of(train, self.device), SplitFaces.of(val, self.device)
        self.mean_feature = torch.from_numpy(train.features.mean(0))
        spread = torch.from_numpy(train.features.std(0) + 1e-6)
        self.targets = {split: VoiceTargets(faces.faces, spread.to(self.device), frozen_fc, teacher)
                        for split, faces in (("train", self.train_faces), ("val", self.val_faces))}
        torch.manual_seed(p.seed)
        self.cfg = EncoderConfig(**p.architecture(), feature_dim=train.features.shape[1], dropout=p.dropout)
        self.model = VoiceEncoder(self.cfg)
        self.model.start_at(self.mean_feature, spread)
        speaker, views = None, Views(self.augmentation, p.speaker_views, p.seed)
        if self.model.speaker is not None:  # frozen: each clip's embeddings are computed once, on the device
            speaker = copy.deepcopy(self.model.speaker.load_pretrained()).to(self.device)
            if data.train_records is not None:
                data.train_records.embed(speaker, views)
            if self.cfg.speaker_nuisance or self.cfg.speaker_keep or self.cfg.speaker_tempo:
                stretched = self.stretched_embeddings(speaker) if self.cfg.speaker_tempo else None
                self.model.projection.copy_(projection(self.view_embeddings(speaker, views), self.cfg.speaker_nuisance,
                                                       self.cfg.speaker_keep, stretched, self.cfg.speaker_tempo))
            speaker = speaker.cpu()  # the streams' copy (DataLoader workers run on the CPU)
        self.model.to(self.device)
        self.net = parallel(self.model, self.ranks, self.device)  # what a training step calls
        self.train_set = SpectrogramStream(data.spectrograms, {c: i for i, c in enumerate(train.ids)}, "train",
                                           self.cfg.frames, True, p.seed, p.shuffle_buffer, data.train_records,
                                           speaker, views)
        self.val_set = self.in_order("val", self.cfg.frames)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        self.sched = (torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=p.epochs)
                      if p.lr_schedule == "cosine" else torch.optim.lr_scheduler.ExponentialLR(self.opt, p.lr_decay))

    def train_specs(self, most: int) -> Iterator[tuple[str, int, np.ndarray]]:
        """(clip, index in its part file's train records, spectrogram) of up to `most` train records, in the order
        the cache holds them (read from the Parquet files when the split is streamed)."""
        records, found = self.data.train_records, 0
        for f in (records.by_file if records is not None else sorted(self.data.spectrograms.glob("part-*.parquet"))):
            for k, (clip, spec) in enumerate(records.by_file[f] if records is not None
                                             else split_records(f, "train", set(self.data.train.ids))):
                if found == most:
                    return
                found += 1
                yield clip, k, spec

    def view_embeddings(self, speaker: SpeakerEmbedding, views: Views, most: int = 2000) -> torch.Tensor:
        """(clips, 1 + copies, 256): the whole-clip embeddings of each view of up to `most` train records (from the
        cache when the split is in memory)."""
        records = self.data.train_records
        if records is not None and records.partials is not None:
            found = [p for parts in records.partials.values() for p in parts][:most]
        else:
            found = [views.partials(speaker, clip, k, spec) for clip, k, spec in self.train_specs(most)]
        return (torch.stack([mean_of(torch.from_numpy(p)) for p in found]) if found
                else torch.zeros(0, 1, DIM))

    @torch.no_grad()
    def stretched_embeddings(self, speaker: SpeakerEmbedding, most: int = 2000) -> torch.Tensor:
        """(clips, rates, 256): the clean whole-clip embeddings of the same train records as `view_embeddings`, each
        spoken at every rate of `TEMPOS`."""
        device = speaker.mel_bands.device
        found = [torch.cat([mean_of(speaker.partials(torch.from_numpy(spec.astype(np.float32))[None].to(device),
                                                     tempo)) for tempo in TEMPOS]).cpu()
                 for _, _, spec in self.train_specs(most)]
        return torch.stack(found) if found else torch.zeros(0, len(TEMPOS), DIM)

    def in_order(self, split: str, frames: int | None) -> SpectrogramStream:
        """A split's clips in order, each its first `frames` (None: whole), unaugmented: val scoring, and the train
        clips that recentring averages over."""
        part = self.data.val if split == "val" else self.data.train
        records = self.data.val_records if split == "val" else self.data.train_records
        rows = {c: i for i, c in enumerate(part.ids)}
        return SpectrogramStream(self.data.spectrograms, rows, split, frames, False, records=records)

    def loader(self, dataset: SpectrogramStream) -> DataLoader:
        """Batches of `dataset`, in page-locked memory for a GPU (copied to it while the next batch is read)."""
        return DataLoader(dataset, batch_size=self.p.batch_size, num_workers=self.p.workers,
                          pin_memory=self.device.type == "cuda")

    def train_epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        self.train_set.set_epoch(epoch)
        faces = self.train_faces
        loss_sum, count = 0.0, 0
        for batch, (spec, rows, *known) in enumerate(self.loader(self.train_set)):
            if len(rows) < 2 * self.ranks.world:  # under 2 clips a process cannot batch-normalise; reshuffled next epoch
                continue
            speaker = known[0] if known else None  # the crops' cached speaker embeddings, each of one view
            mine = None
            if self.ranks.world > 1:  # this process's share of the batch, each with the effects it gets in one
                mine = self.ranks.share(len(rows))
                spec, rows = spec[mine], rows[mine]
                speaker = speaker[mine] if speaker is not None else None
            rows = rows.to(self.device)
            if self.model.trunk is not None:  # the embedding alone (`speaker: only`) comes from the cached views
                spec = augment(spec, self.augmentation, (self.p.seed * 100_003 + epoch) * 10_007 + batch, mine)
            if speaker is not None:
                speaker = speaker.to(self.device, non_blocking=True)
            with mixed_precision(self.device, self.p.precision):  # the network; its loss in fp32 (below)
                pred = self.net(spec.to(self.device, non_blocking=True), speaker)
            # fp32: faces of different people have cosines of 0.8-0.95, which bf16 (8 bits) cannot tell apart
            # at InfoNCE's temperature
            terms = voice_loss(pred.float(), faces.features[rows], faces.speaker[rows], self.targets["train"],
                               self.weights)
            self.opt.zero_grad()
            terms["loss"].backward()
            self.opt.step()
            loss_sum += terms["loss"].item() * len(rows)
            count += len(rows)
        loss_sum, count = total(loss_sum, self.ranks), total(count, self.ranks)
        if count == 0:
            raise InputError(f"{self.data.spectrograms}: fewer than 2 train clips with both a spectrogram and a face "
                             "feature; the encoder's batch norm needs at least 2 per batch")
        self.sched.step()
        return {"train_loss": loss_sum / count, "lr": self.sched.get_last_lr()[0]}

    @torch.no_grad()
    def predict(self, dataset: SpectrogramStream) -> tuple[np.ndarray, np.ndarray, int]:
        """(predictions, rows, input frames) of a val stream, in eval mode."""
        self.model.eval()
        preds, rows = [], []
        for spec, row in self.loader(dataset):
            preds.append(self.model(spec.to(self.device)).cpu())
            rows.append(row)
        return torch.cat(preds).numpy(), torch.cat(rows).numpy(), spec.shape[2]

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """The val loss and its terms, and the val loss of always predicting the train mean (a reference)."""
        pred, rows, _ = self.predict(self.val_set)
        faces = self.val_faces
        index = torch.from_numpy(rows).to(self.device)
        true, speaker = faces.features[index], faces.speaker[index]
        terms = voice_loss(torch.from_numpy(pred).to(self.device), true, speaker, self.targets["val"], self.weights)
        mean = self.mean_feature.to(self.device).expand_as(true)
        terms["loss_mean_baseline"] = voice_loss(mean, true, speaker, self.targets["val"], self.weights)["loss"]
        return {f"val_{k}": v.item() for k, v in terms.items()}

    def val_scores(self) -> dict[str, float]:
        """Val retrieval of the encoder as it is (R@1, R@10 in pools of 100 val faces, 1:2 matching where there are 2
        val speakers or more, in %) at its training crop and at the whole clip, and the spread factor of its
        whole-clip predictions."""
        out: dict[str, float] = {}
        faces = self.val_faces.faces.cpu().numpy()
        names = sorted(set(self.val_faces.speakers))
        for frames in (self.cfg.frames, None):
            pred, rows, length = self.predict(self.in_order("val", frames))
            speakers = [self.val_faces.speakers[r] for r in rows]
            label = seconds_label(length)
            hits = m.query_hits(m.normalize(pred), speakers, faces, names, POOL, "cosine", ROUNDS, self.p.seed, (1, 10))
            out[f"val_R@1_{label}"] = 100 * float(hits[:, 0].mean())
            out[f"val_R@10_{label}"] = 100 * float(hits[:, 1].mean())
            if len(names) > 1:  # 1:2 matching needs an impostor
                out[f"val_1:2_{label}"] = 100 * m.matching(pred, speakers, faces, names)
        out["spread"] = spread_factor(self.data.train.features, pred, self.data.train.features.mean(0))
        return out


def code_version() -> str:
    """Hash of the model code (this package's sources): a checkpoint written by other code is not resumed."""
    return hashlib.sha256(b"".join(sha256_file(f).encode() for f in sorted(Path(__file__).parent.glob("*.py")))
                          ).hexdigest()[:16]


def decoder_version(fc: nn.Linear) -> str:
    """Hash of the frozen decoder's first layer, the part of the decoder the voice loss sees."""
    return hashlib.sha256(b"".join(t.detach().cpu().contiguous().numpy().tobytes() for t in (fc.weight, fc.bias))
                          ).hexdigest()[:16]


def run_key(p: VoiceModelParams, data_version: str, fc: nn.Linear) -> str:
    """What a checkpoint must match to be resumed: every voice_model param, the data, the decoder it is trained
    through (a retrained decoder with the same data must not resume the last encoder) and the code version."""
    blob = json.dumps({**p.model_dump(mode="json"), "data": data_version, "decoder": decoder_version(fc),
                       "code": code_version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_voice_encoder(p: VoiceModelParams, fc: nn.Linear, data: VoiceData, data_version: str,
                        checkpoints: str | Path, on_epoch: EpochLog | None = None
                        ) -> tuple[VoiceEncoder, dict[str, float]]:
    """Train the encoder, keeping the epoch with the lowest val loss and stopping `patience` epochs after it;
    resume from a matching checkpoint in the `checkpoints` folder. Returns the kept encoder (on the CPU, its spread
    factor set) and metrics: its val loss and terms, when it was reached, the spread factor and its val retrieval."""
    trainer = VoiceTrainer(p, fc, data)
    ckpt_path = Path(checkpoints) / f"voice_encoder-{run_key(p, data_version, fc)}.pt"
    state = {"best_loss": float("inf"), "best_epoch": -1, "stale": 0, "first_val_loss": None, "epochs_run": 0}
    best = _state(trainer.model)
    epoch0 = 0
    saved = load_checkpoint(ckpt_path, trainer.device)
    if saved is not None:
        trainer.model.load_state_dict(saved["model"])
        trainer.opt.load_state_dict(saved["optimizer"])
        trainer.sched.load_state_dict(saved["scheduler"])
        best, state, epoch0 = saved["best"], saved["state"], saved["epoch"] + 1
        torch.set_rng_state(saved["rng"])
    for epoch in range(epoch0, p.epochs):
        if state["stale"] >= p.patience:
            break
        metrics = {**trainer.train_epoch(epoch), **trainer.evaluate()}
        state["epochs_run"] = epoch + 1
        if state["first_val_loss"] is None:
            state["first_val_loss"] = metrics["val_loss"]
        if metrics["val_loss"] < state["best_loss"] - 1e-6:
            state.update(best_loss=metrics["val_loss"], best_epoch=epoch, stale=0)
            best = _state(trainer.model)
        else:
            state["stale"] += 1
        if trainer.ranks.main:  # the processes hold the same model: one writes it
            save_checkpoint({"model": trainer.model.state_dict(), "optimizer": trainer.opt.state_dict(),
                             "scheduler": trainer.sched.state_dict(), "best": best, "state": state, "epoch": epoch,
                             "rng": torch.get_rng_state()}, ckpt_path)
        barrier(trainer.ranks)
        if on_epoch and trainer.ranks.main:
            on_epoch(epoch, metrics)
    trainer.model.load_state_dict(best)
    train_predictions, _, _ = trainer.predict(trainer.in_order("train", None))
    trainer.model.recentre(torch.from_numpy(train_predictions.mean(0)).to(trainer.device))
    metrics = trainer.evaluate()
    metrics.update({"best_val_loss": state["best_loss"], "first_epoch_val_loss": state["first_val_loss"],
                    "best_epoch": state["best_epoch"] + 1, "epochs_run": state["epochs_run"]})
    metrics.update(trainer.val_scores())
    trainer.model.spread.fill_(metrics["spread"])
    return trainer.model.cpu().eval(), metrics

