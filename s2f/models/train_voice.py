"""Train the voice encoder with the Speech2Face loss against each clip's face feature.

The frozen decoder's first layer and a frozen identity classifier (fitted here on train-speaker face features)
shape the loss. Adam (beta1 0.5, eps 1e-4), exponential lr decay per epoch, early stopping on val loss. After
every epoch a checkpoint is written; a rerun with the same params and data continues from it. `members`
encoders are trained this way from consecutive seeds; their average then gets its spread factor from its val
predictions (s2f/models/spread.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from s2f.config import VoiceModelParams
from s2f.hashing import sha256_file
from s2f.models.data import SpectrogramStream, load_features
from s2f.models.losses import VoiceLossWeights, voice_loss
from s2f.models.networks import EncoderConfig, VoiceEncoder, VoiceEnsemble, pick_device
from s2f.models.spread import spread_factor
from s2f.models.store import load_checkpoint, save_checkpoint

EpochLog = Callable[[int, dict[str, float]], None]


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


class VoiceTrainer:
    """Everything one training run needs: data, frozen parts, the model and its optimiser."""

    def __init__(self, p: VoiceModelParams, fc: nn.Linear):
        self.p = p
        self.device = pick_device()
        torch.manual_seed(p.seed)
        width, frames = p.architecture()
        ids, speakers, feats = load_features(p.features, "train")
        val_ids, _, val_feats = load_features(p.features, "val")
        if len(ids) < 2 or not val_ids:  # the teacher's feature scaling needs a spread: 2 clips at least
            raise ValueError(f"{p.features}: need face features for at least 2 train clips and 1 val clip "
                             f"(found {len(ids)} and {len(val_ids)})")
        self.fc = copy.deepcopy(fc).requires_grad_(False).to(self.device)
        self.classifier = fit_identity_classifier(feats, speakers, p.identity_steps, p.seed,
                                                  p.identity_weight_decay).to(self.device)
        self.weights = VoiceLossWeights(**p.loss.model_dump())
        self.train_features = feats
        self.mean_feature = torch.from_numpy(feats.mean(0)).to(self.device)
        self.train_set = SpectrogramStream(p.spectrograms, dict(zip(ids, feats)), "train", frames, True, p.seed,
                                           p.shuffle_buffer)
        self.val_set = SpectrogramStream(p.spectrograms, dict(zip(val_ids, val_feats)), "val", frames, False)
        self.model = VoiceEncoder(EncoderConfig(width=width, frames=frames, feature_dim=feats.shape[1],
                                                dropout=p.dropout))
        self.model.start_at(self.mean_feature, torch.from_numpy(feats.std(0) + 1e-6))
        self.model.to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p.lr, betas=(0.5, 0.999), eps=1e-4,
                                    weight_decay=p.weight_decay)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=p.lr_decay)

    def loader(self, dataset: SpectrogramStream) -> DataLoader:
        return DataLoader(dataset, batch_size=self.p.batch_size, num_workers=self.p.workers)

    def loss(self, pred: torch.Tensor, true: torch.Tensor) -> dict[str, torch.Tensor]:
        return voice_loss(pred, true, self.fc, self.classifier, self.weights)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        self.train_set.set_epoch(epoch)
        total, count = 0.0, 0
        for spec, true in self.loader(self.train_set):
            if len(spec) < 2:  # a last batch of one clip cannot be batch-normalised; it is reshuffled next epoch
                continue
            spec, true = spec.to(self.device), true.to(self.device)
            terms = self.loss(self.model(spec), true)
            self.opt.zero_grad()
            terms["loss"].backward()
            self.opt.step()
            total += terms["loss"].item() * len(spec)
            count += len(spec)
        if count == 0:
            raise ValueError(f"{self.p.spectrograms}: fewer than 2 train clips with both a spectrogram and a face "
                             "feature; the encoder's batch norm needs at least 2 per batch")
        self.sched.step()
        return {"train_loss": total / count, "lr": self.sched.get_last_lr()[0]}

    @torch.no_grad()
    def evaluate(self, model: nn.Module | None = None) -> dict[str, float]:
        """Val loss terms of the model (or of `model`), and the val loss of always predicting the train mean."""
        model = model or self.model
        model.eval()
        sums: dict[str, float] = {}
        count = 0
        for spec, true in self.loader(self.val_set):
            spec, true = spec.to(self.device), true.to(self.device)
            model_terms = self.loss(model(spec), true)
            mean_terms = self.loss(self.mean_feature.expand_as(true), true)
            for k, v in model_terms.items():
                sums[f"val_{k}"] = sums.get(f"val_{k}", 0.0) + v.item() * len(spec)
            baseline = sums.get("val_loss_mean_baseline", 0.0)
            sums["val_loss_mean_baseline"] = baseline + mean_terms["loss"].item() * len(spec)
            count += len(spec)
        return {k: v / max(count, 1) for k, v in sums.items()}

    @torch.no_grad()
    def widen(self, ensemble: VoiceEnsemble) -> float:
        """Set the ensemble's spread factor so that its val predictions are as spread as train faces; return it."""
        ensemble.eval()
        ensemble.spread.fill_(1.0)
        pred = np.concatenate([ensemble(spec.to(self.device)).cpu().numpy() for spec, _ in self.loader(self.val_set)])
        k = spread_factor(self.train_features, pred, self.train_features.mean(0))
        ensemble.spread.fill_(k)
        return k


