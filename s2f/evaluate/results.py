"""The evaluation's results (reports/metrics.json): their schema, written and read only here.

The file keeps DVC's flat layout (`dvc metrics show` reads it): the test split, the F2F ceiling, the true faces'
attribute accuracy, chance recall, one object per audio length ("3s", "6s": method -> scores) and the paired
comparisons. In memory the lengths are one mapping, so no reader has to recognise them by their key's shape.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from s2f.atomic import atomic_write_bytes
from s2f.catalog import REAL_VOICES_JSON
from s2f.errors import InputError

LENGTH_KEY = re.compile(r"^\d+(\.\d+)?s$")  # "3s", "6s", "1.5s": f"{seconds:g}s"
REMAKE = "remake it with `dvc repro evaluate`"


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TestSplit(_Schema):
    clips: int
    speakers: int
    pool: int  # retrieval pool size (test speakers' faces ranked per query)


class Scores(_Schema):
    """What one method's predicted face features (or the F2F reconstructions) score on the test split."""

    # (the order is the file's; the F2F ceiling has no similarity, image retrieval or craniofacial scores)
    similarity: dict[str, float] | None = None  # cosine_deg / l1 / l2, mean and std, to the true feature
    retrieval: dict[str, dict[str, float]]  # distance (cosine, l1, l2) -> R@K -> recall
    matching: dict[str, float]  # "1:2", "1:2 same gender" -> accuracy
    image_retrieval: dict[str, float] | None = None  # R@K of the decoded face's descriptor among the test faces
    agreement: dict[str, float]  # attribute -> how often the decoded face's class is the true face's
    accuracy: dict[str, float]  # attribute -> how often the decoded face's class is the speaker's label
    craniofacial: dict[str, dict[str, float]] | None = None  # "r" and "p" per facial measurement
    sharpness: float | None = None  # F2F only: mean of each decoded face's sharpness (s2f/evaluate/sharpness.py)


class Interval(_Schema):
    diff: float  # mean difference (method minus the other), per query
    lo: float  # 95% interval, paired bootstrap over test speakers
    hi: float


