"""Evaluation outputs: reports/metrics.json (DVC metrics), reports/plots/ (DVC plots data), the faces grid, what
else the report shows (report_data.json), and one self-contained report.html (tables, plots and pictures inlined;
it opens with no network) rendered from those files alone, with the intervals over seeds (seeds.json, `make
reproduce`) and the real voices (real_voices.json, scripts/real_voices.py) where they exist beside them."""

from __future__ import annotations

import base64
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")  # no display: figures are rendered to PNG bytes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from markupsafe import Markup  # noqa: E402

from s2f.atomic import atomic_write_bytes  # noqa: E402
from s2f.catalog import FACES_GRID_PNG, METRICS_JSON, PER_QUERY, REPORT_DATA, REPORT_HTML, SEEDS  # noqa: E402
from s2f.errors import InputError  # noqa: E402
from s2f.evaluate.craniofacial import MEASURES  # noqa: E402
from s2f.evaluate.results import EvaluationResults, RealVoices, ReportData, Scores, SeedResults  # noqa: E402
from s2f.images import png_bytes  # noqa: E402
from s2f.metrics import KS, METRICS  # noqa: E402

METHOD_NAMES = {"voice": "s2f voice encoder", "resemblyzer": "resemblyzer + ridge", "mean": "train-mean face",
                "chance": "random train face", "decoder": "F2F (decoded true face)"}


def similarity_table(results: EvaluationResults) -> pd.DataFrame:
    rows = []
    for length, by_method in results.lengths.items():
        for method, r in by_method.items():
            s = r.similarity
            if s is None:
                continue
            rows.append({"audio": length, "method": METHOD_NAMES.get(method, method),
                         "cosine distance (deg)": f"{s['cosine_deg_mean']:.2f} ± {s['cosine_deg_std']:.2f}",
                         "L1": f"{s['l1_mean']:.3f} ± {s['l1_std']:.3f}",
                         "L2": f"{s['l2_mean']:.3f} ± {s['l2_std']:.3f}"})
    return pd.DataFrame(rows)


def retrieval_table(results: EvaluationResults, metric: str) -> pd.DataFrame:
    ks = [f"R@{k}" for k in KS]
    rows = [{"audio": "", "method": f"chance (pool of {results.test.pool})",
             **{k: f"{100 * results.chance_recall[k]:.1f}" for k in ks}}]
    for length, by_method in results.lengths.items():
        for method, r in by_method.items():
            rows.append({"audio": length, "method": METHOD_NAMES.get(method, method),
                         **{k: f"{100 * r.retrieval[metric][k]:.1f}" for k in ks}})
    rows.append({"audio": "", "method": "F2F (decoded true face: the ceiling)",
                 **{k: f"{100 * results.f2f.retrieval[metric][k]:.1f}" for k in ks}})
    return pd.DataFrame(rows)


def matching_table(results: EvaluationResults) -> pd.DataFrame:
    """The field's standard metrics: 1:2 matching (%) and retrieval by the decoded face's descriptor (R@K, %)."""
    def row(audio: str, method: str, r: Scores) -> dict[str, str]:
        match = r.matching
        image = r.image_retrieval or r.retrieval.get("cosine", {})
        return {"audio": audio, "method": method,
                **{f"{k} matching": f"{100 * v:.1f}" for k, v in match.items()},
                **{f"image {k}": f"{100 * image[k]:.1f}" for k in ("R@1", "R@10") if k in image}}

    rows = [{"audio": "", "method": "chance", "1:2 matching": "50.0", "1:2 same gender matching": "50.0",
             **{f"image {k}": f"{100 * results.chance_recall[k]:.1f}" for k in ("R@1", "R@10")}}]
    for length, by_method in results.lengths.items():
        rows += [row(length, METHOD_NAMES.get(method, method), r) for method, r in by_method.items()]
    rows.append(row("", "F2F (decoded true face: the ceiling)", results.f2f))
    return pd.DataFrame(rows).fillna("")


def verdict(interval: dict[str, float]) -> str:
    """The word a claim may use: 'beats' only when the whole 95% interval of the difference is above 0."""
    return "beats" if interval["lo"] > 0 else "trails" if interval["hi"] < 0 else "on par with"


