"""The default models on the real clips of ../shared/realdata: does the predicted face's gender match the
annotated one? Writes reports/real_voices.json (the README's results block reads it) and renders
reports/report.html again with it.

    python scripts/real_voices.py [--models models] [--realdata ../shared/realdata]

Run after `make run`. The clips are not part of the project (their licenses keep them out), so this is a
script and not a DVC stage; say which models and clips when quoting its numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=str(ROOT / "models"))
    parser.add_argument("--realdata", default=str(ROOT.parent / "shared" / "realdata"))
    parser.add_argument("-o", "--out", default=str(ROOT / "reports" / "real_voices.json"))
    args = parser.parse_args()

    import pandas as pd

    from s2f.evaluate.real import real_voice_gender
    from s2f.evaluate.report import REPORT_DATA, render_report
    from s2f.evaluate.results import EvaluationResults
    from s2f.predict import Predictor

    manifest = Path(args.realdata) / "manifest.csv"
    if not manifest.is_file():
        print(f"real_voices: no {manifest}; nothing to do", file=sys.stderr)
        return 1
    table = pd.read_csv(manifest)
    models = Path(args.models)
    predictor = Predictor(models / "voice_encoder", models / "face_decoder", models / "attributes.json")
    clips = [(Path(args.realdata) / f, g) for f, g in zip(table.file, table.gender, strict=True)]
    result = real_voice_gender(predictor, clips)
    result.source = f"{manifest.parent.name}/manifest.csv: {len(table)} clips of {table.speaker_id.nunique()} people"
    metrics = Path(args.out).with_name("metrics.json")  # the evaluation of these models, if it ran
    if metrics.is_file():
        result.evaluation = EvaluationResults.read(metrics).fingerprint()
    result.write(args.out)
    print(f"{result.agree} of {result.clips} clips: predicted face's gender = annotated gender "
          f"({100 * result.agreement:.0f}%); wrote {args.out}")
    reports = Path(args.out).parent
    if Path(args.out).name == "real_voices.json" and (reports / REPORT_DATA).is_file():  # beside an evaluation
        print(f"wrote {render_report(reports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
