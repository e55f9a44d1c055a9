"""Evaluation metrics on hand-made inputs with known answers, attribute classifiers, and the speech window."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s2f import metrics as m
from s2f.errors import InputError
from s2f.evaluate import baselines as base
from s2f.evaluate.attributes import fit_classifiers, from_json, probabilities, speaker_labels, to_json
from s2f.evaluate.baselines import fit_ridge
from s2f.evaluate.craniofacial import MEASURES, measures
from s2f.models.spread import spread_factor, widen
from s2f.predict import speech_window

RATE = 16000


def test_cosine_distance_in_degrees():
    a = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    b = np.array([[0.0, 3.0], [2.0, 0.0], [-1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    assert np.allclose(m.cosine_degrees(a, b), [90.0, 0.0, 180.0, 60.0])
    sim = m.feature_similarity(a[:2], b[:2])
    assert sim["cosine_deg_mean"] == pytest.approx(45.0) and sim["cosine_deg_std"] == pytest.approx(45.0)
    assert sim["l1_mean"] == pytest.approx(1.0) and sim["l2_mean"] == pytest.approx(np.sqrt(2) / 2)


def test_recall_of_a_perfect_and_of_a_reversed_ranking():
    n = 10
    dist = np.tile(np.arange(n, dtype=float), (n, 1))  # pool item j is at distance j from every query
    assert m.recall_at_k(m.ranks(dist, np.zeros(n, int))) == {1: 1.0, 2: 1.0, 5: 1.0, 10: 1.0}
    assert m.recall_at_k(m.ranks(dist, np.full(n, n - 1))) == {1: 0.0, 2: 0.0, 5: 0.0, 10: 1.0}
    middle = m.recall_at_k(m.ranks(dist, np.arange(n)))  # query i's truth has rank i
    assert middle == {1: 0.1, 2: 0.2, 5: 0.5, 10: 1.0}
    tied = np.zeros((1, 4))  # ties count against: a constant distance ranks last
    assert m.ranks(tied, np.array([0]))[0] == 3
    assert m.chance_recall(10) == {1: 0.1, 2: 0.2, 5: 0.5, 10: 1.0}
    assert m.chance_recall(4, (1, 10)) == {1: 0.25, 10: 1.0}


def _faces(n: int, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    return m.normalize(rng.normal(size=(n, dim))), [f"s{i:03d}" for i in range(n)]


@pytest.mark.parametrize("metric", m.METRICS)
def test_pooled_recall_of_perfect_opposite_and_random_predictions(metric: str):
    faces, speakers = _faces(60)
    perfect = m.pooled_recall(faces, speakers, faces, speakers, 20, metric, 5, 0)
    assert perfect == {1: 1.0, 2: 1.0, 5: 1.0, 10: 1.0}
    opposite = m.pooled_recall(-faces, speakers, faces, speakers, 100, metric, 1, 0)  # pool = all 60
    assert opposite[1] == 0.0 and opposite[10] == 0.0
    random_pred, _ = _faces(1200, seed=1)  # 20 random queries per speaker
    chance = m.pooled_recall(random_pred, speakers * 20, faces, speakers, 20, metric, 20, 0)
    for k, expected in m.chance_recall(20).items():  # random pools of 20: R@K is K/20
        assert chance[k] == pytest.approx(expected, abs=0.03)


def test_pooled_hits_are_the_pools_drawn_query_by_query_with_ties_counting_against():
    """The vectorised scoring over pools drawn once gives, bit for bit, what drawing each query's pool in turn from
    the seed and counting every other face at least as close gives (the definition), for every metric."""
    faces, speakers = _faces(40)
    faces[20:] = faces[:20]  # every face has a twin: a pool holding the true face's twin ties
    pred, _ = _faces(40, seed=2)
    queries = speakers[5:25] + speakers[:20]
    for metric in m.METRICS:
        hits = m.query_hits(pred, queries, faces, speakers, 15, metric, 7, 3)
        dist, truth = m.distances(pred, faces, metric), [speakers.index(s) for s in queries]
        rng, want = np.random.default_rng(3), np.zeros((len(queries), len(m.KS)))
        for _ in range(7):
            for q, t in enumerate(truth):
                others = rng.choice(np.delete(np.arange(40), t), 14, replace=False)
                want[q] += [(dist[q, others] <= dist[q, t]).sum() < k for k in m.KS]
        assert np.array_equal(hits, want / 7) and 0 < hits.mean() < 1
        assert np.array_equal(m.query_hits(pred, queries, faces, speakers, 15, metric, 7, 3), hits)  # drawn once


def test_confusion_agreement_and_correlations():
    true = ["m", "m", "f", "f", "f"]
    pred = ["m", "f", "f", "f", "m"]
    assert m.confusion(true, pred, ["f", "m"]).tolist() == [[2, 1], [1, 1]]
    assert m.agreement(true, pred) == pytest.approx(0.6)
    x = np.arange(50, dtype=float)
    assert m.pearson(x, 2 * x + 1) == pytest.approx(1.0) and m.pearson(x, -x) == pytest.approx(-1.0)
    assert m.pearson(x, np.ones(50)) == 0.0
    assert abs(m.shuffled_pearson(x, x, 500, 0)) < 0.05  # a perfect relation means nothing once pairs are shuffled


def test_craniofacial_measures_are_ratios_of_the_right_points():
    rng = np.random.default_rng(0)
    marks = rng.uniform(20, 100, size=(3, 68, 2))
    marks[0, 36], marks[0, 45] = (30, 50), (90, 50)  # eye corners 60 px apart
    marks[0, 31], marks[0, 35] = (50, 80), (65, 80)  # nose 15 px wide
    marks[0, 27], marks[0, 33] = (60, 50), (60, 80)  # nose 30 px high
    got = measures(marks)
    assert set(got) == set(MEASURES)
    assert got["nose_width"][0] == pytest.approx(0.25) and got["nasal_index"][0] == pytest.approx(0.5)
    moved = measures(marks * 2.5 + 7)  # scale and position do not change a face's proportions
    assert all(np.allclose(got[k], moved[k]) for k in MEASURES)


def test_labels_and_classifiers_round_trip_through_json(tmp_path):
    clips = pd.DataFrame({"speaker_id": ["a", "a", "b", "c", "d"], "gender": ["female", "female", "M", "m", "f"]})
    table = pd.DataFrame({"speaker_id": ["a", "b", "c", "d"], "age": [23, 38, 71, 45], "group": [0, 1, 1, 0]})
    table.to_csv(tmp_path / "attrs.csv", index=False)
    labels = speaker_labels(clips, tmp_path / "attrs.csv", ["gender", "age", "group", "missing"])
    assert labels.to_dict("index") == {"a": {"gender": "f", "age": "20s", "group": "0"},
                                       "b": {"gender": "m", "age": "30s", "group": "1"},
                                       "c": {"gender": "m", "age": "70s", "group": "1"},
                                       "d": {"gender": "f", "age": "40s", "group": "0"}}
    rng = np.random.default_rng(0)
    speakers = [s for s in "abcd" for _ in range(10)]
    feats = rng.normal(size=(40, 8)) + np.array([[3.0 if labels.gender[s] == "m" else -3.0] for s in speakers])
    classifiers = fit_classifiers(feats, speakers, labels)
    assert set(classifiers) == {"gender", "group"}  # one example per age decade: too few to fit
    rebuilt = from_json(to_json(classifiers))
    for name, clf in classifiers.items():
        assert np.allclose(clf.predict_proba(feats), rebuilt[name].predict_proba(feats))
    probs = probabilities(rebuilt, feats[0])
    assert list(probs["gender"])[0] == "f" and sum(probs["gender"].values()) == pytest.approx(1.0, abs=1e-3)


def test_spread_factor_widens_predictions_to_the_targets_distance_from_the_mean():
    mean = np.array([1.0, 0.0])
    targets = mean + np.array([[2.0, 0.0], [0.0, -2.0], [-2.0, 0.0]])  # all 2 from the mean
    pred = mean + np.array([[0.5, 0.0], [0.0, 0.3], [0.24, 0.32]])  # 0.5, 0.3, 0.4 from it: mean 0.4
    k = spread_factor(targets, pred, mean)
    assert k == pytest.approx(5.0)
    wide = widen(pred, mean, k)
    assert np.allclose(wide - mean, 5 * (pred - mean))  # same directions, 5x as far
    assert np.linalg.norm(wide - mean, axis=1).mean() == pytest.approx(2.0)
    assert spread_factor(targets, np.repeat(mean[None], 3, 0), mean) == 1.0  # nothing to widen


def test_ridge_baseline_undoes_its_shrinkage_on_held_out_folds():
    """A weak, noisy relation makes ridge answer near the mean; its spread factor, measured on its
    cross-validation folds, puts new predictions back at the targets' distance from the mean."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(300, 8))
    feats = emb @ rng.normal(size=(8, 16)) * 0.3 + rng.normal(size=(300, 16))  # mostly noise
    speakers = [f"s{i // 2}" for i in range(300)]
    ridge = fit_ridge(emb, feats, speakers, [0.1, 10.0, 1000.0])
    assert ridge.spread > 1.5
    new = rng.normal(size=(200, 8))
    raw = ridge.ridge.predict(new)
    wide = widen(raw, ridge.mean, ridge.spread)
    target = np.linalg.norm(feats - feats.mean(0), axis=1).mean()
    assert np.linalg.norm(wide - ridge.mean, axis=1).mean() == pytest.approx(target, rel=0.15)
    assert np.allclose(ridge.predict(new), m.normalize(wide))
    one_speaker = fit_ridge(emb[:20], feats[:20], ["s0"] * 20, [1.0])  # no held-out folds: nothing to measure
    assert one_speaker.spread == 1.0
    assert np.allclose(one_speaker.predict(new), m.normalize(one_speaker.ridge.predict(new)))