def code_version() -> str:
    """Hash of the model code (this package's sources): a checkpoint written by other code is not resumed."""
    return hashlib.sha256(b"".join(sha256_file(f).encode() for f in sorted(Path(__file__).parent.glob("*.py")))
                          ).hexdigest()[:16]


def run_key(p: VoiceModelParams, data_version: str) -> str:
    """What a checkpoint must match to be resumed: every voice_model param, the data and the code version."""
    blob = json.dumps({**p.model_dump(mode="json"), "data": data_version, "code": code_version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_member(p: VoiceModelParams, fc: nn.Linear, data_version: str,
                 on_epoch: EpochLog | None = None) -> tuple[VoiceTrainer, dict[str, float]]:
    """Train one encoder (resuming from a matching checkpoint); return its trainer, holding the best-on-val
    model, and its metrics."""
    trainer = VoiceTrainer(p, fc)
    key = run_key(p, data_version)
    ckpt_path = Path(p.checkpoints) / f"voice_encoder-{key}.pt"
    state = {"epoch": -1, "best_loss": float("inf"), "stale": 0, "history": [], "first_val_loss": None}
    best_state = copy.deepcopy(trainer.model.state_dict())
    saved = load_checkpoint(ckpt_path, trainer.device)
    if saved is not None:
        trainer.model.load_state_dict(saved["model"])
        trainer.opt.load_state_dict(saved["optimizer"])
        trainer.sched.load_state_dict(saved["scheduler"])
        best_state = saved["best_model"]
        state = saved["state"]
        torch.set_rng_state(saved["rng"])
    metrics: dict[str, float] = {}
    for epoch in range(state["epoch"] + 1, p.epochs):
        if state["stale"] >= p.patience:
            break
        metrics = {**trainer.train_epoch(epoch), **trainer.evaluate()}
        if state["first_val_loss"] is None:
            state["first_val_loss"] = metrics["val_loss"]
        if metrics["val_loss"] < state["best_loss"] - 1e-6:
            state["best_loss"], state["stale"] = metrics["val_loss"], 0
            best_state = copy.deepcopy(trainer.model.state_dict())
        else:
            state["stale"] += 1
        state["epoch"] = epoch
        state["history"].append(metrics["val_loss"])
        save_checkpoint({"model": trainer.model.state_dict(), "optimizer": trainer.opt.state_dict(),
                         "scheduler": trainer.sched.state_dict(), "best_model": best_state, "state": state,
                         "rng": torch.get_rng_state()},
                        ckpt_path)
        if on_epoch:
            on_epoch(epoch, metrics)
    trainer.model.load_state_dict(best_state)
    final = trainer.evaluate()
    final.update({"best_val_loss": state["best_loss"], "first_epoch_val_loss": state["first_val_loss"],
                  "epochs_run": state["epoch"] + 1})
    return trainer, final


def train_voice_encoder(p: VoiceModelParams, fc: nn.Linear, data_version: str,
                        on_epoch: EpochLog | None = None) -> tuple[VoiceEnsemble, dict[str, float]]:
    """Train `members` encoders from seeds seed, seed + 1, ...; return their average, widened to the train faces'
    spread, and metrics: each member's (`member<i>_...`), their mean, and the ensemble's val loss (unwidened)."""
    members: list[VoiceEncoder] = []
    metrics: dict[str, float] = {}
    for i in range(p.members):
        log = (lambda epoch, m, i=i: on_epoch(epoch, {**m, "member": i})) if on_epoch else None
        trainer, final = train_member(p.model_copy(update={"seed": p.seed + i}), fc, data_version, log)
        members.append(trainer.model)
        metrics.update({f"member{i}_{k}": v for k, v in final.items()})
    for k in final:
        metrics[k] = float(np.mean([metrics[f"member{i}_{k}"] for i in range(p.members)]))
    ensemble = VoiceEnsemble(members).to(trainer.device)
    metrics["ensemble_val_loss"] = trainer.evaluate(ensemble)["val_loss"]
    metrics["spread"] = trainer.widen(ensemble)
    return ensemble.cpu().eval(), metrics
