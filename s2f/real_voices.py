"""The trained models on real voices: the drawn face's gender against an annotated one, per clip; how distinct
the voices' faces are from each other; the ages the drawn faces look.

Pure of files: takes a Predictor and (clip path, gender) pairs, returns counts. `scripts/real_voices.py` runs it
on ../shared/realdata for make run's models and make reproduce's, and writes reports/real_voices.json.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from s2f.config import PredictParams
from s2f.errors import InputError
from s2f.evaluate.results import RealVoices, RealVoicesRun
from s2f.predict import Predictor, read_speech, speech_window


def real_voice_gender(predictor: Predictor, clips: Sequence[tuple[str | Path, str]],
                      p: PredictParams | None = None) -> RealVoices:
    """Gender read off each clip's predicted face against its annotated gender ('m'/'f'); clips with too
    little speech are counted as skipped. Agreement comes with its exact (Clopper-Pearson) 95% interval."""
    p = p or PredictParams()
    if "gender" not in predictor.classifiers:
        raise InputError("the attribute classifiers have no gender classifier; run the evaluate stage first")
    rows, skipped, offsets = [], [], []
    for path, truth in clips:
        try:
            speech = speech_window(read_speech(path), p.seconds, p.min_seconds, p.silence_db)
        except InputError as err:
            skipped.append({"clip": Path(path).name, "reason": str(err)})
            continue
        raw = predictor.prediction(speech.samples, p.tempo)
        offsets.append((raw[0] - predictor.encoder.out_mean).numpy())
        attributes = predictor.attributes(predictor.draw(predictor.feature(speech.samples, raw)))
        rows.append({"clip": Path(path).name, "gender": truth, "predicted": next(iter(attributes["gender"])),
                     "age": next(iter(attributes["age"])) if "age" in attributes else ""})
    hits = sum(r["gender"] == r["predicted"] for r in rows)
    interval = binomtest(hits, len(rows)).proportion_ci(0.95) if rows else None
    return RealVoices(trained_on=predictor.trained_on, tempo=predictor.tempo(p.tempo), clips=len(rows), agree=hits,
                      agreement=hits / len(rows) if rows else float("nan"),
                      interval=[interval.low, interval.high] if interval else None,
                      predicted_m=sum(r["predicted"] == "m" for r in rows),
                      truth_m=sum(r["gender"] == "m" for r in rows), rows=rows, skipped=skipped,
                      distinct=mean_pairwise_cosine(np.array(offsets)) if len(offsets) > 1 else None,
                      ages=dict(sorted(Counter(r["age"] for r in rows if r["age"]).items())))


def mean_pairwise_cosine(x: np.ndarray) -> float:
    """Mean cosine over every pair of rows of `x`: how much the voices' predictions share one direction."""
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    gram = unit @ unit.T
    return float((gram.sum() - np.trace(gram)) / (len(x) * (len(x) - 1)))


def run_summary(result: RealVoices, models: str) -> RealVoicesRun:
    """One training's line in real_voices.json's `runs`."""
    def counts(gender: str) -> list[int]:
        rows = [r for r in result.rows if r["gender"] == gender]
        return [sum(r["predicted"] == gender for r in rows), len(rows)]

    return RealVoicesRun(models=models, women=counts("f"), men=counts("m"),
                         distinct=float("nan") if result.distinct is None else result.distinct, ages=result.ages)