def _tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def test_speech_window_takes_the_most_speech_dense_seconds():
    quiet = np.zeros(int(4 * RATE), np.float32)
    samples = np.concatenate([_tone(1.0), quiet, _tone(5.0), quiet])  # 1 s, 4 s pause, 5 s, 4 s pause
    speech = speech_window(samples, 6.0, 1.5, -40.0)
    assert len(speech.samples) == 6 * RATE and not speech.tiled
    assert speech.speech_seconds == pytest.approx(6.0, abs=0.05)
    assert 4.0 <= speech.start <= 5.0  # covers the whole 5 s burst (which starts at 5 s)


def test_short_speech_is_tiled_and_too_little_is_refused():
    samples = np.concatenate([np.zeros(RATE, np.float32), _tone(2.0), np.zeros(RATE, np.float32)])
    speech = speech_window(samples, 6.0, 1.5, -40.0)
    assert speech.tiled and len(speech.samples) == 6 * RATE and speech.start == pytest.approx(1.0, abs=0.03)
    assert np.abs(speech.samples).min() < 0.01 or np.abs(speech.samples).max() > 0.29
    with pytest.raises(InputError, match=r"only 1\.00 s of speech; predict.min_seconds is 1.5 s"):
        speech_window(np.concatenate([_tone(1.0), np.zeros(RATE, np.float32)]), 6.0, 1.5, -40.0)
    with pytest.raises(InputError, match="no speech found"):
        speech_window(np.zeros(3 * RATE, np.float32), 6.0, 1.5, -40.0)


