"""Losses: the face decoder's L1 + adversarial, and Speech2Face's voice loss (three terms)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VoiceLossWeights:
    fc_l1: float = 1.0
    feature_l2: float = 0.025
    distill: float = 200.0
    temperature: float = 2.0


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


def voice_loss(pred: torch.Tensor, true: torch.Tensor, fc: nn.Linear, classifier: nn.Module,
               w: VoiceLossWeights) -> dict[str, torch.Tensor]:
    """The weighted sum and its three terms."""
    terms = {"fc_l1": fc_l1(fc, true, pred), "feature_l2": feature_l2(true, pred),
             "distill": distillation(classifier, true, pred, w.temperature)}
    terms["loss"] = w.fc_l1 * terms["fc_l1"] + w.feature_l2 * terms["feature_l2"] + w.distill * terms["distill"]
    return terms


def adversarial(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Non-saturating GAN loss on a patch map of logits."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)
