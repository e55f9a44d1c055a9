"""Undo a regressor's shrinkage toward the mean face.

A voice tells only part of a face, so a regressor fitted with a squared or L1 loss (the voice encoder, the
ridge baseline) answers between the true face and the train-mean face: on the default corpus the encoder's
predictions lie at ~42% of the real faces' distance from the mean (k = 2.38). Decoded, they all look like the
average face, which hides the gender they carry (on val, a linear probe read it off the encoder's predicted
features at 91-96%; the decoded faces agreed with the true face's gender at 55-58%), and cosine retrieval
favours typical faces.

The fix is one number per predictor, measured on held-out predictions and stored with it: k such that
`mean + k (prediction - mean)` lies as far from the mean, on average, as real train faces do. It needs no
held-out targets, and it moves no prediction off its direction from the mean.
"""

from __future__ import annotations

import numpy as np


def spread_factor(targets: np.ndarray, predictions: np.ndarray, mean: np.ndarray) -> float:
    """The k that gives `predictions` the mean distance from `mean` that `targets` have (1 if they all sit on it)."""
    predicted = float(np.linalg.norm(predictions - mean, axis=1).mean())
    if predicted < 1e-9:
        return 1.0
    return float(np.linalg.norm(targets - mean, axis=1).mean()) / predicted


def widen(predictions: np.ndarray, mean: np.ndarray, k: float) -> np.ndarray:
    """Move each prediction k times as far from `mean`, along the same direction."""
    return mean + k * (predictions - mean)