def test_the_published_evaluation_table_has_model_and_baselines_side_by_side(tmp_path: Path):
    """The results schema round-trips the file's flat layout, and the one markdown table (README block and the
    pipeline flow's artifact) puts the model beside its baselines."""
    from s2f.errors import InputError
    from s2f.evaluate.results import EvaluationResults
    from s2f.readme import results_markdown

    scores = {"retrieval": {"cosine": {"R@1": 0.1, "R@2": 0.2, "R@5": 0.4, "R@10": 0.6}},
              "matching": {"1:2": 0.8, "1:2 same gender": 0.7}, "agreement": {"gender": 0.9},
              "accuracy": {"gender": 0.8}}
    worse = {"retrieval": {"cosine": {"R@1": 0.0, "R@2": 0.05, "R@5": 0.1, "R@10": 0.25}}, "matching": {},
             "agreement": {"gender": 0.5}, "accuracy": {"gender": 0.5}}
    metrics = {"test": {"clips": 80, "speakers": 80, "pool": 80}, "f2f": scores, "true_face_accuracy": {"gender": 0.95},
               "chance_recall": {"R@1": 0.0125, "R@2": 0.025, "R@5": 0.0625, "R@10": 0.125},
               "6s": {"voice": scores, "mean": worse}, "comparisons": {}}
    results = EvaluationResults.from_dict(metrics)
    assert list(results.lengths) == ["6s"] and results.to_dict() == metrics
    lines = results_markdown(results).splitlines()
    assert "| 6s | s2f voice encoder | 10.0 | 60.0 | 80.0 | 70.0 | 90.0 |  |" in lines
    assert "| 6s | train-mean face | 0.0 | 25.0 |  |  | 50.0 |  |" in lines
    assert "chance R@1 1.2%, R@10 12.5%" in lines[0]
    stale = tmp_path / "metrics.json"
    stale.write_text(json.dumps({k: v for k, v in metrics.items() if k != "f2f"}))
    with pytest.raises(InputError, match=r"metrics.json: stale or not evaluation results \(f2f: field required\); "
                                         r"remake it with `dvc repro evaluate`"):
        EvaluationResults.read(stale)


