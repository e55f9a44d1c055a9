"""Evaluate the voice encoder and the baselines on the test split (speakers never seen in training).

For every test clip and audio length: a predicted face feature per method, its reconstruction through the
frozen decoder (S2F), and the reconstruction from the true face feature (F2F). Scores follow the paper:
feature similarity, retrieval among a pool of test speakers, attribute agreement between the true face and
the S2F reconstruction, and craniofacial measures on F2F vs S2F landmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from sklearn.pipeline import Pipeline

from s2f import metrics as m
from s2f.audio.spectrogram import n_frames
from s2f.evaluate.craniofacial import MEASURES, measures
from s2f.faces.align import Aligner
from s2f.models.inference import decode, descriptors_of, to_uint8
from s2f.models.networks import FaceDecoder, VoiceEncoder


@dataclass
class TestClips:
    clip_ids: list[str]
    speakers: list[str]
    features: np.ndarray  # (n, 128) true face features, normalised
    specs: list[np.ndarray]  # (2, frames, 257) float32, each clip's first segment


@torch.no_grad()
def predict_voice(encoder: VoiceEncoder, specs: Sequence[np.ndarray], seconds: float,
                  batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Face features from the first `seconds` of each spectrogram (the encoder pools over time), normalised: the
    prediction itself (what retrieval ranks) and the one the decoder draws (widened by the encoder's spread)."""
    encoder.eval()
    frames = n_frames(seconds)
    out = []
    for i in range(0, len(specs), batch):
        out.append(encoder(torch.from_numpy(np.stack([s[:, :frames] for s in specs[i:i + batch]]))))
    pred = torch.cat(out)
    return m.normalize(pred.numpy()), m.normalize(encoder.for_decoder(pred).numpy())


@dataclass
class Reconstructions:
    """Decoded faces and what dlib reads off them."""

    images: np.ndarray  # (n, size, size, 3) uint8
    descriptors: np.ndarray  # (n, 128) normalised
    landmarks: np.ndarray  # (n, 68, 2) in crop pixels


