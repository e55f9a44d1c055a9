"""The paper's metrics as pure functions of feature arrays and labels (no models, no files).

Features are compared after L2 normalisation, as the paper does. Retrieval ranks each query's true speaker
among a pool of speakers' faces; a rank counts every other face at least as close (ties count against).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

METRICS = ("cosine", "l1", "l2")
KS = (1, 2, 5, 10)


def normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cosine_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise angle between two sets of vectors, in degrees (0 = same direction, 90 = orthogonal)."""
    cos = np.sum(normalize(a) * normalize(b), axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def feature_similarity(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Mean and std of the cosine distance (degrees), L1 and L2 between normalised predicted and true features."""
    p, t = normalize(pred), normalize(true)
    values = {"cosine_deg": cosine_degrees(p, t), "l1": np.abs(p - t).sum(-1), "l2": np.linalg.norm(p - t, axis=-1)}
    out = {}
    for name, v in values.items():
        out[f"{name}_mean"], out[f"{name}_std"] = float(v.mean()), float(v.std())
    return out


def distances(queries: np.ndarray, pool: np.ndarray, metric: str) -> np.ndarray:
    """(n_queries, n_pool) distances between normalised features; cosine is 1 - cosine similarity."""
    q, p = normalize(queries), normalize(pool)
    if metric == "cosine":
        return 1.0 - q @ p.T
    if metric == "l1":
        return np.abs(q[:, None, :] - p[None, :, :]).sum(-1)
    if metric == "l2":
        return np.linalg.norm(q[:, None, :] - p[None, :, :], axis=-1)
    raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")


def ranks(dist: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """0-based rank of each query's true pool item: how many other items are at least as close."""
    true_dist = dist[np.arange(len(dist)), true_index]
    return (dist <= true_dist[:, None]).sum(1) - 1


def recall_at_k(rank: np.ndarray, ks: Sequence[int] = KS) -> dict[int, float]:
    """Share of queries whose true item is within the top K."""
    return {k: float(np.mean(rank < k)) for k in ks}


def chance_recall(pool_size: int, ks: Sequence[int] = KS) -> dict[int, float]:
    """R@K of a random ranking of a pool of this size."""
    return {k: min(k, pool_size) / pool_size for k in ks}


def pooled_recall(pred: np.ndarray, query_speakers: Sequence[str], faces: np.ndarray, face_speakers: Sequence[str],
                  pool: int, metric: str, rounds: int, seed: int, ks: Sequence[int] = KS) -> dict[int, float]:
    """R@K of each query's true speaker among `pool` speakers' faces (itself and random others).

    With no more speakers than `pool`, the pool is all of them and one round is exact; otherwise the recall
    is averaged over `rounds` random pools per query.
    """
    face_speakers = list(face_speakers)
    truth = np.array([face_speakers.index(s) for s in query_speakers])
    dist = distances(pred, faces, metric)
    n = len(face_speakers)
    if n <= pool:
        return recall_at_k(ranks(dist, truth), ks)
    rng = np.random.default_rng(seed)
    hits = np.zeros(len(ks))
    for _ in range(rounds):
        for q, t in enumerate(truth):
            others = rng.choice(np.delete(np.arange(n), t), pool - 1, replace=False)
            rank = int((dist[q, others] <= dist[q, t]).sum())
            hits += [rank < k for k in ks]
    return {k: float(h / (rounds * len(truth))) for k, h in zip(ks, hits)}


def confusion(true_labels: Sequence[str], pred_labels: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts: rows are the true face's class, columns the reconstruction's."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)), np.int64)
    for t, p in zip(true_labels, pred_labels):
        out[index[t], index[p]] += 1
    return out


def agreement(true_labels: Sequence[str], pred_labels: Sequence[str]) -> float:
    return float(np.mean([t == p for t, p in zip(true_labels, pred_labels)]))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either side is constant (no linear relation can be shown)."""
    if a.std() < 1e-12 or b.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def shuffled_pearson(a: np.ndarray, b: np.ndarray, rounds: int, seed: int) -> float:
    """Mean correlation when b is paired with a random other speaker's a: the level that means nothing."""
    rng = np.random.default_rng(seed)
    return float(np.mean([pearson(a, b[rng.permutation(len(b))]) for _ in range(rounds)]))