def comparison_table(results: EvaluationResults, method: str = "voice") -> pd.DataFrame:
    """`method` against each baseline on each headline metric: difference in points, its 95% interval over test
    speakers (paired bootstrap) and the verdict it allows."""
    rows = []
    for length in results.lengths:
        for pair, metrics in results.comparisons.get(length, {}).items():
            other = pair.split(" - ", 1)[1]
            for metric, interval in metrics.items():
                d = interval.model_dump()
                rows.append({"audio": length, "against": METHOD_NAMES.get(other, other), "metric": metric,
                             "difference (points)": f"{100 * d['diff']:+.1f}",
                             "95% interval": f"[{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]",
                             f"{METHOD_NAMES.get(method, method)}": f"{verdict(d)} it"})
    return pd.DataFrame(rows)


def seeds_table(seeds: SeedResults) -> pd.DataFrame:
    """Every method's headline metrics over the runs: mean [95% interval over seeds and test speakers], in %."""
    names = {"R@1": "R@1", "R@10": "R@10", "1:2": "1:2 matching", "gender": "gender agreement",
             "sharpness": "sharpness vs real crops"}
    return pd.DataFrame([{"audio": length, "method": METHOD_NAMES.get(method, method),
                          **{names.get(k, k): f"{100 * e.mean:.1f} [{100 * e.lo:.1f}, {100 * e.hi:.1f}]"
                             for k, e in by_metric.items()}}
                         for length, by_method in seeds.lengths.items() for method, by_metric in by_method.items()]
                        ).fillna("")


def seeds_comparison_table(seeds: SeedResults, method: str = "voice") -> pd.DataFrame:
    """`method` minus each baseline over the runs: difference in points, paired interval, the verdict it allows."""
    return pd.DataFrame([{"audio": length, "against": METHOD_NAMES.get(pair.split(" - ", 1)[1], pair),
                          "metric": k, "difference (points)": f"{100 * e.mean:+.1f}",
                          "95% interval": f"[{100 * e.lo:+.1f}, {100 * e.hi:+.1f}]",
                          METHOD_NAMES.get(method, method): f"{verdict(e.model_dump())} it"}
                         for length, by_pair in seeds.comparisons.items() for pair, by_metric in by_pair.items()
                         for k, e in by_metric.items()])


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
    """One sentence: do `make run`'s models (one draw: metrics.json) land inside the intervals over seeds?"""
    checked, outside = outside_intervals(results, seeds)
    cells = f"{checked} method and metric cells"
    where = (f"all {cells}." if not outside
             else f"{checked - len(outside)} of the {cells}; outside: " + "; ".join(outside) + ".")
    return (f"The models `make run` trains (the first of these runs, scored in reports/metrics.json) land inside "
            f"the interval in {where}")


def real_voices_text(real: RealVoices) -> str:
    """What the model does on real voices (reports/real_voices.json), in one paragraph of plain text: women and men
    apart, since a model that draws one gender for everyone scores the share of that gender in total; how distinct
    the voices' faces are; and the same over make reproduce's trainings where they were scored."""
    lo, hi = real.interval or (float("nan"), float("nan"))
    note = (" The model was trained on the synthetic corpus, so this says nothing reliable about a real voice."
            if real.trained_on == "synth" else f" The model was trained on {real.trained_on} data.")
    parts = []
    for gender, name in (("f", "women"), ("m", "men")):
        rows = [r for r in real.rows if r["gender"] == gender]
        if rows:
            agree = sum(r["predicted"] == gender for r in rows)
            parts.append(f"{agree} of {len(rows)} clips of {name} ({100 * agree / len(rows):.0f}%)")
    rate = f"; speaker embeddings read at {real.tempo:g} times the clips' rate, predict.tempo" \
        if real.tempo != 1.0 else ""
    text = (f"On real voices ({real.source}; {real.clips} with enough speech{rate}), the face the model draws "
            f"from each voice has the annotated gender in {' and '.join(parts)}; {real.agree} of {real.clips} in all "
            f"({100 * real.agreement:.0f}%, exact 95% interval {100 * lo:.0f}-{100 * hi:.0f}%; it drew a man's "
            f"face for {real.predicted_m} clips).")
    if real.distinct is not None:
        ages = ", ".join(f"{n} {decade}" for decade, n in real.ages.items())
        text += (f" The voices' faces are {'nearly one face' if real.distinct > 0.5 else 'distinct'}: the mean "
                 f"pairwise cosine of their predictions' offsets from the train-mean face is {real.distinct:.2f} "
                 f"(1: one direction for all, 0: unrelated); the age classifier reads them as {ages}.")
    if len(real.runs) > 1:
        def spread(values: list[float], fmt: str) -> str:
            return format(min(values), fmt) if min(values) == max(values) else \
                f"{format(min(values), fmt)}-{format(max(values), fmt)}"

        women = [100 * r.women[0] / r.women[1] for r in real.runs if r.women[1]]
        men = [100 * r.men[0] / r.men[1] for r in real.runs if r.men[1]]
        text += (f" Over the {len(real.runs)} trainings of make reproduce, the drawn face has the gender of "
                 f"{spread(women, '.0f')}% of the women and {spread(men, '.0f')}% of the men, and the cosine is "
                 f"{spread([r.distinct for r in real.runs], '.2f')}.")
    return text + note


