"""Losses: the face decoder's L1 + adversarial, and the voice encoder's.

The voice loss is a weighted sum (weights in params, `voice_model.loss`; a zero weight skips its term):
- `contrastive`: InfoNCE against the train faces, the objective aligned with retrieval: the prediction's cosine to
  every train speaker's face, divided by a temperature, scored by cross-entropy with its own speaker's face;
- `standardized_l2`: the squared error in units of each dimension's spread over train faces, which anchors the
  prediction near its own face (so that it decodes well), not only above the others;
- Speech2Face's three terms: `fc_l1` (L1 through the decoder's first layer), `feature_l2` (squared L2 between the
  normalised features) and `distill` (distillation from a frozen face classifier, at `distill_temperature`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from s2f.config import VoiceLossParams  # the weights, with their defaults and checks


@dataclass(frozen=True)
class VoiceTargets:
    """What the voice loss compares a batch of predictions with, beside each clip's own face feature."""

    faces: torch.Tensor  # (speakers, dim) each speaker's face, L2-normalised: the contrastive term's candidates
    spread: torch.Tensor  # (dim,) each dimension's std over train faces (standardized_l2's unit)
    fc: nn.Linear | None = None  # the frozen decoder's first layer (fc_l1)
    teacher: nn.Module | None = None  # the frozen face classifier (distill)


def info_nce(pred: torch.Tensor, speaker: torch.Tensor, faces: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of softmax(cos(pred, face_j) / T) over the candidate faces, with the clip's speaker as the
    answer: the cosine the evaluation ranks faces by, so lowering it raises the true face above the others."""
    return F.cross_entropy(F.normalize(pred, dim=1) @ faces.T / temperature, speaker)


def standardized_l2(true: torch.Tensor, pred: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """Mean squared error in units of each dimension's spread over train faces."""
    return ((pred - true) / spread).pow(2).mean()


def fc_l1(fc: nn.Linear, true: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """L1 between the decoder's first layer applied to the true and to the predicted feature."""
    return (fc(true) - fc(pred)).abs().mean()


def feature_l2(true: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance between the L2-normalised features."""
    return (F.normalize(true, dim=1) - F.normalize(pred, dim=1)).pow(2).sum(1).mean()


def distillation(classifier: nn.Module, true: torch.Tensor, pred: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy from softmax(logits/T) of a frozen face classifier on the true feature to its log-softmax
    on the predicted one (knowledge distillation, T = 2 in the paper)."""
    teacher = F.softmax(classifier(true) / temperature, dim=1)
    return -(teacher * F.log_softmax(classifier(pred) / temperature, dim=1)).sum(1).mean()


def voice_loss(pred: torch.Tensor, true: torch.Tensor, speaker: torch.Tensor, targets: VoiceTargets,
               w: VoiceLossParams) -> dict[str, torch.Tensor]:
    """The weighted sum (`loss`) and each term with a non-zero weight. `speaker`: each clip's row in
    `targets.faces`."""
    terms: dict[str, torch.Tensor] = {}
    if w.contrastive:
        terms["contrastive"] = info_nce(pred, speaker, targets.faces, w.temperature)
    if w.standardized_l2:
        terms["standardized_l2"] = standardized_l2(true, pred, targets.spread)
    if w.fc_l1:
        if targets.fc is None:
            raise ValueError("the fc_l1 term needs the decoder's first layer")
        terms["fc_l1"] = fc_l1(targets.fc, true, pred)
    if w.feature_l2:
        terms["feature_l2"] = feature_l2(true, pred)
    if w.distill:
        if targets.teacher is None:
            raise ValueError("the distill term needs a face classifier")
        terms["distill"] = distillation(targets.teacher, true, pred, w.distill_temperature)
    if not terms:
        raise ValueError("every voice loss weight is 0: nothing to train on")
    terms["loss"] = sum(getattr(w, name) * value for name, value in terms.items())
    return terms


def adversarial(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Non-saturating GAN loss on a patch map of logits."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)