class EvaluationResults(_Schema):
    test: TestSplit
    f2f: Scores
    true_face_accuracy: dict[str, float]
    chance_recall: dict[str, float]
    lengths: dict[str, dict[str, Scores]]  # "6s" -> method (voice, chance, mean, resemblyzer) -> scores
    comparisons: dict[str, dict[str, dict[str, Interval]]] = Field(default_factory=dict)  # length -> pair -> metric

    def to_dict(self) -> dict[str, Any]:
        """The file's layout: lengths as top-level keys between chance_recall and comparisons."""
        def scores(s: Scores) -> dict[str, Any]:
            return {k: v for k, v in s.model_dump().items() if v is not None}

        return {"test": self.test.model_dump(), "f2f": scores(self.f2f), "true_face_accuracy": self.true_face_accuracy,
                "chance_recall": self.chance_recall,
                **{length: {method: scores(s) for method, s in by_method.items()}
                   for length, by_method in self.lengths.items()},
                "comparisons": {length: {pair: {k: i.model_dump() for k, i in by_metric.items()}
                                         for pair, by_metric in by_pair.items()}
                                for length, by_pair in self.comparisons.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResults:
        lengths = {k: v for k, v in data.items() if LENGTH_KEY.match(k)}
        return cls.model_validate({**{k: v for k, v in data.items() if k not in lengths}, "lengths": lengths})

    @classmethod
    def read(cls, path: str | Path) -> EvaluationResults:
        """reports/metrics.json, or one InputError line naming the file and the stage that remakes it."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"no {path}: run `make run` (or `dvc repro evaluate`) first")
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            return cls.from_dict(data)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise InputError(f"{path}: stale or not evaluation results ({key}: {first['msg'].lower()}); "
                             f"{REMAKE}") from None
        except (UnicodeDecodeError, ValueError) as err:
            raise InputError(f"{path}: not evaluation results ({err}); {REMAKE}") from None

    def write(self, path: str | Path) -> Path:
        return atomic_write_bytes(path, self.to_json().encode())

    def fingerprint(self) -> str:
        """Which evaluation this is (a hash of its file's text): seeds.json and real_voices.json record the one
        they were made with, so that no reader puts an earlier `make run`'s numbers beside this one's."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


M = TypeVar("M", bound=BaseModel)


def _validated(cls: type[M], path: Path, remake: str) -> M:
    """A results file read through its schema, or one InputError line naming it and `remake` (the fix)."""
    try:
        return cls.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        raise InputError(f"{path}: damaged or from an older s2f; {remake}") from None


Made = TypeVar("Made", "SeedResults", "RealVoices")  # the files that record the evaluation they were made with


def _made_with(found: Made, results: EvaluationResults | None) -> Made | None:
    """`found` (seeds.json or real_voices.json, read) where it records `results`' fingerprint, else None."""
    return found if results is not None and found.evaluation == results.fingerprint() else None


class Confusion(_Schema):
    classes: list[str]
    counts: list[list[int]]  # rows: the class read off the true face; columns: off the S2F face


class ReportData(_Schema):
    """reports/report_data.json (evaluate): what report.html shows beyond metrics.json, so the report can be
    rendered again from reports/ alone (`s2f report`; make reproduce and scripts/real_voices.py add their
    sections that way)."""

    context: dict[str, str]  # encoder, decoder, data: which models and datasets were scored
    curves: dict[str, list[float]]  # "voice @ 6s" -> cosine R@K for K = 1..pool
    confusions: dict[str, Confusion]  # attribute -> the voice encoder's confusions (longest audio)

    def write(self, path: str | Path) -> Path:
        return atomic_write_bytes(path, json.dumps(self.model_dump(), indent=2).encode())

    @classmethod
    def read(cls, path: str | Path) -> ReportData:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"no {path}: run `make run` (or `dvc repro evaluate`) first")
        return _validated(cls, path, REMAKE)


class RealVoicesRun(_Schema):
    """One training's models on the real clips: what make run's models and each of make reproduce's runs did."""

    models: str  # the folder of models scored
    women: list[int]  # [clips whose drawn face is a woman's, clips of women]
    men: list[int]  # [clips whose drawn face is a man's, clips of men]
    distinct: float  # mean pairwise cosine of (prediction - train-mean face): 1 one face for all, ~0 each its own
    ages: dict[str, int]  # the age classifier's decade of each drawn face -> clips


class RealVoices(BaseModel):
    """reports/real_voices.json: the trained models on real voices (s2f.real_voices; scripts/real_voices.py
    writes it after `make run`, the README block, `s2f results` and the app read it)."""

    model_config = ConfigDict(extra="forbid")

    trained_on: str  # the voice encoder's training data ("synth": the synthetic corpus)
    clips: int  # clips with enough speech
    agree: int  # clips whose predicted face has the annotated gender
    agreement: float
    interval: list[float] | None  # exact (Clopper-Pearson) 95% interval of the agreement
    predicted_m: int  # clips given a man's face
    truth_m: int  # clips of men
    rows: list[dict[str, str]]  # clip, gender, predicted
    skipped: list[dict[str, str]]  # clip, reason
    source: str = ""  # which clips: "<folder>/manifest.csv: N clips of M people"
    tempo: float = 1.0  # the rate the speaker embedding read them at (PredictParams.tempo; 1 before it existed)
    distinct: float | None = None  # make run's models: as RealVoicesRun.distinct
    ages: dict[str, int] = {}  # make run's models: as RealVoicesRun.ages
    runs: list[RealVoicesRun] = []  # make run's models first, then make reproduce's runs where they exist
    evaluation: str = ""  # fingerprint of the metrics.json beside it then (the same make run's models); "": none

    def to_json(self) -> str:
        return json.dumps(self.model_dump(), indent=2)

    def write(self, path: str | Path) -> Path:
        return atomic_write_bytes(path, self.to_json().encode())

    @classmethod
    def read_beside(cls, metrics: str | Path, results: EvaluationResults | None) -> RealVoices | None:
        """real_voices.json beside the evaluation's `metrics` where it was made with `results` (that file's
        evaluation, read); None where the script has not run since (or `results` is None: nothing to tell
        which models it scored). A damaged file is one InputError naming it and the fix."""
        path = Path(metrics).with_name(REAL_VOICES_JSON)
        if not path.is_file():
            return None
        return _made_with(_validated(cls, path, "remake it with `python scripts/real_voices.py`"), results)


class Estimate(_Schema):
    mean: float  # over runs (seeds) and test queries
    lo: float  # 95% interval, bootstrap over runs and test speakers together
    hi: float


class SeedResults(_Schema):
    """reports/seeds.json (`make reproduce`): the headline metrics of `runs` trainings from different seeds, each
    evaluated on the same test queries, as means with 95% intervals over seeds and test speakers; and the voice
    encoder minus each baseline, paired (the same resampled seeds and speakers on both sides)."""

    runs: int
    seeds: list[dict[str, int]]  # each run's face_model.seed and voice_model.seed
    queries: int  # test clips scored per run
    speakers: int
    lengths: dict[str, dict[str, dict[str, Estimate]]]  # "6s" -> method -> metric (R@1, R@10, 1:2, gender)
    comparisons: dict[str, dict[str, dict[str, Estimate]]]  # "6s" -> "voice - resemblyzer" -> metric
    evaluation: str = ""  # fingerprint of make run's metrics.json, whose models are run 1; "": from before s2f kept it

    def to_json(self) -> str:
        return json.dumps(self.model_dump(), indent=2)

    def write(self, path: str | Path) -> Path:
        return atomic_write_bytes(path, self.to_json().encode())

    @classmethod
    def read(cls, path: str | Path, results: EvaluationResults) -> SeedResults | None:
        """The file where its runs include the models `results` evaluated (make run's); None where `make
        reproduce` has not run since those were trained. A damaged file is one InputError."""
        path = Path(path)
        if not path.is_file():
            return None
        return _made_with(_validated(cls, path, "remake it with `make reproduce`"), results)