def attribute_table(results: EvaluationResults) -> pd.DataFrame:
    names = list(results.true_face_accuracy)
    rows = [{"audio": "", "method": "true face vs label (classifier accuracy)",
             **{n: f"{100 * results.true_face_accuracy[n]:.1f}" for n in names}},
            {"audio": "", "method": "F2F vs true face (the ceiling)",
             **{n: f"{100 * results.f2f.agreement[n]:.1f}" for n in names}}]
    for length, by_method in results.lengths.items():
        for method, r in by_method.items():
            rows.append({"audio": length, "method": METHOD_NAMES.get(method, method),
                         **{n: f"{100 * r.agreement[n]:.1f}" for n in names}})
    return pd.DataFrame(rows)


def craniofacial_table(results: EvaluationResults, length: str) -> pd.DataFrame:
    methods = results.lengths[length]
    data = {METHOD_NAMES.get(k, k): [v.craniofacial["r"][n] for n in [*MEASURES, "mean"]]
            for k, v in methods.items()}
    data["shuffled pairs (voice)"] = [methods["voice"].craniofacial["shuffled"][n] for n in [*MEASURES, "mean"]]
    return pd.DataFrame(data, index=[*MEASURES, "mean"]).map(lambda x: f"{x:+.2f}")


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def recall_figure(curves: dict[str, np.ndarray]) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        ks = np.arange(1, len(curve) + 1)
        ax.plot(ks, 100 * curve, label=name, lw=2 if name.startswith("voice") else 1)
    pool = len(next(iter(curves.values())))
    ax.plot(np.arange(1, pool + 1), 100 * np.arange(1, pool + 1) / pool, "k:", label="chance")
    ax.set(xlabel="K", ylabel="recall@K (%)", title=f"Retrieval among {pool} test speakers (cosine)")
    ax.legend(fontsize=7)
    return _png(fig)


def confusion_figures(confusions: dict[str, dict[str, Any]]) -> dict[str, str]:
    out = {}
    for name, c in confusions.items():
        counts = np.array(c["counts"], float)
        rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(c["classes"]), 1 + 0.6 * len(c["classes"])))
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(c["classes"])), c["classes"], rotation=45)
        ax.set_yticks(range(len(c["classes"])), c["classes"])
        for (i, j), v in np.ndenumerate(rates):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.5 else "black")
        ax.set(xlabel="S2F reconstruction", ylabel="true face", title=name)
        out[name] = _png(fig)
    return out


def craniofacial_figure(results: EvaluationResults, length: str) -> str:
    methods = results.lengths[length]
    names = list(MEASURES)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / (len(methods) + 1)
    series = {METHOD_NAMES.get(k, k): [v.craniofacial["r"][n] for n in names] for k, v in methods.items()}
    series["shuffled pairs"] = [methods["voice"].craniofacial["shuffled"][n] for n in names]
    for i, (label, values) in enumerate(series.items()):
        ax.bar(np.arange(len(names)) + i * width, values, width, label=label)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=40, ha="right")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(ylabel="Pearson r, F2F vs S2F", title=f"Craniofacial measures over test speakers ({length} audio)")
    ax.legend(fontsize=7)
    return _png(fig)


