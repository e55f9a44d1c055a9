"""The README's results block, generated from reports/ by `s2f results --write README.md` (never typed by hand):
the test table of reports/metrics.json, the intervals over seeds of reports/seeds.json (`make reproduce`) with
where `make run`'s models fall in them, and the real voices of reports/real_voices.json.

Not part of any stage: rewording the README reruns nothing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from s2f.errors import InputError
from s2f.evaluate.report import (
    METHOD_NAMES,
    comparison_table,
    outside_intervals,
    real_voices_text,
    run_in_intervals,
    seeds_comparison_table,
    seeds_table,
)
from s2f.evaluate.results import EvaluationResults, RealVoices, SeedResults, _validated


def results_markdown(results: EvaluationResults) -> str:
    """The README's results block, generated from reports/metrics.json (never typed by hand)."""
    test = results.test
    head = ["audio", "method", "R@1", "R@10", "1:2 matching", "1:2 same gender", "gender agreement", "image R@10"]
    chance = results.chance_recall
    intro = (f"Test split: {test.clips} clips of {test.speakers} speakers never seen in training; retrieval "
             f"pools of {test.pool} (chance R@1 {100 * chance['R@1']:.1f}%, R@10 {100 * chance['R@10']:.1f}%; "
             "1:2 chance 50%). All in %.")

    def pct(x: float | None) -> str:
        return "" if x is None or np.isnan(x) else f"{100 * x:.1f}"

    rows = []
    for length, by_method in results.lengths.items():
        for method, r in by_method.items():
            match, cos = r.matching, r.retrieval["cosine"]
            rows.append([length, METHOD_NAMES.get(method, method), pct(cos["R@1"]), pct(cos["R@10"]),
                         pct(match.get("1:2")), pct(match.get("1:2 same gender")), pct(r.agreement.get("gender")),
                         pct((r.image_retrieval or {}).get("R@10"))])
    f2f = results.f2f
    lines = [intro, "", *_table(head, rows), "| | F2F (decoded true face: the ceiling) | " + " | ".join(
        [pct(f2f.retrieval["cosine"]["R@1"]), pct(f2f.retrieval["cosine"]["R@10"]),
         pct(f2f.matching.get("1:2")), pct(f2f.matching.get("1:2 same gender")),
         pct(f2f.agreement.get("gender")), pct(f2f.retrieval["cosine"]["R@10"])]) + " |"]
    against = _against_resemblyzer(comparison_table(results), results.lengths)
    if against:
        lines += ["", ("The voice encoder against resemblyzer + ridge (difference in points, 95% interval from a "
                       "paired bootstrap over test speakers, for this one trained model):"), "", *against]
    return "\n".join(lines) + "\n"


def seeds_markdown(seeds: SeedResults, results: EvaluationResults | None = None) -> str:
    """The headline metrics over `make reproduce`'s trainings (reports/seeds.json), and the voice encoder against
    resemblyzer + ridge, each with its 95% interval over seeds and test speakers (the report's two tables); with
    `results` (the models of `make run`, run 0) also where that one run falls in those intervals."""
    seed_list = ", ".join(f"{s['face_model']}/{s['voice_model']}" for s in seeds.seeds)
    table = seeds_table(seeds)
    lines = [f"Over {seeds.runs} trainings of both models (face/voice seeds {seed_list}), each scored on the same "
             f"{seeds.queries} test clips of {seeds.speakers} speakers: mean and 95% interval over seeds and test "
             "speakers, in %.", "", *_table(list(table.columns), table.values.tolist()),
             "", "The voice encoder against resemblyzer + ridge over seeds (difference in points, paired 95% "
                 "interval over seeds and test speakers):", "",
             *_against_resemblyzer(seeds_comparison_table(seeds), seeds.lengths)]
    if results is not None:
        lines += ["", run_in_intervals(results, seeds)]
    return "\n".join(lines) + "\n"


def within_seeds(results: EvaluationResults, metrics: Path, seeds_path: Path) -> str:
    """Whether one run (metrics.json) lands inside the intervals over seeds in `seeds_path`, whichever models
    those were made with (`s2f results --within`: after a `make run` on another machine, the committed ones)."""
    if not seeds_path.is_file():
        raise InputError(f"{seeds_path}: no such file; run `make reproduce`, or give --within the seeds.json to "
                         "compare with")
    seeds = _validated(SeedResults, seeds_path, "remake it with `make reproduce`")
    if seeds.evaluation == results.fingerprint():  # make run's own models: the README's sentence
        return run_in_intervals(results, seeds)
    checked, outside = outside_intervals(results, seeds)
    seeded = ", ".join(f"{s['face_model']}/{s['voice_model']}" for s in seeds.seeds)
    return (f"The models scored in {metrics}, which are not the first of the {seeds.runs} runs of {seeds_path} "
            f"(face/voice seeds {seeded}), land inside the interval in "
            + (f"all {checked} method and metric cells." if not outside else
               f"{checked - len(outside)} of the {checked} method and metric cells; outside: "
               + "; ".join(outside) + "."))


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table's lines."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def _against_resemblyzer(table: pd.DataFrame, lengths: Iterable[str]) -> list[str]:
    """From a comparison table (the report's: one row per length, baseline and metric), one line per audio length:
    the voice encoder minus resemblyzer + ridge on each metric, with the verdict its interval allows."""
    if not len(table):
        return []
    lines = []
    for length in lengths:
        rows = table[(table.audio == length) & (table.against == METHOD_NAMES["resemblyzer"])]
        parts = [f"{r['metric']} {r['difference (points)']} {r['95% interval']}: "
                 f"{r[METHOD_NAMES['voice']].removesuffix(' it').removesuffix(' with')}" for _, r in rows.iterrows()]
        if parts:
            lines.append(f"- {length}: " + "; ".join(parts) + ".")
    return lines


RESULTS_BEGIN = "<!-- results: generated from reports/metrics.json by `s2f results --write README.md` -->"
RESULTS_END = "<!-- /results -->"


# where seeds.json or real_voices.json is absent or was made with an earlier make run's models
NO_SEEDS = ("Intervals over seeds: not measured for these models yet (the table above is one training): "
            "`make reproduce` trains both models from other seeds and adds them here.\n")
NO_REAL_VOICES = ("Real voices: not measured for these models yet: `python scripts/real_voices.py` runs them on "
                  "annotated real clips and adds what they do here.\n")


def real_voices_markdown(real: RealVoices) -> str:
    """What the model does on real voices (reports/real_voices.json), in one paragraph."""
    return real_voices_text(real) + "\n"


def with_results(text: str, results: EvaluationResults, real: RealVoices | None = None,
                 seeds: SeedResults | None = None) -> str:
    """`text` (the README) with the block between the results markers regenerated (the intervals over seeds and
    the real voices where `make reproduce` and scripts/real_voices.py have run for these models, else how to)."""
    start, end = text.find(RESULTS_BEGIN), text.find(RESULTS_END)
    if start < 0 or end < start:
        raise ValueError(f"no results block: put {RESULTS_BEGIN} and {RESULTS_END} on lines of their own")
    block = (results_markdown(results) + "\n" + (seeds_markdown(seeds, results) if seeds else NO_SEEDS)
             + "\n" + (real_voices_markdown(real) if real else NO_REAL_VOICES))
    return text[:start] + RESULTS_BEGIN + "\n" + block + text[end:]