def test_batched_speaker_embeddings_are_resemblyzers_own(tiny_clips: list[Path]):
    """Partials of many clips run through the LSTM together give what embed_utterance gives one clip at a time."""
    from s2f.media import decode_audio

    encoder, preprocess = base._speaker_encoder()
    waves = [decode_audio(c)[:int(s * 16000)] for c, s in zip(tiny_clips[:3], (2.0, 1.0, 0.5), strict=True)]
    alone = np.stack([encoder.embed_utterance(preprocess(w, source_sr=16000)) for w in waves])
    together = base.speaker_embeddings(waves)
    assert together.shape == (3, 256) and np.allclose(together, alone, atol=1e-5)
    assert not np.allclose(together[0], together[1], atol=1e-3)  # different clips, different embeddings


def test_one_to_two_matching_counts_pairs_exhaustively_and_by_group():
    faces = np.eye(4)
    speakers = ["a", "b", "c", "d"]
    assert m.matching(faces, speakers, faces, speakers) == 1.0  # every true face is the closer one
    assert m.matching(-faces + 0.01, speakers, faces, speakers) == 0.0
    # Query a sits halfway between a and b, far from c and d: it wins against c and d, ties with b.
    query = m.normalize(np.array([[1.0, 1.0, 0.0, 0.0]]))
    assert m.matching(query, ["a"], faces, speakers) == pytest.approx((0.5 + 1 + 1) / 3)
    # Same group only (a and b one gender, c and d the other): b is the only impostor, a tie.
    assert m.matching(query, ["a"], faces, speakers, ["f", "f", "m", "m"]) == pytest.approx(0.5)
    assert np.isnan(m.matching(query, ["a"], faces, speakers, ["f", "m", "m", "m"]))  # no same-gender impostor
    rng = np.random.default_rng(0)
    random_pred, pool = rng.normal(size=(400, 16)), rng.normal(size=(40, 16))
    names = [str(i) for i in range(40)]
    assert abs(m.matching(random_pred, [names[i % 40] for i in range(400)], pool, names) - 0.5) < 0.05  # chance


def test_paired_bootstrap_claims_a_win_only_when_the_interval_excludes_zero():
    from s2f.evaluate.report import verdict

    rng = np.random.default_rng(0)
    speakers = [f"s{i}" for i in range(100) for _ in range(2)]
    clear = m.paired_bootstrap(0.2 + 0.1 * rng.normal(size=200), speakers)
    noise = m.paired_bootstrap(0.1 * rng.normal(size=200), speakers)
    worse = m.paired_bootstrap(-0.2 + 0.1 * rng.normal(size=200), speakers)
    assert clear["lo"] < clear["diff"] < clear["hi"] and verdict(clear) == "beats"
    assert noise["lo"] < 0 < noise["hi"] and verdict(noise) == "on par with"
    assert verdict(worse) == "trails"
    # Speakers move together: one speaker's 50 queries weigh as one speaker, not as 50 clips.
    lopsided = m.paired_bootstrap(np.array([1.0] * 50 + [0.0] * 20), ["a"] * 50 + [f"b{i}" for i in range(20)])
    assert lopsided["diff"] == pytest.approx(50 / 70) and lopsided["lo"] == 0.0


def test_the_readme_results_block_is_generated_from_the_metrics(tmp_path: Path):
    """The README's results table and claims come from reports/metrics.json (`s2f results --write README.md`).
    A `make run` on another machine trains other models (CPU training is not bit-exact), so reports/ then holds
    that run's evaluation while the README keeps the project's: the block must match the committed reports/."""
    from s2f.evaluate.results import EvaluationResults, RealVoices, SeedResults
    from s2f.readme import with_results
    from tests.conftest import PROJECT

    readme = (PROJECT / "README.md").read_text()

    def generated(reports: Path) -> str:
        results = EvaluationResults.read(reports / "metrics.json")
        seeds = SeedResults.read(reports / "seeds.json", results)  # None until `make reproduce` has run
        return with_results(readme, results, RealVoices.read_beside(reports / "metrics.json", results), seeds)

    if generated(PROJECT / "reports") == readme:  # always so in a clean clone: these are the committed files
        return
    committed = tmp_path / "reports"  # this tree's reports/ are a later run's: git HEAD's are the README's
    committed.mkdir()
    for name in ("metrics.json", "seeds.json", "real_voices.json"):
        shown = subprocess.run(["git", "show", f"HEAD:reports/{name}"], cwd=PROJECT, capture_output=True)
        if shown.returncode == 0:
            (committed / name).write_bytes(shown.stdout)
    assert (committed / "metrics.json").is_file(), "README.md's results block does not match reports/metrics.json"
    assert (committed / "metrics.json").read_bytes() != (PROJECT / "reports/metrics.json").read_bytes(), \
        "README.md's results block does not match reports/metrics.json: run `s2f results --write README.md`"
    assert generated(committed) == readme


