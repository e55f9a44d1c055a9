"""The README's results block, generated from reports/ by `s2f results --write README.md` (never typed by hand):
the test table of reports/metrics.json, the intervals over seeds of reports/seeds.json (`make reproduce`) with
where `make run`'s models fall in them, and the real voices of reports/real_voices.json.

Not part of any stage: rewording the README reruns nothing."""

from __future__ import annotations

import numpy as np

from s2f.evaluate.report import METHOD_NAMES, comparison_table, verdict
from s2f.evaluate.results import EvaluationResults, RealVoices, Scores, SeedResults


def results_markdown(results: EvaluationResults) -> str:
    """The README's results block, generated from reports/metrics.json (never typed by hand)."""
    test = results.test
    head = ["audio", "method", "R@1", "R@10", "1:2 matching", "1:2 same gender", "gender agreement", "image R@10"]
    chance = results.chance_recall
    intro = (f"Test split: {test.clips} clips of {test.speakers} speakers never seen in training; retrieval "
             f"pools of {test.pool} (chance R@1 {100 * chance['R@1']:.1f}%, R@10 {100 * chance['R@10']:.1f}%; "
             "1:2 chance 50%). All in %.")
    lines = [intro, "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def pct(x: float | None) -> str:
        return "" if x is None or np.isnan(x) else f"{100 * x:.1f}"

    for length, by_method in results.lengths.items():
        for method, r in by_method.items():
            match, cos = r.matching, r.retrieval["cosine"]
            cells = [length, METHOD_NAMES.get(method, method), pct(cos["R@1"]), pct(cos["R@10"]),
                     pct(match.get("1:2")), pct(match.get("1:2 same gender")), pct(r.agreement.get("gender")),
                     pct((r.image_retrieval or {}).get("R@10"))]
            lines.append("| " + " | ".join(cells) + " |")
    f2f = results.f2f
    lines.append("| | F2F (decoded true face: the ceiling) | " + " | ".join(
        [pct(f2f.retrieval["cosine"]["R@1"]), pct(f2f.retrieval["cosine"]["R@10"]),
         pct(f2f.matching.get("1:2")), pct(f2f.matching.get("1:2 same gender")),
         pct(f2f.agreement.get("gender")), pct(f2f.retrieval["cosine"]["R@10"])]) + " |")
    table = comparison_table(results)
    if len(table):
        lines += ["", ("The voice encoder against resemblyzer + ridge (difference in points, 95% interval from a "
                       "paired bootstrap over test speakers, for this one trained model):"), ""]
        for length in results.lengths:
            rows = table[(table.audio == length) & (table.against == METHOD_NAMES["resemblyzer"])]
            parts = [f"{r['metric']} {r['difference (points)']} {r['95% interval']}: "
                     f"{r[METHOD_NAMES['voice']].removesuffix(' it').removesuffix(' with')}"
                     for _, r in rows.iterrows()]
            if parts:
                lines.append(f"- {length}: " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"


def seeds_markdown(seeds: SeedResults, results: EvaluationResults | None = None) -> str:
    """The headline metrics over `make reproduce`'s trainings (reports/seeds.json), and the voice encoder against
    resemblyzer + ridge, each with its 95% interval over seeds and test speakers; with `results` (the models of
    `make run`, run 0) also where that one run falls in those intervals."""
    def cell(e) -> str:
        return f"{100 * e.mean:.1f} [{100 * e.lo:.1f}, {100 * e.hi:.1f}]"

    metrics = {"R@1": "R@1", "R@10": "R@10", "1:2": "1:2 matching", "gender": "gender agreement"}
    shown = [k for k in metrics if any(k in by for ms in seeds.lengths.values() for by in ms.values())]
    seed_list = ", ".join(f"{s['face_model']}/{s['voice_model']}" for s in seeds.seeds)
    lines = [f"Over {seeds.runs} trainings of both models (face/voice seeds {seed_list}), each scored on the same "
             f"{seeds.queries} test clips of {seeds.speakers} speakers: mean and 95% interval over seeds and test "
             "speakers, in %.", "",
             "| audio | method | " + " | ".join(metrics[k] for k in shown) + " |", "|" + "---|" * (len(shown) + 2)]
    for length, by_method in seeds.lengths.items():
        for method, by_metric in by_method.items():
            lines.append(f"| {length} | {METHOD_NAMES.get(method, method)} | "
                         + " | ".join(cell(by_metric[k]) if k in by_metric else "" for k in shown) + " |")
    lines += ["", "The voice encoder against resemblyzer + ridge over seeds (difference in points, paired 95% "
                  "interval over seeds and test speakers):", ""]
    for length, by_pair in seeds.comparisons.items():
        diff = by_pair.get("voice - resemblyzer")
        if diff:
            lines.append(f"- {length}: " + "; ".join(
                f"{k} {100 * e.mean:+.1f} [{100 * e.lo:+.1f}, {100 * e.hi:+.1f}]: "
                f"{verdict(e.model_dump()).removesuffix(' with')}" for k, e in diff.items()) + ".")
    if results is not None:
        lines += ["", run_in_intervals(results, seeds)]
    return "\n".join(lines) + "\n"


def headline(scores: Scores) -> dict[str, float]:
    """One method's headline metrics in metrics.json, under the names seeds.json gives them."""
    return {"R@1": scores.retrieval["cosine"]["R@1"], "R@10": scores.retrieval["cosine"]["R@10"],
            **({"1:2": scores.matching["1:2"]} if "1:2" in scores.matching else {}),
            **({"gender": scores.agreement["gender"]} if "gender" in scores.agreement else {})}


def outside_intervals(results: EvaluationResults, seeds: SeedResults) -> tuple[int, list[str]]:
    """How many of seeds.json's (length, method, metric) cells `results` (one run) has a value for, and those of
    them whose value lies outside the cell's 95% interval, as "6s s2f voice encoder R@1 9.9 [10.2, 14.0]"."""
    checked, outside = 0, []
    for length, by_method in seeds.lengths.items():
        for method, by_metric in by_method.items():
            scores = results.lengths.get(length, {}).get(method)
            values = headline(scores) if scores is not None else {}
            for metric, e in by_metric.items():
                if metric not in values:
                    continue
                checked += 1
                if not e.lo - 1e-12 <= values[metric] <= e.hi + 1e-12:
                    outside.append(f"{length} {METHOD_NAMES.get(method, method)} {metric} "
                                   f"{100 * values[metric]:.1f} [{100 * e.lo:.1f}, {100 * e.hi:.1f}]")
    return checked, outside


def run_in_intervals(results: EvaluationResults, seeds: SeedResults) -> str:
    """One sentence: does the table above (`make run`'s models, one draw) land inside the intervals over seeds?"""
    checked, outside = outside_intervals(results, seeds)
    where = ("all of them" if not outside else f"{checked - len(outside)} of them; outside: " + "; ".join(outside))
    return (f"The models `make run` trains (the first of these runs; the table above) land inside the interval "
            f"of {where} ({checked} method and metric cells checked).")


RESULTS_BEGIN = "<!-- results: generated from reports/metrics.json by `s2f results --write README.md` -->"
RESULTS_END = "<!-- /results -->"


def real_voices_markdown(real: RealVoices) -> str:
    """What the model does on real voices (reports/real_voices.json), in one paragraph."""
    lo, hi = real.interval or (float("nan"), float("nan"))
    note = (" The model was trained on the synthetic corpus, so this says nothing reliable about a real voice."
            if real.trained_on == "synth" else f" The model was trained on {real.trained_on} data.")
    return (f"On real voices ({real.source}; {real.clips} with enough speech), the face the model draws "
            f"from each voice has the annotated gender in {real.agree} of {real.clips} clips "
            f"({100 * real.agreement:.0f}%, exact 95% interval {100 * lo:.0f}-{100 * hi:.0f}%; it drew a man's "
            f"face for {real.predicted_m} clips; {real.truth_m} of the {real.clips} are of men).{note}\n")


def with_results(text: str, results: EvaluationResults, real: RealVoices | None = None,
                 seeds: SeedResults | None = None) -> str:
    """`text` (the README) with the block between the results markers regenerated (the intervals over seeds and
    the real voices where `make reproduce` and scripts/real_voices.py have run)."""
    start, end = text.find(RESULTS_BEGIN), text.find(RESULTS_END)
    if start < 0 or end < start:
        raise ValueError(f"no results block: put {RESULTS_BEGIN} and {RESULTS_END} on lines of their own")
    block = (results_markdown(results) + ("\n" + seeds_markdown(seeds, results) if seeds else "")
             + ("\n" + real_voices_markdown(real) if real else ""))
    return text[:start] + RESULTS_BEGIN + "\n" + block + text[end:]
