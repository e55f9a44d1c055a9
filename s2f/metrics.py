"""The paper's metrics as pure functions of feature arrays and labels (no models, no files): the evaluation
scores the test split with them, and voice training its val split.

Features are compared after L2 normalisation, as the paper does. Retrieval ranks each query's true speaker
among a pool of speakers' faces; a rank counts every other face at least as close (ties count against).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

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


def speaker_faces(features: np.ndarray, speakers: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """One face per speaker for the retrieval pool: the normalised mean of its clips' face features."""
    names = sorted(set(speakers))
    spk = np.array(speakers)
    return normalize(np.stack([features[spk == s].mean(0) for s in names])), names


def query_hits(pred: np.ndarray, query_speakers: Sequence[str], faces: np.ndarray, face_speakers: Sequence[str],
               pool: int, metric: str, rounds: int, seed: int, ks: Sequence[int] = KS) -> np.ndarray:
    """(queries, len(ks)): for each query, the share of its pools that hold its true speaker in the top K.

    The pool is the query's true speaker and `pool - 1` random others. With no more speakers than `pool`, the
    pool is all of them and one round is exact; otherwise each query gets `rounds` random pools.
    """
    face_speakers = list(face_speakers)
    truth = np.array([face_speakers.index(s) for s in query_speakers])
    dist = distances(pred, faces, metric)
    n = len(face_speakers)
    if n <= pool:
        rank = ranks(dist, truth)
        return np.stack([rank < k for k in ks], 1).astype(float)
    others = _random_pools(seed, n, pool, rounds, tuple(truth.tolist()))  # (rounds, queries, pool - 1)
    queries = np.arange(len(truth))
    rank = (dist[queries[:, None], others] <= dist[queries, truth][:, None]).sum(-1)  # (rounds, queries)
    return np.stack([(rank < k).sum(0) for k in ks], 1) / rounds


@lru_cache(maxsize=8)
def _random_pools(seed: int, n: int, pool: int, rounds: int, truth: tuple[int, ...]) -> np.ndarray:
    """The `pool - 1` other speakers of each query's pool in each round: the same draws for every method, metric and
    length scored with these queries and seed, so they are drawn once (read-only)."""
    rng = np.random.default_rng(seed)
    out = np.empty((rounds, len(truth), pool - 1), np.int64)
    for r in range(rounds):
        for q, t in enumerate(truth):
            out[r, q] = rng.choice(np.delete(np.arange(n), t), pool - 1, replace=False)
    out.flags.writeable = False
    return out


def pooled_recall(pred: np.ndarray, query_speakers: Sequence[str], faces: np.ndarray, face_speakers: Sequence[str],
                  pool: int, metric: str, rounds: int, seed: int, ks: Sequence[int] = KS) -> dict[int, float]:
    """R@K of each query's true speaker among `pool` speakers' faces, averaged over queries (see query_hits)."""
    hits = query_hits(pred, query_speakers, faces, face_speakers, pool, metric, rounds, seed, ks)
    return {k: float(v) for k, v in zip(ks, hits.mean(0), strict=True)}


def paired_bootstrap(diff: np.ndarray, speakers: Sequence[str], rounds: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict[str, float]:
    """Mean of a per-query difference between two methods and its percentile interval from resampling test
    speakers with replacement (queries of one speaker move together; NaN queries are left out)."""
    keep = ~np.isnan(diff)
    spk = np.asarray(speakers)[keep]
    names, index = np.unique(spk, return_inverse=True)
    sums = np.bincount(index, diff[keep], len(names))
    counts = np.bincount(index, minlength=len(names)).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), (rounds, len(names)))
    means = sums[draws].sum(1) / counts[draws].sum(1)
    tail = 100 * (1 - level) / 2
    return {"diff": float(sums.sum() / counts.sum()), "lo": float(np.percentile(means, tail)),
            "hi": float(np.percentile(means, 100 - tail))}