def test_the_report_is_rendered_from_reports_with_seeds_and_real_voices_where_they_exist(tmp_path: Path):
    """report.html is rendered from the files in reports/ alone (`s2f report`): without seeds.json and
    real_voices.json it says how to get them; with them, it shows the intervals over seeds, whether make run's
    models land inside them, and the real voices. A missing input is one line naming it."""
    import shutil

    from flows.cli import main
    from s2f.catalog import REPORT_DATA
    from s2f.evaluate.report import render_report
    from s2f.evaluate.results import Estimate, EvaluationResults, RealVoices, RealVoicesRun, ReportData, SeedResults
    from s2f.images import png_bytes
    from s2f.readme import RESULTS_BEGIN, RESULTS_END
    from tests.conftest import PROJECT

    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(PROJECT / "reports/metrics.json", reports)  # the committed evaluation: every section has data
    with pytest.raises(InputError, match="report_data.json: run `make run`"):
        render_report(reports)
    pool = json.loads((reports / "metrics.json").read_text())["test"]["pool"]
    ReportData(context={"encoder": "the encoder", "decoder": "64 px", "data": "v1"},
               curves={"voice @ 6s": list(np.linspace(0.1, 1, pool))},
               confusions={"gender": {"classes": ["f", "m"], "counts": [[3, 1], [0, 4]]}}).write(reports / REPORT_DATA)
    (reports / "faces_grid.png").write_bytes(png_bytes(np.zeros((8, 8, 3), np.uint8)))
    html = render_report(reports).read_text()
    assert "Not measured for these models yet: the tables above are one training" in html
    assert "python scripts/real_voices.py</code> runs" in html

    e = Estimate(mean=0.5, lo=0.4, hi=0.6)
    made = EvaluationResults.read(reports / "metrics.json").fingerprint()
    seeds = SeedResults(runs=3, seeds=[{"face_model": k, "voice_model": 3 * k} for k in range(3)], queries=160,
                        speakers=80, lengths={"6s": {"voice": {"R@1": e}, "resemblyzer": {"R@1": e}}},
                        comparisons={"6s": {"voice - resemblyzer": {"R@1": Estimate(mean=0.02, lo=-0.01, hi=0.05)}}},
                        evaluation=made)
    rows = ([{"clip": f"f{i}", "gender": "f", "predicted": "f" if i < 4 else "m"} for i in range(12)]
            + [{"clip": f"m{i}", "gender": "m", "predicted": "m" if i < 15 else "f"} for i in range(21)])
    runs = [RealVoicesRun(models=f"run{k}", women=[4 + 3 * k, 12], men=[15 + k, 21], distinct=0.3 - 0.1 * k,
                          ages={"30s": 20, "60s": 13}) for k in range(3)]
    real = RealVoices(trained_on="synth", clips=33, agree=19, agreement=19 / 33, interval=[0.39, 0.75],
                      predicted_m=23, truth_m=21, rows=rows, skipped=[],
                      source="realdata/manifest.csv: 33 clips of 29 people", distinct=0.3,
                      ages={"30s": 20, "60s": 13}, runs=runs, evaluation=made)
    seeds.write(reports / "seeds.json")
    real.write(reports / "real_voices.json")
    assert main(["report", "--reports", str(reports)]) == 0
    html = (reports / "report.html").read_text()
    assert "3 trainings of both models (face/voice seeds 0/0, 1/3, 2/6)" in html and "50.0 [40.0, 60.0]" in html
    assert "on par with it" in html and "land inside the interval in" in html and "Not measured" not in html
    assert "the annotated gender in 4 of 12 clips of women (33%) and 15 of 21 clips of men (71%); 19 of 33" in html
    assert "says nothing reliable about a real voice" in html  # women and men apart: a total can hide either
    assert "offsets from the train-mean face is 0.30" in html and "20 30s, 13 60s" in html
    assert ("Over the 3 trainings of make reproduce, the drawn face has the gender of 33-83% of the women "
            "and 71-81% of the men, and the cosine is 0.10-0.30") in html

    # Both made with an earlier make run's models (another evaluation, or none recorded): neither is shown beside
    # this evaluation, in the report or the README, and each says how to measure these models.
    for other in ("0" * 16, ""):
        seeds.model_copy(update={"evaluation": other}).write(reports / "seeds.json")
        real.model_copy(update={"evaluation": other}).write(reports / "real_voices.json")
        assert main(["report", "--reports", str(reports)]) == 0
        html = (reports / "report.html").read_text()
        assert "Not measured for these models yet: the tables above" in html and "50.0 [40.0, 60.0]" not in html
        assert "python scripts/real_voices.py</code> runs" in html and "19 of 33" not in html
        readme = tmp_path / "README.md"
        readme.write_text(f"# s2f\n{RESULTS_BEGIN}\n{RESULTS_END}\n")
        assert main(["results", "--metrics", str(reports / "metrics.json"), "--write", str(readme)]) == 0
        text = readme.read_text()
        assert "Intervals over seeds: not measured for these models yet" in text and "Over 3 trainings" not in text
        assert "Real voices: not measured for these models yet" in text and "19 of 33" not in text


