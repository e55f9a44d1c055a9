"""`make reproduce`: the headline metrics over several trainings (seeds), with intervals over seeds and speakers.

Each run's evaluate stage writes its per-query scores (per_query.csv: one row per test clip, audio length and
method). `seed_results` takes those tables, loaded, and returns the schema reports/seeds.json holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from s2f import metrics as m
from s2f.evaluate.results import Estimate, SeedResults

METRICS = ("R@1", "R@10", "1:2", "gender", "sharpness")  # the headline metrics, as per_query.csv names its columns
F2F_LENGTH = "f2f"  # per_query.csv's `length` for the decoder's own rows (method "decoder": F2F, sharpness)


def per_query_table(per_query: dict[str, dict[str, dict[str, object]]], clip_ids: list[str],
                    speakers: list[str]) -> pd.DataFrame:
    """evaluate's per-query scores ({length: {method: {metric: array over test clips}}}) as one long table."""
    rows = []
    for length, by_method in per_query.items():
        for method, scores in by_method.items():
            frame = pd.DataFrame({"length": length, "method": method, "clip_id": clip_ids, "speaker_id": speakers})
            for metric in METRICS:
                if metric in scores:
                    frame[metric] = scores[metric]
            rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def seed_results(tables: list[pd.DataFrame], seeds: list[dict[str, int]], method: str = "voice",
                 seed: int = 0, evaluation: str = "") -> SeedResults:
    """Mean and 95% interval over runs and test speakers of every method's headline metrics, and of `method`
    minus each other method (paired: the same draws of runs and speakers for both). Every table must score the
    same test clips (the runs differ only in their training seeds). `evaluation`: the fingerprint of run 1's
    (make run's) evaluation, which the file records."""
    if len(tables) < 2:
        raise ValueError(f"need at least 2 runs to say anything about the seed-to-seed spread (got {len(tables)})")
    keys = ["length", "method", "clip_id"]
    tables = [t.sort_values(keys).reset_index(drop=True) for t in tables]
    for i, t in enumerate(tables[1:], 1):
        if not t[keys].equals(tables[0][keys]):
            raise ValueError(f"run {i} scored other test clips, lengths or methods than run 0; evaluate them on "
                             "the same data and params")
    first = tables[0]
    lengths: dict[str, dict[str, dict[str, Estimate]]] = {}
    comparisons: dict[str, dict[str, dict[str, Estimate]]] = {}
    for length in dict.fromkeys(first.length):
        blocks = [t[t.length == length] for t in tables]
        names = list(dict.fromkeys(blocks[0].method))
        speakers = blocks[0].loc[blocks[0].method == names[0], "speaker_id"].tolist()
        metrics = [k for k in METRICS if k in first.columns and blocks[0][k].notna().any()]

        lengths[length] = {n: {k: _estimate(_matrix(blocks, n, k), speakers, seed) for k in metrics}
                           for n in names}
        if method in names:
            comparisons[length] = {f"{method} - {other}": {k: _estimate(_matrix(blocks, method, k)
                                                                        - _matrix(blocks, other, k), speakers, seed)
                                                           for k in metrics}
                                   for other in names if other != method}
    return SeedResults(runs=len(tables), seeds=seeds, queries=len(speakers), speakers=len(set(speakers)),
                       lengths=lengths, comparisons=comparisons, evaluation=evaluation)


def _estimate(scores: np.ndarray, speakers: list[str], seed: int) -> Estimate:
    return Estimate(**m.runs_bootstrap(scores, speakers, seed=seed))


def _matrix(blocks: list[pd.DataFrame], method: str, metric: str) -> np.ndarray:
    """(runs, queries): each run's per-query `metric` of `method` (the queries in clip order)."""
    return np.stack([b.loc[b.method == method, metric].to_numpy(dtype=float) for b in blocks])
