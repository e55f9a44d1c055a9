"""The `s2f` command line: the parser and the dispatch, and the commands that write docs and reports. Running a stage
is flows/run_stage.py (`s2f run STAGE`, which DVC's stages call, `s2f repro`, `s2f pipeline`), predicting
flows/predict_cmd.py (`s2f predict`, `s2f app`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows import predict_cmd, run_stage
from flows.env import configure
from s2f.catalog import METRICS_JSON
from s2f.config import Params, ParamsError, PathsParams, load_params
from s2f.errors import InputError

STAGES = ("synth", "ingest", "faces", "audio", "train_face", "train_voice", "evaluate", "reproduce")


def _model_options(command: argparse.ArgumentParser) -> None:
    """The options of the commands that load the trained models (predict, app)."""
    command.add_argument("--models", help="folder holding voice_encoder/, face_decoder/ and attributes.json "
                                          "(default: paths.voice_encoder, paths.face_decoder, paths.classifiers)")
    _params_options(command)


def _params_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    command.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")


def _params(args: argparse.Namespace) -> Params:
    """The params file with its overrides, or the defaults where there is no params file (a helper command or
    `s2f predict` run outside a project)."""
    return load_params(args.params, args.overrides) if Path(args.params).is_file() else Params()


def _catalog(args: argparse.Namespace) -> PathsParams:
    """The data catalog (`paths:`) of the params file, or its defaults."""
    return _params(args).paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s2f", description="Speech2Face pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one stage outside DVC (same code as `dvc repro`)")
    run.add_argument("stage", choices=STAGES)
    run.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override one parameter, e.g. --set synth.speakers=10 (repeatable)")
    sheet = sub.add_parser("contact-sheet", help="tile the aligned face crops of a faces table into one PNG")
    sheet.add_argument("--faces", help="faces dataset (default: paths.faces)")
    sheet.add_argument("-o", "--out", help="PNG to write (default: contact_sheet.png in paths.reports)")
    _params_options(sheet)
    sheet.add_argument("--per-row", type=int, default=8)
    sheet.add_argument("--max-clips", type=int, default=64, help="show at most this many clips (default: 64)")
    plots = sub.add_parser("plots", help="`dvc plots show` as HTML that renders offline (Vega inlined)")
    plots.add_argument("-o", "--out", help="output folder (default: dvc_plots in paths.reports)")
    _params_options(plots)
    grid = sub.add_parser("face-grid", help="val speakers' real crops beside their decoded faces, as a PNG")
    grid.add_argument("--faces", help="faces dataset (default: paths.faces)")
    grid.add_argument("--decoder", help="trained decoder (default: paths.face_decoder)")
    grid.add_argument("--split", default="val", choices=("train", "val", "test"))
    grid.add_argument("-o", "--out", help="PNG (default: face_grid_<split>.png in paths.reports)")
    _params_options(grid)
    repro = sub.add_parser("repro", help="`dvc repro` with one Prefect server for all its stages (what `make run` "
                                         "runs); any dvc repro option passes through")
    repro.add_argument("targets", nargs="*", metavar="TARGET", help="stages (default: every one); dvc repro's own "
                                                                    "options (-f, --dry, ...) pass through too")
    pipe = sub.add_parser("pipeline", help="one run of the pipeline flow: dvc repro if anything changed, push, publish")
    pipe.add_argument("--root", default=".", help="project folder holding dvc.yaml (default: the current one)")
    serve = sub.add_parser("serve", help="serve the pipeline flow as a scheduled Prefect deployment")
    serve.add_argument("--cron", default="0 2 * * *", help="schedule (default: nightly at 02:00, %(default)r)")
    serve.add_argument("--name", default="nightly", help="deployment name (default: %(default)s)")
    serve.add_argument("--root", default=".", help="project folder holding dvc.yaml (default: the current one)")
    predict = sub.add_parser("predict", help="a face from a speech clip (any audio or video file ffmpeg reads)")
    predict.add_argument("inputs", nargs="+", metavar="input", help="audio or video file(s); the models load once")
    predict.add_argument("-o", "--out", help="face PNG to write (default: <input name>.face.png in this folder); "
                                             "with several inputs, the folder for their <input name>.face.png")
    predict.add_argument("--json", action="store_true", help="print the result, with attribute probabilities, as JSON")
    predict.add_argument("--compare", action="store_true",
                         help="also write <out>.compare.png: the real aligned face, its F2F and the S2F prediction")
    _model_options(predict)
    app = sub.add_parser("app", help="a local web page to speak into and see the face (and its JSON API)")
    app.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    app.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    _model_options(app)
    ref = sub.add_parser("params", help="docs/parameters.md (every parameter, default, meaning) from the schema")
    ref.add_argument("--write", metavar="FILE", help="write it there (default: print it)")
    ref.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from what the schema gives")
    ref.add_argument("--merge", metavar="FILE", help="instead: write FILE's keys into params.yaml (or --write's file), "
                                                     "checked first; e.g. configs/real-videos.yaml (comments are lost)")
    cols = sub.add_parser("columns", help="docs/outputs.md's column tables from the dataset schemas (s2f/schemas.py)")
    cols.add_argument("--write", metavar="FILE", help="rewrite the tables between the columns markers in it")
    cols.add_argument("--check", metavar="FILE", help="exit 1 if a table in FILE differs from the schemas")
    report = sub.add_parser("report", help="render report.html again from the files in paths.reports (with "
                                           "seeds.json and real_voices.json where they exist)")
    report.add_argument("--reports", help="(default: paths.reports)")
    _params_options(report)
    results = sub.add_parser("results", help="the README's results block from reports/metrics.json")
    results.add_argument("--metrics", help="(default: metrics.json in paths.reports)")
    results.add_argument("--write", metavar="README", help="rewrite the block between the results markers in it")
    results.add_argument("--check", metavar="README", help="exit 1 if its block differs from the metrics")
    results.add_argument("--within", metavar="SEEDS", nargs="?", const="",
                         help="say whether the metrics' models land inside the intervals over seeds in SEEDS "
                              "(default: seeds.json beside the metrics), whichever models those were made with: "
                              "after a `make run` on another machine, the committed ones")
    _params_options(results)
    return parser


def _report(args: argparse.Namespace) -> int:
    from s2f.evaluate.report import render_report

    print(f"wrote {render_report(args.reports or _catalog(args).reports)}")
    return 0


def _results(args: argparse.Namespace) -> int:
    from s2f.catalog import SEEDS
    from s2f.evaluate.results import EvaluationResults, RealVoices, SeedResults
    from s2f.readme import results_markdown, with_results, within_seeds

    args.metrics = args.metrics or str(Path(_catalog(args).reports) / METRICS_JSON)
    metrics = EvaluationResults.read(args.metrics)
    if args.within is not None:  # reads only the SEEDS file it names
        print(within_seeds(metrics, Path(args.metrics), Path(args.within or Path(args.metrics).with_name(SEEDS))))
        return 0
    real = RealVoices.read_beside(args.metrics, metrics)
    seeds = SeedResults.read(Path(args.metrics).with_name(SEEDS), metrics)
    if not (args.write or args.check):
        print(results_markdown(metrics), end="")
        return 0
    readme = Path(args.write or args.check)
    text = readme.read_text()
    return _generated("results", readme, text, with_results(text, metrics, real, seeds), "the results block",
                      args.metrics, check=bool(args.check))


def _generated(command: str, path: Path, text: str, new: str, what: str, source: str, check: bool) -> int:
    """`s2f COMMAND --check PATH` (exit 1 where `text`, the file's, is not `new`, what `source` gives) or
    `--write PATH`; `what`: the file, or the generated part of it."""
    from s2f.atomic import atomic_write_bytes

    if check:
        if new != text:
            print(f"s2f {command}: {path}: {what} is not what {source} gives; run `s2f {command} --write {path}`",
                  file=sys.stderr)
            return 1
        return 0
    atomic_write_bytes(path, new.encode())
    print(f"wrote {what} of {path} from {source}")
    return 0


def _params_doc(args: argparse.Namespace) -> int:
    from s2f.params_doc import params_markdown

    if args.merge:
        return _merge_params(args.merge, args.write or "params.yaml")
    text = params_markdown()
    if not (args.write or args.check):
        print(text, end="")
        return 0
    path = Path(args.write or args.check)
    old = path.read_text() if path.is_file() else ""
    return _generated("params", path, old, text, "the parameter reference", "s2f/config.py", check=bool(args.check))


def _columns_doc(args: argparse.Namespace) -> int:
    from s2f.columns_doc import columns_table, with_columns
    from s2f.schemas import DATASETS

    if not (args.write or args.check):
        print("\n\n".join(f"{name}\n{columns_table(columns)}" for name, columns in DATASETS.items()))
        return 0
    doc = Path(args.write or args.check)
    try:
        text = doc.read_text()
        new = with_columns(text)
    except (OSError, ValueError) as err:
        print(f"s2f columns: {doc}: {getattr(err, 'strerror', None) or err}", file=sys.stderr)
        return 1
    return _generated("columns", doc, text, new, "the column tables", "s2f/schemas.py", check=bool(args.check))


def _merge_params(extra: str, target: str) -> int:
    import yaml

    from s2f.atomic import atomic_write_bytes
    from s2f.config import merge_params, read_params_file, validate

    raw = merge_params(read_params_file(target), read_params_file(extra) or {})
    validate(raw, f"{target} with {extra}")  # a bad key stops it before anything is written
    atomic_write_bytes(target, yaml.safe_dump(raw, sort_keys=False).encode())
    print(f"wrote {target} with the keys of {extra}")
    return 0


VEGA_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


def _plots(args: argparse.Namespace) -> int:
    """DVC's plot HTML loads Vega from a CDN; give it a template with the scripts set-up fetched, inlined."""
    import subprocess

    from flows.env import PROJECT_ROOT

    vega = PROJECT_ROOT / ".cache" / "vega"
    command = ["dvc", "plots", "show", "-o", args.out or str(Path(_catalog(args).reports) / "dvc_plots")]
    if all((vega / name).is_file() for name in VEGA_SCRIPTS):
        scripts = "".join(f"<script>{(vega / n).read_text()}</script>\n" for n in VEGA_SCRIPTS)
        template = vega / "template.html"
        template.write_text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>s2f plots</title>\n"
                            f"{scripts}</head>\n<body>\n{{plot_divs}}\n</body></html>\n")
        command += ["--html-template", str(template)]
    else:
        print(f"s2f plots: no Vega scripts in {vega} (run `make setup` with npm available); "
              "the HTML will load Vega from a CDN", file=sys.stderr)
    return subprocess.run(command).returncode


