"""The trained models on real voices: the predicted face's gender against an annotated one, per clip.

Pure of files: takes a Predictor and (clip path, gender) pairs, returns counts. `scripts/real_voices.py` runs it
on ../shared/realdata and writes reports/real_voices.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scipy.stats import binomtest

from s2f.config import PredictParams
from s2f.errors import InputError
from s2f.evaluate.results import RealVoices
from s2f.predict import Predictor, read_speech, speech_window


def real_voice_gender(predictor: Predictor, clips: Sequence[tuple[str | Path, str]],
                      p: PredictParams | None = None) -> RealVoices:
    """Gender read off each clip's predicted face against its annotated gender ('m'/'f'); clips with too
    little speech are counted as skipped. Agreement comes with its exact (Clopper-Pearson) 95% interval."""
    p = p or PredictParams()
    if "gender" not in predictor.classifiers:
        raise InputError("the attribute classifiers have no gender classifier; run the evaluate stage first")
    rows, skipped = [], []
    for path, truth in clips:
        try:
            speech = speech_window(read_speech(path), p.seconds, p.min_seconds, p.silence_db)
        except InputError as err:
            skipped.append({"clip": Path(path).name, "reason": str(err)})
            continue
        face = predictor.draw(predictor.feature(speech.samples))
        guess = next(iter(predictor.attributes(face)["gender"]))
        rows.append({"clip": Path(path).name, "gender": truth, "predicted": guess})
    hits = sum(r["gender"] == r["predicted"] for r in rows)
    interval = binomtest(hits, len(rows)).proportion_ci(0.95) if rows else None
    return RealVoices(trained_on=predictor.trained_on, clips=len(rows), agree=hits,
                      agreement=hits / len(rows) if rows else float("nan"),
                      interval=[interval.low, interval.high] if interval else None,
                      predicted_m=sum(r["predicted"] == "m" for r in rows),
                      truth_m=sum(r["gender"] == "m" for r in rows), rows=rows, skipped=skipped)
