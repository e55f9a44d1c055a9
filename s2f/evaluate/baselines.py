"""Baselines that predict a face feature without our voice encoder, evaluated exactly like it.

- chance: a random train clip's face feature (what a voice that says nothing would give);
- mean: the train-mean face feature, for every clip;
- resemblyzer: a pretrained speaker embedding (resemblyzer's bundled GE2E encoder, trained on other data)
  mapped to the face feature by ridge regression fitted on train clips: what an off-the-shelf voice model gets.
  Like the voice encoder, its predictions are widened to the train faces' spread (s2f/models/spread.py), by a
  factor measured on its cross-validated train predictions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import GroupKFold, cross_val_predict

from s2f.audio.spectrogram import SAMPLE_RATE
from s2f.metrics import normalize
from s2f.models.spread import spread_factor, widen


def chance(train_features: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return train_features[rng.integers(0, len(train_features), n)]


def mean(train_features: np.ndarray, n: int) -> np.ndarray:
    return np.repeat(normalize(train_features.mean(0))[None], n, axis=0)


@lru_cache(maxsize=1)
def _speaker_encoder():
    with warnings.catch_warnings():  # webrtcvad imports pkg_resources, which warns
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder, preprocess_wav
    return VoiceEncoder("cpu", verbose=False), preprocess_wav


def speaker_embeddings(waves: Sequence[np.ndarray], batch: int = 256) -> np.ndarray:
    """(n, 256) resemblyzer embeddings of 16 kHz mono waveforms (its own loudness and VAD preprocessing).

    What `VoiceEncoder.embed_utterance` computes (each utterance cut into 1.6 s partials, their embeddings
    averaged and normalised), with the partials of many utterances run through the LSTM together: one batch of
    256 partials costs about what one utterance's few partials cost alone.
    """
    from resemblyzer.audio import wav_to_mel_spectrogram

    encoder, preprocess = _speaker_encoder()
    mels, owner = [], []
    for i, wave in enumerate(waves):
        clean = preprocess(wave, source_sr=SAMPLE_RATE)
        clean = clean if len(clean) else wave
        wav_slices, mel_slices = encoder.compute_partial_slices(len(clean), rate=1.3, min_coverage=0.75)
        if wav_slices[-1].stop >= len(clean):
            clean = np.pad(clean, (0, wav_slices[-1].stop - len(clean)), "constant")
        mel = wav_to_mel_spectrogram(clean)
        mels += [mel[s] for s in mel_slices]
        owner += [i] * len(mel_slices)
    if not mels:
        return np.zeros((0, 256), np.float32)
    with torch.no_grad():
        partial = np.concatenate([encoder(torch.from_numpy(np.stack(mels[j:j + batch]))).numpy()
                                  for j in range(0, len(mels), batch)])
    owner_array = np.array(owner)
    raw = np.stack([partial[owner_array == i].mean(0) for i in range(len(waves))])
    return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class RidgeMap:
    """Speaker embedding -> face feature: a fitted ridge, widened by k around the train-mean feature."""

    ridge: RidgeCV
    mean: np.ndarray
    spread: float

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return normalize(widen(self.ridge.predict(embeddings), self.mean, self.spread))


def fit_ridge(embeddings: np.ndarray, features: np.ndarray, speakers: Sequence[str],
              alphas: Sequence[float]) -> RidgeMap:
    """Ridge from speaker embedding to face feature; alpha chosen by 5-fold CV grouped by speaker (a clip's
    neighbours from the same speaker would otherwise reward memorising), and the spread factor measured on
    the same folds' held-out predictions."""
    folds = min(5, len(set(speakers)))
    cv = list(GroupKFold(folds).split(embeddings, features, list(speakers))) if folds >= 2 else None
    ridge = RidgeCV(alphas=list(alphas), cv=cv).fit(embeddings, features)
    mean = features.mean(0)
    if cv is None:  # one train speaker: no held-out predictions, so nothing to measure
        return RidgeMap(ridge, mean, 1.0)
    held_out = cross_val_predict(Ridge(alpha=ridge.alpha_), embeddings, features, cv=cv)
    return RidgeMap(ridge, mean, spread_factor(features, held_out, mean))