class FaceReader:
    """Decodes features through the frozen decoder and reads dlib's descriptor and 68 landmarks off the faces.

    Each distinct decoded face is read once per reader: the train-mean baseline repeats one feature for every clip,
    and the chance baseline's faces are train faces the attribute classifiers' fit has read already. Reading is
    deterministic, so a face read before gives the same numbers as reading it again.
    """

    def __init__(self, decoder: FaceDecoder, aligner: Aligner, crop_size: int):
        self.decoder, self.aligner, self.crop_size = decoder, aligner, crop_size
        self._descriptors: dict[bytes, np.ndarray] = {}
        self._landmarks: dict[bytes, np.ndarray] = {}

    @property
    def faces_read(self) -> int:
        """Distinct decoded faces whose descriptor dlib has computed so far."""
        return len(self._descriptors)

    def __call__(self, features: np.ndarray, landmarks: bool = True) -> Reconstructions:
        """Decode each feature (a repeated feature once) and read its face; `landmarks=False` skips them (zeros)."""
        unique, inverse = np.unique(features.astype(np.float32), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        images = to_uint8(decode(self.decoder, torch.from_numpy(unique)))
        keys = [im.tobytes() for im in images]
        new = {k: im for k, im in zip(keys, images, strict=True) if k not in self._descriptors}
        if new:
            self._descriptors.update(zip(new, descriptors_of(np.stack(list(new.values())), self.aligner), strict=True))
        if landmarks:
            for k, im in zip(keys, images, strict=True):
                if k not in self._landmarks:
                    crop = cv2.resize(im, (self.crop_size, self.crop_size), interpolation=cv2.INTER_CUBIC)
                    self._landmarks[k] = self.aligner.landmarks68(crop)
            marks = np.stack([self._landmarks[k] for k in keys])
        else:
            marks = np.zeros((len(keys), 68, 2), np.float32)
        descriptors = np.stack([self._descriptors[k] for k in keys])
        return Reconstructions(images[inverse], descriptors[inverse], marks[inverse])


def reconstruct(decoder: FaceDecoder, features: np.ndarray, aligner: Aligner, crop_size: int) -> Reconstructions:
    """Decode each feature and read dlib's descriptor and landmarks off the face (FaceReader, used once)."""
    return FaceReader(decoder, aligner, crop_size)(features)


def per_speaker(values: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
    spk = np.array(speakers)
    return np.array([values[spk == s].mean() for s in sorted(set(speakers))])


@dataclass
class Scorer:
    """Everything a method's predictions are scored against (the same for every method)."""

    test: TestClips
    f2f: Reconstructions
    classifiers: dict[str, Pipeline]
    labels: pd.DataFrame  # ground truth per speaker
    pool: int
    rounds: int
    seed: int

    def __post_init__(self) -> None:
        self.faces, self.face_speakers = m.speaker_faces(self.test.features, self.test.speakers)
        self.true_face_labels = {n: c.predict(self.test.features) for n, c in self.classifiers.items()}
        self.f2f_measures = {k: per_speaker(v, self.test.speakers) for k, v in measures(self.f2f.landmarks).items()}

    @property
    def pool_size(self) -> int:
        return min(self.pool, len(self.face_speakers))

    def retrieval(self, pred: np.ndarray) -> dict[str, dict[str, float]]:
        return {metric: {f"R@{k}": v for k, v in m.pooled_recall(pred, self.test.speakers, self.faces,
                                                                 self.face_speakers, self.pool, metric,
                                                                 self.rounds, self.seed).items()}
                for metric in m.METRICS}

    def recall_curve(self, pred: np.ndarray) -> np.ndarray:
        """Cosine R@K for K = 1..pool size (the recall curve the report plots)."""
        ks = range(1, self.pool_size + 1)
        r = m.pooled_recall(pred, self.test.speakers, self.faces, self.face_speakers, self.pool, "cosine",
                            self.rounds, self.seed, ks)
        return np.array([r[k] for k in ks])

    def attributes(self, recon: Reconstructions) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Agreement of the classifier on S2F vs on the true face; accuracy of both against the labels."""
        scores: dict[str, Any] = {"agreement": {}, "accuracy": {}}
        confusions = {}
        for name, clf in self.classifiers.items():
            s2f = clf.predict(recon.descriptors)
            true = self.true_face_labels[name]
            scores["agreement"][name] = m.agreement(true, s2f)
            truth = self.labels[name].reindex(self.test.speakers).to_numpy()
            known = truth != ""
            scores["accuracy"][name] = m.agreement(truth[known], s2f[known]) if known.any() else float("nan")
            confusions[name] = m.confusion(true, s2f, clf.classes_.tolist())
        return scores, confusions

    def craniofacial(self, recon: Reconstructions) -> dict[str, dict[str, float]]:
        """Per measure: correlation over test speakers between F2F and S2F, and with shuffled pairs."""
        s2f = {k: per_speaker(v, self.test.speakers) for k, v in measures(recon.landmarks).items()}
        r = {k: m.pearson(self.f2f_measures[k], s2f[k]) for k in MEASURES}
        shuffled = {k: m.shuffled_pearson(self.f2f_measures[k], s2f[k], 200, self.seed) for k in MEASURES}
        return {"r": {**r, "mean": float(np.mean(list(r.values())))},
                "shuffled": {**shuffled, "mean": float(np.mean(list(shuffled.values())))}}

    def per_query(self, pred: np.ndarray, recon: Reconstructions) -> dict[str, np.ndarray]:
        """Each test clip's score on the headline metrics (cosine R@1 and R@10 over the same pools as `retrieval`,
        1:2 matching, gender agreement), for paired intervals between methods."""
        hits = m.query_hits(pred, self.test.speakers, self.faces, self.face_speakers, self.pool, "cosine",
                            self.rounds, self.seed, (1, 10))
        out = {"R@1": hits[:, 0], "R@10": hits[:, 1],
               "1:2": m.query_matching(pred, self.test.speakers, self.faces, self.face_speakers)}
        if "gender" in self.classifiers:
            s2f = self.classifiers["gender"].predict(recon.descriptors)
            out["gender"] = (s2f == self.true_face_labels["gender"]).astype(float)
        return out

    def compare(self, per_query: dict[str, dict[str, np.ndarray]], method: str = "voice") -> dict[str, Any]:
        """`method` minus each other method on every headline metric: the mean difference and its 95% interval
        from a paired bootstrap over test speakers (one trained model: seed-to-seed spread is not in it)."""
        mine = per_query[method]
        return {f"{method} - {other}": {k: m.paired_bootstrap(mine[k] - theirs[k], self.test.speakers, seed=self.seed)
                                        for k in mine}
                for other, theirs in per_query.items() if other != method}

    def matching(self, pred: np.ndarray) -> dict[str, float]:
        """1:2 matching (any impostor, and one of the true speaker's gender when genders are known)."""
        out = {"1:2": m.matching(pred, self.test.speakers, self.faces, self.face_speakers)}
        if "gender" in self.labels:
            genders = self.labels["gender"].reindex(self.face_speakers).fillna("").tolist()
            out["1:2 same gender"] = m.matching(pred, self.test.speakers, self.faces, self.face_speakers, genders)
        return out

    def score(self, pred: np.ndarray, recon: Reconstructions) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """A method's scores. `image_retrieval` ranks the descriptor dlib reads off the decoded (S2F) face among
        the test faces, as SF2F's face retrieval does; `retrieval` ranks the predicted feature itself."""
        attrs, confusions = self.attributes(recon)
        return {"similarity": m.feature_similarity(pred, self.test.features), "retrieval": self.retrieval(pred),
                "matching": self.matching(pred), "image_retrieval": self.retrieval(recon.descriptors)["cosine"],
                **attrs, "craniofacial": self.craniofacial(recon)}, confusions

    def reference(self) -> dict[str, Any]:
        """What the true faces and their F2F reconstructions score: the ceiling for any voice model."""
        attrs, _ = self.attributes(self.f2f)
        truth_acc = {}
        for name in self.classifiers:
            truth = self.labels[name].reindex(self.test.speakers).to_numpy()
            known = truth != ""
            truth_acc[name] = m.agreement(truth[known], self.true_face_labels[name][known]) if known.any() else 0.0
        f2f = self.f2f.descriptors
        return {"f2f": {"retrieval": self.retrieval(f2f), "matching": self.matching(f2f), **attrs},
                "true_face_accuracy": truth_acc,
                "chance_recall": {f"R@{k}": v for k, v in m.chance_recall(self.pool_size).items()}}