def test_a_face_reader_reads_each_distinct_decoded_face_once_with_the_numbers_of_a_fresh_read():
    import torch

    from s2f.evaluate.evaluation import FaceReader, reconstruct
    from s2f.faces.align import Aligner
    from s2f.models.networks import DecoderConfig, FaceDecoder

    class Counting(Aligner):
        chips = 0

        def descriptors(self, chips: list[np.ndarray]) -> np.ndarray:
            Counting.chips += len(chips)
            return super().descriptors(chips)

    torch.manual_seed(0)
    decoder = FaceDecoder(DecoderConfig()).eval()
    feats = m.normalize(np.random.default_rng(0).normal(size=(3, 128))).astype(np.float32)
    read = FaceReader(decoder, Counting(), 128)
    first = read(feats[[0, 1, 0]], landmarks=False)
    second = read(feats[[2, 1]])
    assert Counting.chips == 3  # faces 0 and 1, then only 2
    fresh = reconstruct(decoder, feats[[2, 1]], Aligner(), 128)
    for name in ("images", "descriptors", "landmarks"):
        assert np.array_equal(getattr(second, name), getattr(fresh, name)), name
    assert np.array_equal(first.descriptors[[1]], fresh.descriptors[[1]])
    assert np.array_equal(first.descriptors[0], first.descriptors[2]) and not (first.landmarks.any())
    assert not np.array_equal(fresh.descriptors[0], fresh.descriptors[1])


def test_sharpness_is_one_for_the_real_crops_and_lower_for_blurred_or_upscaled_faces(tiny_processed: Path):
    import cv2

    from s2f.evaluate.sharpness import sharpness
    from s2f.images import decode_png
    from s2f.tables import read_dataset

    crops = [decode_png(c) for c in read_dataset(tiny_processed / "faces", columns=["crop"]).crop]
    assert np.median(sharpness(crops, crops, 128)) == pytest.approx(1.0)
    blurred = [cv2.GaussianBlur(c, (5, 5), 1.5) for c in crops]
    small = [cv2.resize(c, (64, 64), interpolation=cv2.INTER_AREA) for c in crops]  # shown at 128 px: upscaled
    assert np.median(sharpness(blurred, crops, 128)) < 0.5 and np.median(sharpness(small, crops, 128)) < 0.8


