"""Attribute labels per speaker, and classifiers that read them off a face feature.

The classifiers (standardise + logistic regression, scikit-learn) are fitted on train-speaker face features and
applied to the true face and to dlib descriptors of reconstructions, as the paper does with its face attribute
classifier (the evaluate stage fits them on real and decoded train faces: s2f/evaluate/stage.py). They are
stored as JSON (no pickle) so that `s2f predict --json` can report attribute probabilities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from s2f.atomic import atomic_write_bytes
from s2f.errors import InputError
from s2f.labels import normalize_gender


def age_decade(age: float) -> str:
    return f"{int(age) // 10 * 10}s"


def speaker_labels(clips: pd.DataFrame, table: str | Path | None, labels: Sequence[str]) -> pd.DataFrame:
    """One row per speaker, one column per label that is known ('' where a speaker has none).

    Gender comes from the clip table (synthetic meta, VoxCeleb meta, or the folder CSV) unless the attribute
    table has it; a column named `age` is binned to decades; every other column is used as it is.
    """
    out = clips.groupby("speaker_id")["gender"].first().to_frame() if "gender" in clips else pd.DataFrame()
    out = out.reindex(sorted(clips.speaker_id.unique()))
    if table is not None:
        path = Path(table)
        extra = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        extra = extra.assign(speaker_id=extra.speaker_id.astype(str).str.strip()).set_index("speaker_id")
        out = out.drop(columns=[c for c in extra.columns if c in out.columns]).join(extra, how="left")
    result = pd.DataFrame(index=out.index)
    for name in labels:
        if name not in out.columns:
            continue
        col = out[name]
        if name == "age":
            result["age"] = col.map(lambda a: age_decade(a) if pd.notna(a) else "")
        elif name == "gender":
            result["gender"] = col.map(lambda g: normalize_gender(g) or "")
        else:
            result[name] = col.map(lambda v: str(v).strip() if pd.notna(v) else "")
    return result


def fit_classifier(features: np.ndarray, labels: Sequence[str]) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(features, list(labels))


def fit_classifiers(features: np.ndarray, speakers: Sequence[str], table: pd.DataFrame,
                    min_speakers: int = 2) -> dict[str, Pipeline]:
    """A classifier per label column, fitted on clips of speakers with that label.

    Classes with fewer than `min_speakers` speakers are left out (a class of one person is that person);
    a label with fewer than two classes left gets no classifier.
    """
    out = {}
    speakers = list(speakers)
    for name in table.columns:
        per_speaker = table[name][table[name] != ""]
        per_speaker = per_speaker[per_speaker.index.isin(speakers)]
        counts = per_speaker.value_counts()
        classes = counts[counts >= min_speakers].index
        if len(classes) < 2:
            continue
        y = table[name].reindex(speakers).fillna("").to_numpy()
        keep = np.isin(y, classes)
        out[name] = fit_classifier(features[keep], y[keep])
    return out


def to_json(classifiers: dict[str, Pipeline]) -> dict:
    out = {}
    for name, pipe in classifiers.items():
        scaler, clf = pipe[0], pipe[-1]
        out[name] = {"classes": clf.classes_.tolist(), "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
                     "coef": clf.coef_.tolist(), "intercept": clf.intercept_.tolist()}
    return out


def from_json(data: dict) -> dict[str, Pipeline]:
    """Rebuild fitted pipelines from their parameters (predict_proba is identical to the fitted ones')."""
    out = {}
    for name, d in data.items():
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_ = np.array(d["mean"]), np.array(d["scale"])
        scaler.var_, scaler.n_features_in_ = scaler.scale_ ** 2, len(d["mean"])
        clf = LogisticRegression()
        clf.classes_, clf.coef_, clf.intercept_ = np.array(d["classes"]), np.array(d["coef"]), np.array(d["intercept"])
        clf.n_features_in_ = len(d["mean"])
        out[name] = Pipeline([("standardscaler", scaler), ("logisticregression", clf)])
    return out


def save_classifiers(classifiers: dict[str, Pipeline], path: str | Path) -> Path:
    return atomic_write_bytes(path, json.dumps(to_json(classifiers), indent=1).encode())


def load_classifiers(path: str | Path) -> dict[str, Pipeline]:
    """The classifiers `save_classifiers` wrote; anything else is one InputError naming the file."""
    fix = "remake it with `dvc repro evaluate`"
    try:
        data = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err}); {fix}") from None
    try:
        classifiers = from_json(data)
        for clf in classifiers.values():  # shapes that fit together: one probability row per feature
            clf.predict_proba(np.zeros((1, clf.n_features_in_)))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as err:
        raise InputError(f"{path}: not attribute classifiers ({type(err).__name__}: {err}); {fix}") from None
    return classifiers


def probabilities(classifiers: dict[str, Pipeline], feature: np.ndarray) -> dict[str, dict[str, float]]:
    """Each attribute's class probabilities for one feature, most likely first."""
    out = {}
    for name, clf in classifiers.items():
        probs = clf.predict_proba(feature[None])[0]
        order = np.argsort(-probs)
        out[name] = {str(clf.classes_[i]): round(float(probs[i]), 4) for i in order}
    return out