def _face_grid(args: argparse.Namespace) -> int:
    from s2f.images import write_png
    from s2f.models.train_face import comparison_grid, load_face_data
    from s2f.models.zoo import load_decoder

    paths = _catalog(args)
    decoder, _ = load_decoder(args.decoder or paths.face_decoder)
    data = load_face_data(args.faces or paths.faces, decoder.cfg.size)[args.split]
    path = write_png(comparison_grid(decoder, data), args.out or Path(paths.reports) / f"face_grid_{args.split}.png")
    print(f"wrote {path}: real crop | decoded face, for up to 16 {args.split} speakers")
    return 0


def _contact_sheet(args: argparse.Namespace) -> int:
    from s2f.faces.sheet import contact_sheet
    from s2f.images import write_png
    from s2f.tables import read_dataset

    paths = _catalog(args)
    faces = read_dataset(args.faces or paths.faces, columns=["clip_id", "speaker_id", "time", "frontality", "crop"])
    shown = sorted(faces.clip_id.unique())[: args.max_clips]
    path = write_png(contact_sheet(faces[faces.clip_id.isin(shown)], args.per_row),
                     args.out or Path(paths.reports) / "contact_sheet.png")
    print(f"wrote {path}: {faces.clip_id.isin(shown).sum()} crops of {len(shown)} clips")
    return 0