def test_the_evaluation_runs_on_in_memory_tables_and_models(monkeypatch: pytest.MonkeyPatch):
    """`evaluate` takes loaded tables and models (the flow reads them with `load_inputs`): here they are made in
    memory, and every dataset reader is made to fail, so nothing can come from disk."""
    import torch

    from s2f.config import AudioParams, EvaluateParams
    from s2f.evaluate import stage
    from s2f.evaluate.evaluation import TestClips
    from s2f.evaluate.results import EvaluationResults
    from s2f.faces.align import Aligner
    from s2f.images import png_bytes
    from s2f.models.networks import DecoderConfig, EncoderConfig, FaceDecoder, VoiceEncoder

    def no_disk(*args, **kwargs):
        raise AssertionError("evaluate read from disk")

    for name in ("read_dataset", "load_features", "read_spectrograms", "spectrogram_ids", "load_encoder",
                 "load_decoder"):
        monkeypatch.setattr(stage, name, no_disk)
    monkeypatch.setattr("pyarrow.parquet.read_table", no_disk)
    # dlib's descriptors in this process: in worker processes they are the same numbers (test_faces.py), and
    # starting a pool per evaluation took most of this test's time
    monkeypatch.setattr(stage, "Aligner", lambda workers: Aligner(1))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        x = rng.normal(size=(n, 128)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    train_speakers = [f"tr{i}" for i in range(12) for _ in range(2)]
    test_speakers = [f"te{i}" for i in range(6)]
    test_ids = [f"{s}_clip" for s in test_speakers]
    specs = [rng.normal(size=(2, 300, 257)).astype(np.float32) for _ in test_ids]
    speakers = sorted(set(train_speakers + test_speakers))
    labels = pd.DataFrame({"gender": ["m" if int(s[2:]) % 2 else "f" for s in speakers]}, index=speakers)
    faces = pd.DataFrame({"clip_id": test_ids, "frontality": 0.9,
                          "crop": [png_bytes(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)) for _ in test_ids]})
    train_faces = unit(24)
    encoder = VoiceEncoder(EncoderConfig(frames=100)).eval()
    encoder.start_at(torch.from_numpy(train_faces.mean(0)), torch.full((128,), 0.02))
    inputs = stage.EvaluationInputs(
        clips=pd.DataFrame(), labels=labels, test=TestClips(test_ids, test_speakers, unit(6), specs),
        train=stage.TrainFaces([f"c{i}" for i in range(24)], train_speakers, train_faces), train_with_speech=set(),
        encoder=encoder,
        decoder=FaceDecoder(DecoderConfig()).eval(), faces=faces)
    p = EvaluateParams(seconds=[1.0, 2.0], pool=6, baselines=["chance", "mean"], labels=["gender"], grid_speakers=4)
    result = stage.evaluate(inputs, p, AudioParams(seconds=2.0), crop_size=128, log=lambda _: None)
    results = result.results
    assert results.test.speakers == 6 and results.test.pool == 6
    assert list(results.lengths) == ["1s", "2s"] and list(results.lengths["2s"]) == ["voice", "chance", "mean"]
    assert results.chance_recall["R@1"] == pytest.approx(1 / 6)
    assert all(0 <= s.retrieval["cosine"]["R@1"] <= 1 for by in results.lengths.values() for s in by.values())
    assert set(results.comparisons["2s"]) == {"voice - chance", "voice - mean"}
    assert set(result.classifiers) == {"gender"} and result.grid.shape[2] == 3
    table = result.per_query  # what make reproduce reads back from each run: a row per length, method and clip
    assert len(table) == 2 * 3 * 6 + 6 and set(table.columns) == {"length", "method", "clip_id", "speaker_id",
                                                                   "R@1", "R@10", "1:2", "gender", "sharpness"}
    # and the decoder's own rows: F2F scored like a method, and its faces' sharpness beside the (noise) crops'
    f2f = table[table.length == "f2f"]
    assert set(f2f.method) == {"decoder"} and f2f.sharpness.notna().all() and table.sharpness.notna().sum() == 6
    assert f2f["R@1"].mean() == pytest.approx(results.f2f.retrieval["cosine"]["R@1"], abs=0.2)
    assert results.f2f.sharpness == pytest.approx(f2f.sharpness.mean()) and 0 < results.f2f.sharpness < 1
    assert EvaluationResults.from_dict(json.loads(results.to_json())) == results  # the file's layout round-trips

    # the encoder's spread widens the faces it draws, not the features retrieval ranks
    inputs.encoder.spread.fill_(50.0)
    wide = stage.evaluate(inputs, p, AudioParams(seconds=2.0), crop_size=128, log=lambda _: None)
    for length in ("1s", "2s"):
        before, after = results.lengths[length]["voice"], wide.results.lengths[length]["voice"]
        assert after.retrieval == before.retrieval and after.matching == before.matching
    assert not np.array_equal(wide.grid, result.grid)  # the S2F column is drawn from the widened features


def _runs(rng: np.random.Generator, voice_hits: list[float], speakers: int = 40) -> list[pd.DataFrame]:
    """Per-query tables of several runs: per run, the voice encoder hits R@1 with the given rate, the baseline
    with 0.1, on the same queries (two clips per speaker)."""
    clips = [f"c{i:03d}" for i in range(2 * speakers)]
    spk = [f"s{i // 2:03d}" for i in range(2 * speakers)]
    base = (rng.random(len(clips)) < 0.1).astype(float)  # a baseline does not change with the training seed
    tables = []
    for rate in voice_hits:
        rows = [pd.DataFrame({"length": "6s", "method": "voice", "clip_id": clips, "speaker_id": spk,
                              "R@1": (rng.random(len(clips)) < rate).astype(float)}),
                pd.DataFrame({"length": "6s", "method": "mean", "clip_id": clips, "speaker_id": spk, "R@1": base})]
        tables.append(pd.concat(rows).sample(frac=1, random_state=len(tables)))  # row order does not matter
    return tables


