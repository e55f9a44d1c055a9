"""Train the voice encoder with the Speech2Face loss against each clip's face feature.

The frozen decoder's first layer and a frozen identity classifier (fitted here on train-speaker face features)
shape the loss. Adam (beta1 0.5, eps 1e-4), an exponential or cosine lr schedule stepped per epoch, early
stopping on val loss. After every epoch a checkpoint is written; a rerun with the same params, data and decoder
continues from it. `members`
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
from s2f.models.data import SpectrogramStream, VoiceData
from s2f.models.losses import VoiceLossWeights, voice_loss
from s2f.models.networks import EncoderConfig, VoiceEncoder, VoiceEncoderStack, VoiceEnsemble, pick_device
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
    """Everything one training run needs: data, frozen parts, the `members` encoders and their optimiser.

    The members are trained together as one `VoiceEncoderStack`: member m starts from the weights and teacher that
    seed `seed + m` gives and sees its own order and crops of the train clips (its own `SpectrogramStream`), so it
    follows the path it would alone; its parameters, gradients and Adam moments are its own.
    """

    def __init__(self, p: VoiceModelParams, fc: nn.Linear, data: VoiceData):
        self.p = p
        self.device = pick_device()
        width, frames = p.architecture()
        ids, speakers, feats = data.train.ids, data.train.speakers, data.train.features
        val_ids, val_feats = data.val.ids, data.val.features
        self.fc = copy.deepcopy(fc).requires_grad_(False).to(self.device)
        self.weights = VoiceLossWeights(**p.loss.model_dump())
        self.train_features = feats
        self.mean_feature = torch.from_numpy(feats.mean(0)).to(self.device)
        self.classifiers, members = [], []
        for m in range(p.members):  # the same draws, in the same order, as training each member alone
            torch.manual_seed(p.seed + m)
            self.classifiers.append(fit_identity_classifier(feats, speakers, p.identity_steps, p.seed + m,
                                                            p.identity_weight_decay).to(self.device))
            encoder = VoiceEncoder(EncoderConfig(width=width, frames=frames, feature_dim=feats.shape[1],
                                                 dropout=p.dropout))
            encoder.start_at(self.mean_feature.cpu(), torch.from_numpy(feats.std(0) + 1e-6))
            members.append(encoder)
        torch.manual_seed(p.seed)
        self.model = VoiceEncoderStack(members).to(self.device).to(memory_format=torch.channels_last)
        self.train_sets = [SpectrogramStream(data.spectrograms, dict(zip(ids, feats)), "train", frames, True,
                                             p.seed + m, p.shuffle_buffer, data.train_records)
                           for m in range(p.members)]
        self.val_set = SpectrogramStream(data.spectrograms, dict(zip(val_ids, val_feats)), "val", frames, False,
                                         records=data.val_records)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=p.lr, betas=(0.5, 0.999), eps=1e-4,
                                    weight_decay=p.weight_decay)
        self.sched = (torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=p.epochs)
                      if p.lr_schedule == "cosine" else torch.optim.lr_scheduler.ExponentialLR(self.opt, p.lr_decay))

    def loader(self, dataset: SpectrogramStream) -> DataLoader:
        return DataLoader(dataset, batch_size=self.p.batch_size, num_workers=self.p.workers)

    def stacked(self, specs: list[torch.Tensor]) -> torch.Tensor:
        """Member m's batch in channels 2m, 2m + 1, on the device, channels-last (faster convs on the CPU)."""
        return torch.cat(specs, 1).to(self.device).contiguous(memory_format=torch.channels_last)

    def member_losses(self, pred: torch.Tensor, true: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Each member's loss terms: pred and true are (batch, members, feature_dim)."""
        return [voice_loss(pred[:, m], true[:, m], self.fc, clf, self.weights)
                for m, clf in enumerate(self.classifiers)]

    def train_epoch(self, epoch: int) -> list[dict[str, float]]:
        self.model.train()
        for dataset in self.train_sets:
            dataset.set_epoch(epoch)
        totals, count = [0.0] * self.p.members, 0
        for batches in zip(*(self.loader(d) for d in self.train_sets)):
            specs, trues = zip(*batches)
            if len(specs[0]) < 2:  # a last batch of one clip cannot be batch-normalised; reshuffled next epoch
                continue
            true = torch.stack(trues, 1).to(self.device)
            terms = self.member_losses(self.model(self.stacked(list(specs))), true)
            self.opt.zero_grad()
            sum(t["loss"] for t in terms).backward()  # parameters are disjoint: each member gets its own gradient
            self.opt.step()
            for m, t in enumerate(terms):
                totals[m] += t["loss"].item() * len(true)
            count += len(true)
        if count == 0:
            raise ValueError(f"{self.p.spectrograms}: fewer than 2 train clips with both a spectrogram and a face "
                             "feature; the encoder's batch norm needs at least 2 per batch")
        self.sched.step()
        lr = self.sched.get_last_lr()[0]
        return [{"train_loss": total / count, "lr": lr} for total in totals]

    @torch.no_grad()
    def evaluate(self, model: Callable[[torch.Tensor], torch.Tensor] | None = None) -> list[dict[str, float]]:
        """Each member's val loss terms, against its own teacher, and the val loss of always predicting the train
        mean. `model`: a (batch, 2, ...) -> (batch, members, dim) model instead of the stack being trained."""
        model = model or self.model
        self.model.eval()
        sums = [dict[str, float]() for _ in range(self.p.members)]
        count = 0
        for spec, true in self.loader(self.val_set):
            true = true.to(self.device)
            pred = (self.model(self.stacked([spec] * self.p.members)) if model is self.model
                    else model(spec.to(self.device)))
            mean = self.mean_feature.expand_as(true)
            for m, clf in enumerate(self.classifiers):
                terms = voice_loss(pred[:, m], true, self.fc, clf, self.weights)
                terms["loss_mean_baseline"] = voice_loss(mean, true, self.fc, clf, self.weights)["loss"]
                for k, v in terms.items():
                    sums[m][f"val_{k}"] = sums[m].get(f"val_{k}", 0.0) + v.item() * len(spec)
            count += len(spec)
        return [{k: v / max(count, 1) for k, v in s.items()} for s in sums]

    def ensemble_val_loss(self, ensemble: VoiceEnsemble) -> float:
        """The averaged prediction's val loss, against each member's teacher in turn, averaged."""
        ensemble.eval()
        losses = self.evaluate(lambda spec: ensemble(spec)[:, None].expand(-1, self.p.members, -1))
        return sum(m["val_loss"] for m in losses) / len(losses)

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


def train_voice_encoder(p: VoiceModelParams, fc: nn.Linear, data: VoiceData, data_version: str,
                        checkpoints: str | Path, on_epoch: EpochLog | None = None
                        ) -> tuple[VoiceEnsemble, dict[str, float]]:
    """Train `members` encoders (seeds seed, seed + 1, ...) together, each stopping early on its own val loss;
    resume from a matching checkpoint in the `checkpoints` folder. Returns their average, widened to the train
    faces' spread, and metrics: each member's (`member<i>_...`), their mean, and the ensemble's val loss
    (unwidened)."""
    trainer = VoiceTrainer(p, fc, data)
    key = run_key(p, data_version, fc)
    ckpt_path = Path(checkpoints) / f"voice_encoder-{key}.pt"
    members = [{"best_loss": float("inf"), "stale": 0, "first_val_loss": None, "epochs_run": 0}
               for _ in range(p.members)]
    best = [trainer.model.member_state(m) for m in range(p.members)]
    epoch0 = 0
    saved = load_checkpoint(ckpt_path, trainer.device)
    if saved is not None:
        trainer.model.load_state_dict(saved["model"])
        trainer.opt.load_state_dict(saved["optimizer"])
        trainer.sched.load_state_dict(saved["scheduler"])
        best, members, epoch0 = saved["best"], saved["members"], saved["epoch"] + 1
        torch.set_rng_state(saved["rng"])
    for epoch in range(epoch0, p.epochs):
        if all(s["stale"] >= p.patience for s in members):
            break
        per_member = [{**t, **v} for t, v in zip(trainer.train_epoch(epoch), trainer.evaluate())]
        for m, (state, metrics) in enumerate(zip(members, per_member)):
            if state["stale"] >= p.patience:  # stopped: it trains on with the others, but nothing it learns counts
                continue
            state["epochs_run"] = epoch + 1
            if state["first_val_loss"] is None:
                state["first_val_loss"] = metrics["val_loss"]
            if metrics["val_loss"] < state["best_loss"] - 1e-6:
                state["best_loss"], state["stale"] = metrics["val_loss"], 0
                best[m] = trainer.model.member_state(m)
            else:
                state["stale"] += 1
        save_checkpoint({"model": trainer.model.state_dict(), "optimizer": trainer.opt.state_dict(),
                         "scheduler": trainer.sched.state_dict(), "best": best, "members": members,
                         "epoch": epoch, "rng": torch.get_rng_state()}, ckpt_path)
        if on_epoch:
            for m, metrics in enumerate(per_member):
                on_epoch(epoch, {**metrics, "member": m})
    encoders = []
    for state in best:
        encoder = VoiceEncoder(trainer.model.cfg)
        encoder.load_state_dict(state)
        encoders.append(encoder.to(trainer.device).eval())
    ensemble = VoiceEnsemble(encoders).to(trainer.device)
    metrics: dict[str, float] = {}
    finals = trainer.evaluate(lambda spec: torch.stack([e(spec.to(trainer.device)) for e in encoders], 1))
    for m, (final, state) in enumerate(zip(finals, members)):
        final.update({"best_val_loss": state["best_loss"], "first_epoch_val_loss": state["first_val_loss"],
                      "epochs_run": state["epochs_run"]})
        metrics.update({f"member{m}_{k}": v for k, v in final.items()})
    for k in finals[0]:
        metrics[k] = float(np.mean([metrics[f"member{m}_{k}"] for m in range(p.members)]))
    metrics["epochs_trained"] = max(s["epochs_run"] for s in members)
    metrics["ensemble_val_loss"] = trainer.ensemble_val_loss(ensemble)
    metrics["spread"] = trainer.widen(ensemble)
    return ensemble.cpu().eval(), metrics