COMMANDS = {"run": run_stage.run, "repro": run_stage.repro, "pipeline": run_stage.pipeline, "serve": run_stage.pipeline,
            "predict": lambda args: predict_cmd.predict(args, _params(args)),
            "app": lambda args: predict_cmd.app(args, _params(args)),
            "contact-sheet": _contact_sheet, "face-grid": _face_grid, "plots": _plots, "report": _report,
            "results": _results, "params": _params_doc, "columns": _columns_doc}


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn every error a user can fix into one line: a bad parameter exits 2, a missing or
    unusable input 1, Ctrl-C 130 (a stage reports its own interruption); nothing prints a traceback."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "repro":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "repro":
        args.targets = [*args.targets, *extra]
    configure()  # before numpy loads: OpenBLAS reads its kernel choice then
    name = f"s2f {args.stage}" if args.command == "run" else f"s2f {args.command}"
    try:
        return COMMANDS[args.command](args)
    except ParamsError as err:
        print(f"s2f: {err}", file=sys.stderr)
        return 2
    except InputError as err:
        print(f"{name}: {err}", file=sys.stderr)
        return 1
    except FileNotFoundError as err:
        print(f"{name}: {err.filename or err}: not found", file=sys.stderr)
        return 1
    except (OSError, ValueError) as err:  # unreadable files and malformed JSON or tables a command was pointed at
        print(f"{name}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