def test_intervals_over_seeds_and_speakers_carry_the_seed_spread():
    from s2f.evaluate.seeds import seed_results

    rng = np.random.default_rng(0)
    seeds = [{"face_model": k, "voice_model": 3 * k} for k in range(3)]
    steady = seed_results(_runs(rng, [0.5, 0.5, 0.5]), seeds)
    voice, diff = steady.lengths["6s"]["voice"]["R@1"], steady.comparisons["6s"]["voice - mean"]["R@1"]
    assert voice.lo <= voice.mean <= voice.hi and abs(voice.mean - 0.5) < 0.1
    assert diff.lo > 0  # 0.5 against 0.1 on 80 queries and 3 runs: the interval excludes 0
    assert steady.queries == 80 and steady.speakers == 40 and steady.runs == 3
    # the same mean from runs that disagree: a wider interval, since a seed is a draw too
    spread = seed_results(_runs(rng, [0.2, 0.5, 0.8]), seeds).lengths["6s"]["voice"]["R@1"]
    assert spread.hi - spread.lo > 1.5 * (voice.hi - voice.lo)
    # a baseline that is the same in every run still gets a speaker interval
    base = steady.lengths["6s"]["mean"]["R@1"]
    assert base.lo < base.mean < base.hi
    with pytest.raises(ValueError, match="at least 2 runs"):
        seed_results(_runs(rng, [0.5]), seeds[:1])
    tables = _runs(rng, [0.5, 0.5])
    tables[1] = tables[1][tables[1].clip_id != "c000"]
    with pytest.raises(ValueError, match="run 1 scored other test clips"):
        seed_results(tables, seeds[:2])
    from s2f.readme import seeds_markdown

    text = seeds_markdown(steady)
    assert "Over 3 trainings" in text and "| 6s | s2f voice encoder | " in text
    # the decoder's rows (F2F and sharpness) get intervals over seeds too, and no comparison
    decoder = [t[t.method == "voice"].assign(length="f2f", method="decoder", sharpness=0.5 + 0.1 * k)
               for k, t in enumerate(_runs(rng, [0.3, 0.3, 0.3]))]
    with_f2f = seed_results([pd.concat([a, d]) for a, d in zip(_runs(rng, [0.5, 0.5, 0.5]), decoder, strict=True)],
                            seeds)
    sharp = with_f2f.lengths["f2f"]["decoder"]["sharpness"]
    assert sharp.mean == pytest.approx(0.6) and sharp.lo < 0.6 < sharp.hi and "f2f" not in with_f2f.comparisons
    assert "| f2f | F2F (decoded true face) | " in seeds_markdown(with_f2f)


def test_the_readme_says_whether_make_runs_models_land_inside_the_seed_intervals():
    """`make run`'s models are one of the runs: the README checks each headline value of metrics.json against the
    interval over seeds, and names the ones outside."""
    from s2f.evaluate.report import outside_intervals
    from s2f.evaluate.results import EvaluationResults
    from s2f.evaluate.seeds import seed_results
    from s2f.readme import seeds_markdown

    rng = np.random.default_rng(1)
    seeds = seed_results(_runs(rng, [0.4, 0.5, 0.6]), [{"face_model": k, "voice_model": k} for k in range(3)])
    r1 = seeds.lengths["6s"]["voice"]["R@1"]

    def one_run(voice_r1: float) -> EvaluationResults:
        def scores(r: float) -> dict:
            return {"retrieval": {"cosine": {"R@1": r, "R@10": 0.6}}, "matching": {}, "agreement": {}, "accuracy": {}}
        return EvaluationResults.from_dict({
            "test": {"clips": 80, "speakers": 40, "pool": 80}, "f2f": scores(0.9), "true_face_accuracy": {},
            "chance_recall": {"R@1": 0.0125, "R@10": 0.125}, "comparisons": {},
            "6s": {"voice": scores(voice_r1), "mean": scores(seeds.lengths["6s"]["mean"]["R@1"].mean)}})

    assert outside_intervals(one_run(r1.mean), seeds) == (2, [])  # voice and mean R@1: the cells seeds.json has
    checked, outside = outside_intervals(one_run(r1.hi + 0.05), seeds)
    assert checked == 2 and outside == [f"6s s2f voice encoder R@1 {100 * (r1.hi + 0.05):.1f} "
                                        f"[{100 * r1.lo:.1f}, {100 * r1.hi:.1f}]"]
    assert "land inside the interval in all 2 method and metric cells." in seeds_markdown(seeds, one_run(r1.mean))
    assert ("1 of the 2 method and metric cells; outside: 6s s2f voice encoder R@1"
            in seeds_markdown(seeds, one_run(r1.hi + 0.05)))