def query_matching(pred: np.ndarray, query_speakers: Sequence[str], faces: np.ndarray, face_speakers: Sequence[str],
                   face_groups: Sequence[str] | None = None) -> np.ndarray:
    """Per query, its voice-to-face 1:2 matching accuracy (see `matching`); NaN for a query with no impostor."""
    face_speakers = list(face_speakers)
    truth = np.array([face_speakers.index(s) for s in query_speakers])
    rows = np.arange(len(truth))
    dist = distances(pred, faces, "cosine")
    true_dist = dist[rows, truth][:, None]
    wins = (dist > true_dist) + 0.5 * (dist == true_dist)
    valid = np.ones(dist.shape, bool)
    valid[rows, truth] = False
    if face_groups is not None:
        groups = np.asarray(face_groups, dtype=object)
        valid &= (groups[None, :] == groups[truth][:, None]) & (groups[truth] != "")[:, None]
    counts = valid.sum(1)
    out = np.full(len(truth), np.nan)
    out[counts > 0] = (wins * valid).sum(1)[counts > 0] / counts[counts > 0]
    return out


def matching(pred: np.ndarray, query_speakers: Sequence[str], faces: np.ndarray, face_speakers: Sequence[str],
             face_groups: Sequence[str] | None = None) -> float:
    """Voice-to-face 1:2 matching accuracy (as in "Seeking the Shape of Sound", Wen et al.): the query's true
    speaker's face against one other speaker's face, the closer one (cosine) chosen, ties counting half.

    Every other speaker is tried in turn (no sampling), averaged per query, then over queries. With
    `face_groups` (e.g. each face speaker's gender; "" = unknown) only impostors of the true speaker's group
    count: the harder same-gender test. NaN when no query has an impostor.
    """
    per_query = query_matching(pred, query_speakers, faces, face_speakers, face_groups)
    return float(np.nanmean(per_query)) if (~np.isnan(per_query)).any() else float("nan")


def confusion(true_labels: Sequence[str], pred_labels: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts: rows are the true face's class, columns the reconstruction's."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)), np.int64)
    for t, p in zip(true_labels, pred_labels, strict=True):
        out[index[t], index[p]] += 1
    return out


def agreement(true_labels: Sequence[str], pred_labels: Sequence[str]) -> float:
    return float(np.mean([t == p for t, p in zip(true_labels, pred_labels, strict=True)]))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; 0 when either side is constant (no linear relation can be shown)."""
    if a.std() < 1e-12 or b.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def shuffled_pearson(a: np.ndarray, b: np.ndarray, rounds: int, seed: int) -> float:
    """Mean correlation when b is paired with a random other speaker's a: the level that means nothing."""
    rng = np.random.default_rng(seed)
    return float(np.mean([pearson(a, b[rng.permutation(len(b))]) for _ in range(rounds)]))


def runs_bootstrap(scores: np.ndarray, speakers: Sequence[str], rounds: int = 2000, seed: int = 0,
                   level: float = 0.95) -> dict[str, float]:
    """Mean of per-query scores from several runs (a (runs, queries) array: every run scored the same queries)
    and its percentile interval from resampling runs and test speakers with replacement, together (a speaker's
    queries move together; the same draws for every call with the same seed and shapes, so two methods' intervals
    and their difference's are paired). NaN scores are left out."""
    scores = np.asarray(scores, dtype=float)
    valid = ~np.isnan(scores)
    names, index = np.unique(np.asarray(speakers), return_inverse=True)
    # per run and speaker: sum and count of valid scores
    sums = np.stack([np.bincount(index, np.where(valid[r], scores[r], 0.0), len(names)) for r in range(len(scores))])
    counts = np.stack([np.bincount(index, valid[r].astype(float), len(names)) for r in range(len(scores))])
    rng = np.random.default_rng(seed)
    runs = rng.integers(0, len(scores), (rounds, len(scores)))
    spk = rng.integers(0, len(names), (rounds, len(names)))
    # how often each run and each speaker was drawn in each round: a round's total is runs_w @ sums @ spk_w
    runs_w = np.stack([np.bincount(r, minlength=len(scores)) for r in runs]).astype(float)
    spk_w = np.stack([np.bincount(d, minlength=len(names)) for d in spk]).astype(float)
    total = ((runs_w @ sums) * spk_w).sum(1)
    count = ((runs_w @ counts) * spk_w).sum(1)
    means = np.divide(total, count, out=np.full(rounds, np.nan), where=count > 0)
    tail = 100 * (1 - level) / 2
    return {"mean": float(sums.sum() / counts.sum()), "lo": float(np.nanpercentile(means, tail)),
            "hi": float(np.nanpercentile(means, 100 - tail))}
