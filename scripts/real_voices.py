"""The default models on the real clips of ../shared/realdata: does the drawn face's gender match the
annotated one, for women and for men; how distinct are the voices' faces; what ages do they look? Scores make
run's models and, where `make reproduce` ran for them, its other trainings (runs/run<k>); writes
reports/real_voices.json (the README's results block reads it) and renders reports/report.html again with it.

    python scripts/real_voices.py [--models models] [--runs runs] [--realdata ../shared/realdata] [--tempo T]

Run after `make run`. The clips are not part of the project (their licenses keep them out), so this is a
script and not a DVC stage; say which models and clips when quoting its numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s2f.catalog import REAL_VOICES_JSON  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=str(ROOT / "models"))
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    parser.add_argument("--runs", default=str(ROOT / "runs"), help="make reproduce's trainings (run<k>/)")
    parser.add_argument("--if-present", action="store_true",
                        help="without the clips, say so and exit 0 (make run and make reproduce use this)")
    parser.add_argument("-o", "--out", default=str(ROOT / "reports" / REAL_VOICES_JSON))
    parser.add_argument("--tempo", type=float, help="the rate the speaker embedding reads the clips at (default: "
                        "params.yaml's predict.tempo, as s2f predict uses it)")
    args = parser.parse_args()

    import pandas as pd

    from s2f.catalog import METRICS_JSON, REPORT_DATA, SEEDS
    from s2f.config import ParamsError, load_params
    from s2f.evaluate.report import render_report
    from s2f.evaluate.results import EvaluationResults, SeedResults
    from s2f.predict import Predictor
    from s2f.real_voices import real_voice_gender, run_summary

    try:  # s2f predict's settings, the rate given with --tempo checked as params.yaml's would be
        predict = load_params(ROOT / "params.yaml",
                              None if args.tempo is None else [f"predict.tempo={args.tempo}"]).predict
    except ParamsError as err:
        print(f"real_voices: {err}", file=sys.stderr)
        return 2

    def score(models: Path):
        return real_voice_gender(Predictor(models / "voice_encoder", models / "face_decoder",
                                           models / "attributes.json"), clips, predict)

    manifest = Path(args.realdata) / "manifest.csv"
    if not manifest.is_file():
        print(f"real_voices: no {manifest}; real voices not measured", file=sys.stderr)
        return 0 if args.if_present else 1
    table = pd.read_csv(manifest)
    clips = [(Path(args.realdata) / f, g) for f, g in zip(table.file, table.gender, strict=True)]
    result = score(Path(args.models))
    result.source = f"{manifest.parent.name}/manifest.csv: {len(table)} clips of {table.speaker_id.nunique()} people"
    result.runs = [run_summary(result, Path(args.models).name)]
    metrics = Path(args.out).with_name(METRICS_JSON)  # the evaluation of these models, if it ran
    if metrics.is_file():
        evaluation = EvaluationResults.read(metrics)
        result.evaluation = evaluation.fingerprint()
        if SeedResults.read(metrics.with_name(SEEDS), evaluation) is not None:  # make reproduce ran for them
            for run in sorted(Path(args.runs).glob("run*"), key=lambda d: int(d.name[3:] or 0)):
                if (run / "voice_encoder").is_dir() and (run / "attributes.json").is_file():
                    result.runs.append(run_summary(score(run), f"{Path(args.runs).name}/{run.name}"))
    result.write(args.out)
    for run in result.runs:
        print(f"{run.models}: drawn face's gender = annotated gender for {run.women[0]} of {run.women[1]} women, "
              f"{run.men[0]} of {run.men[1]} men; mean pairwise cosine {run.distinct:.2f}; ages {run.ages}")
    print(f"wrote {args.out}")
    reports = Path(args.out).parent
    if Path(args.out).name == REAL_VOICES_JSON and (reports / REPORT_DATA).is_file():  # beside an evaluation
        print(f"wrote {render_report(reports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