def plots_data(results: EvaluationResults, curves: dict[str, np.ndarray], confusions: dict[str, dict[str, Any]],
               out: Path) -> None:
    """DVC plots data: recall curves, per-attribute confusion rows, craniofacial correlations."""
    recall = pd.DataFrame({"k": np.arange(1, len(next(iter(curves.values()))) + 1),
                           **{name.replace(" @ ", "_"): c for name, c in curves.items()}})
    recall["chance"] = recall.k / len(recall)
    atomic_write_bytes(out / "recall.csv", recall.to_csv(index=False).encode())
    for name, c in confusions.items():
        pairs = [{"true_face": c["classes"][i], "s2f": c["classes"][j]}
                 for (i, j), n in np.ndenumerate(np.array(c["counts"])) for _ in range(int(n))]
        atomic_write_bytes(out / f"confusion_{name}.json", json.dumps(pairs).encode())
    methods = results.lengths[list(results.lengths)[-1]]
    cranio = pd.DataFrame([{"measure": n, **{k: v.craniofacial["r"][n] for k, v in methods.items()},
                            "shuffled": methods["voice"].craniofacial["shuffled"][n]} for n in MEASURES])
    atomic_write_bytes(out / "craniofacial.csv", cranio.to_csv(index=False).encode())


def html_report(results: EvaluationResults, data: ReportData, grid_png: bytes, seeds: SeedResults | None = None,
                real: RealVoices | None = None) -> str:
    env = jinja2.Environment(autoescape=True)  # labels and paths in the text are escaped
    template = env.from_string(resources.files("s2f.evaluate").joinpath("report.html.j2").read_text())
    longest = list(results.lengths)[-1]

    def html(frame: pd.DataFrame, index: bool = False) -> Markup:  # pandas escapes the cells itself
        return Markup(frame.to_html(classes="table", border=0, index=index, escape=True))

    curves = {name: np.asarray(c) for name, c in data.curves.items()}
    confusions = {name: c.model_dump() for name, c in data.confusions.items()}
    return template.render(
        results=results, context=data.context, longest=longest,
        similarity=html(similarity_table(results)),
        retrieval={metric: html(retrieval_table(results, metric)) for metric in METRICS},
        attributes=html(attribute_table(results)),
        matching=html(matching_table(results)),
        comparisons=html(comparison_table(results)),
        craniofacial=html(craniofacial_table(results, longest), index=True),
        recall_png=recall_figure(curves), confusion_pngs=confusion_figures(confusions),
        craniofacial_png=craniofacial_figure(results, longest),
        grid_png=base64.b64encode(grid_png).decode(),
        seeds=seeds, seeds_table=html(seeds_table(seeds)) if seeds else None,
        seeds_comparisons=html(seeds_comparison_table(seeds)) if seeds else None,
        seeds_run=run_in_intervals(results, seeds) if seeds else None,
        real=real_voices_text(real) if real else None)




def render_report(reports: str | Path) -> Path:
    """reports/report.html from the files beside it: metrics.json, report_data.json and faces_grid.png (the
    evaluate stage's), seeds.json and real_voices.json where they exist. Not a DVC output: every command that
    writes one of those files renders it again (`s2f report` does it by hand)."""
    reports = Path(reports)
    results = EvaluationResults.read(reports / METRICS_JSON)
    data = ReportData.read(reports / REPORT_DATA)
    grid = reports / FACES_GRID_PNG
    if not grid.is_file():
        raise InputError(f"no {grid}: run `make run` (or `dvc repro evaluate`) first")
    html = html_report(results, data, grid.read_bytes(), SeedResults.read(reports / SEEDS, results),
                       RealVoices.read_beside(reports / METRICS_JSON, results))
    return atomic_write_bytes(reports / REPORT_HTML, html.encode())


def write_outputs(results: EvaluationResults, curves: dict[str, np.ndarray], confusions: dict[str, dict[str, Any]],
                  grid: np.ndarray, context: dict[str, Any], out: str | Path,
                  per_query: pd.DataFrame | None = None) -> list[Path]:
    """The evaluate stage's outputs, then report.html rendered from them."""
    out = Path(out)
    plots_data(results, curves, confusions, out / "plots")
    extra = [] if per_query is None else [atomic_write_bytes(out / PER_QUERY, per_query.to_csv(index=False).encode())]
    data = ReportData(context=context, curves={k: [float(x) for x in c] for k, c in curves.items()},
                      confusions=confusions)
    written = [*extra, results.write(out / METRICS_JSON), atomic_write_bytes(out / FACES_GRID_PNG, png_bytes(grid)),
               data.write(out / REPORT_DATA)]
    return [*written, render_report(out)]
