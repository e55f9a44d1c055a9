"""The `s2f` command line: `s2f run STAGE` runs one pipeline stage (DVC's stages call exactly this)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from flows.env import configure
from flows.server import start_stage_server
from s2f.atomic import discard_under_way
from s2f.config import (
    Params,
    ParamsError,
    PathsParams,
    PredictParams,
    check_paths,
    load_params,
    model_inputs,
)
from s2f.errors import InputError
from s2f.processes import kill_and_wait, reap_on_death

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
    from s2f.evaluate.results import EvaluationResults, RealVoices, SeedResults
    from s2f.evaluate.seeds import SEEDS
    from s2f.readme import results_markdown, with_results, within_seeds

    args.metrics = args.metrics or str(Path(_catalog(args).reports) / "metrics.json")
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
    new = with_results(text, metrics, real, seeds)
    if args.check:
        if new != text:
            print(f"s2f results: {readme}'s results block is not what {args.metrics} gives; run "
                  f"`s2f results --write {readme}`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    print(f"wrote the results block of {readme} from {args.metrics}")
    return 0


def _params_doc(args: argparse.Namespace) -> int:
    from s2f.atomic import atomic_write_bytes
    from s2f.params_doc import params_markdown

    if args.merge:
        return _merge_params(args.merge, args.write or "params.yaml")
    text = params_markdown()
    if args.check:
        if not Path(args.check).is_file() or Path(args.check).read_text() != text:
            print(f"s2f params: {args.check} is not what s2f/config.py gives; run `s2f params --write {args.check}`",
                  file=sys.stderr)
            return 1
        return 0
    if args.write:
        atomic_write_bytes(args.write, text.encode())
        print(f"wrote {args.write} from s2f/config.py")
        return 0
    print(text, end="")
    return 0


def _merge_params(extra: str, target: str) -> int:
    import yaml

    from s2f.atomic import atomic_write_bytes
    from s2f.config import read_params_file, validate

    def merged(base: dict, over: dict) -> dict:
        return {**base, **{k: merged(base.get(k) or {}, v) if isinstance(v, dict) and isinstance(base.get(k), dict)
                           else v for k, v in over.items()}}

    raw = merged(read_params_file(target), read_params_file(extra) or {})
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


def _predict_outputs(inputs: list[str], out: str | None) -> list[tuple[Path, Path]]:
    """(input, face PNG) pairs, refused before any work when an input is missing or two would write one file."""
    sources = [Path(i) for i in inputs]
    for source in sources:
        if not source.is_file():
            raise InputError(f"{source}: no such file")
    if len(sources) == 1:
        return [(sources[0], Path(out or f"{sources[0].stem}.face.png"))]
    folder = Path(out or ".")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"-o {folder}: with several inputs, -o names a folder (this is a file)")
    pairs = [(s, folder / f"{s.stem}.face.png") for s in sources]
    clash = next((s for s, o in pairs if sum(o == other for _, other in pairs) > 1), None)
    if clash is not None:
        raise InputError(f"two inputs are named {clash.stem}: their faces would overwrite each other; "
                         "predict them in separate runs")
    return pairs


def _predict_one(predictor: Any, source: Path, out: Path, p: PredictParams, compare: bool) -> dict[str, Any]:
    from s2f.images import write_png
    from s2f.predict import predict_file

    pred = predict_file(predictor, source, p, compare)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(pred.face, out)
    row = None
    if pred.compare is not None:
        row = str(write_png(pred.compare, out.with_suffix(".compare.png")))
    elif compare:
        print(f"s2f predict: no usable face in {source}; no comparison written", file=sys.stderr)
    return pred.to_json(str(out), row)


def _model_paths(paths: PathsParams, models: str | None) -> tuple[str, str, str]:
    if models:
        return tuple(str(Path(models) / name) for name in ("voice_encoder", "face_decoder", "attributes.json"))
    return paths.voice_encoder, paths.face_decoder, paths.classifiers


def _app(args: argparse.Namespace) -> int:
    """Load the models once, then serve the page and API until Ctrl-C."""
    import uvicorn

    from s2f.app.api import create_app
    from s2f.predict import Predictor

    params = _params(args)
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: give a port between 1 and 65535")
    import socket

    with socket.socket() as probe:  # a taken port is refused before the models load
        try:
            probe.bind((args.host, args.port))
        except OSError as err:
            raise InputError(f"cannot listen on {args.host}:{args.port} ({err.strerror}); "
                             "choose another with --port (or --host)") from None
    predictor = Predictor(*_model_paths(params.paths, args.models))
    app = create_app(predictor, params.predict, params.app, params.paths.reports)
    print(f"s2f app: http://{args.host}:{args.port}/ (API docs at /docs; Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _predict(args: argparse.Namespace) -> int:
    """One face per input; an input that fails is reported on its own line and the others go on (exit 1)."""
    import json

    from s2f.predict import Predictor

    params = _params(args)
    p = params.predict
    pairs = _predict_outputs(args.inputs, args.out)
    predictor = Predictor(*_model_paths(params.paths, args.models))
    if predictor.trained_on == "synth" and not args.json:  # JSON says it in every result's "trained_on"
        print("note: this model was trained on the synthetic corpus (drawn faces, espeak-ng voices); the face it "
              "draws says little about a real voice")
    results, failed = [], 0
    for source, out in pairs:
        try:
            result = _predict_one(predictor, source, out, p, args.compare)
        except InputError as err:
            print(f"s2f predict: {f'{source}: ' if len(pairs) > 1 else ''}{err}", file=sys.stderr)
            results.append({"input": str(source), "error": str(err)})
            failed += 1
            continue
        results.append(result)
        if not args.json:
            guess = ", ".join(f"{k} {next(iter(v))} ({next(iter(v.values())):.0%})"
                              for k, v in result["attributes"].items())
            print(f"wrote {out} from {p.seconds:g} s of speech at {result['window_start_s']:.1f} s"
                  f"{' (tiled)' if result['tiled'] else ''} in {result['seconds']:.2f} s"
                  + (f"; looks like: {guess}" if guess else ""))
            if result.get("compare"):
                print(f"wrote {result['compare']}: real face | F2F | S2F")
    if args.json and (len(pairs) > 1 or not failed):
        print(json.dumps(results if len(pairs) > 1 else results[0], indent=2))
    return 1 if failed else 0


def _shared_server() -> None:
    """One Prefect API server for this command and every stage it starts, unless PREFECT_API_URL names one: each
    `s2f run` would otherwise start its own (seconds a stage: docs/benchmarks.md). The server runs in a session of
    its own (Ctrl-C reaches the stages, which report their interruption to it), stops when this command exits, and
    the watchdog stops it and anything else this command started if it is killed."""
    reap_on_death(os.getpid())
    start_stage_server()


def _repro(args: argparse.Namespace) -> int:
    import subprocess

    from flows import dvc_command

    if not Path("dvc.yaml").is_file():
        print(f"s2f repro: no dvc.yaml in {Path.cwd()}; run it in the project folder", file=sys.stderr)
        return 1
    try:  # dvc's own options pass through: then, or when dvc status fails (dvc repro says why), assume work to do
        to_run = any(t.startswith("-") for t in args.targets) or dvc_command.changed(args.targets, Path.cwd())
    except (RuntimeError, ValueError):
        to_run = True
    if to_run:  # a run with nothing to do starts no server
        _shared_server()
    # dvc and its stages start with Ctrl-C's default even where this process was started with it ignored (an
    # ignored signal stays ignored across exec, down to the stage's shell and its commands)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    repro = subprocess.Popen(dvc_command.command(["repro", *args.targets]), env=dvc_command.env())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is dvc's and its stage's to handle: wait for them
    try:
        code = repro.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code  # a signal's death as a shell reports it


def _pipeline(args: argparse.Namespace) -> int:
    root = str(Path(args.root).resolve())
    if not (Path(root) / "dvc.yaml").is_file():
        print(f"s2f {args.command}: no dvc.yaml in {root}", file=sys.stderr)
        return 1
    if args.command == "pipeline":
        _shared_server()  # before Prefect is imported: its exit handlers then run before the server stops
    from flows.pipeline import pipeline_flow

    if args.command == "serve":
        if not os.environ.get("PREFECT_API_URL"):
            print("s2f serve: schedules need a running Prefect server; start one with `make server`, then\n"
                  "  export PREFECT_API_URL=http://127.0.0.1:4200/api   (or run `make serve`)", file=sys.stderr)
            return 1
        pipeline_flow.serve(name=args.name, cron=args.cron, parameters={"root": root})
        return 0
    result = pipeline_flow(root=root)
    print("ran stages: " + ", ".join(result["stages"]) if result["ran"] else "nothing to do: everything is up to date")
    return 0


_KEEP: set[int] = set()  # the watchdog and the stage's Prefect server: they outlive the unwinding
_SIGNAL = [signal.SIGINT]


def _interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C or a kill: stop this stage's worker processes now (a worker would finish its shard first; the
    shard it leaves is never half-written), then unwind the stage as KeyboardInterrupt, which Prefect reports to
    its server as a crash before the command exits 130."""
    import psutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while unwinding changes nothing
    _SIGNAL[0] = signum
    workers = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # multiprocessing's resource tracker cleans up after them
            if proc.pid not in _KEEP and "resource_tracker" not in " ".join(proc.cmdline()):
                workers.append(proc)
    kill_and_wait(workers)  # ended before discard_under_way removes what they were writing
    raise KeyboardInterrupt


def _check_models(params: Any, stage: str) -> None:
    """Check the model files a stage reads (the face detector by hash; trained models by their card and their
    weights' header), so a missing or damaged one stops it before Prefect starts."""
    if stage == "faces":
        from s2f.blazeface import require_model

        require_model()
    inputs = model_inputs(params, stage)
    if inputs:
        from s2f.models.zoo import check_model

        for key, folder in inputs:  # checked without loading: the stage loads them once
            check_model(folder, "voice_encoder" if key.endswith("encoder") else "face_decoder")


# what an interrupted stage leaves for its rerun (s2f.atomic: never a half-written file)
_SHARDS_KEPT = "finished shards are kept, rerun to go on from them"
_AFTER_INTERRUPT = {"faces": _SHARDS_KEPT, "audio": _SHARDS_KEPT,
                    "train_voice": "its last checkpoint is kept, rerun to resume from it"}
_NOTHING_KEPT = "nothing half-written is left, rerun to start it again"


def _run(args: argparse.Namespace) -> int:
    try:  # every parameter and path checked before Prefect or any work starts: exit 2, as for a bad parameter
        params = load_params(args.params, args.overrides)
        check_paths(params, args.stage)
        _check_models(params, args.stage)
    except InputError as err:
        print(f"s2f {args.stage}: {err}", file=sys.stderr)
        return 2
    # Workers stopped by Ctrl-C leave semaphores that multiprocessing's tracker frees, with a warning that says
    # nothing to a user.
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"),
                                                          "ignore:resource_tracker:UserWarning"]))
    _KEEP.add(reap_on_death(os.getpid()).pid)  # however this process ends, the server and workers end with it
    # in its own session: Ctrl-C reaches the stage, not the server; torchrun's processes past the first run no flow
    server = start_stage_server() if int(os.environ.get("RANK", "0")) == 0 else None
    if server is not None:
        _KEEP.add(server.pid)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stage = importlib.import_module(f"flows.{args.stage}")
        stage.run(params)
    except KeyboardInterrupt:
        discard_under_way()  # what the stage was still writing, whether or not its own code could unwind
        print(f"s2f {args.stage}: interrupted; {_AFTER_INTERRUPT.get(args.stage, _NOTHING_KEPT)}", file=sys.stderr)
        return 128 + _SIGNAL[0]
    return 0


COMMANDS = {"run": _run, "repro": _repro, "pipeline": _pipeline, "serve": _pipeline, "predict": _predict, "app": _app,
            "contact-sheet": _contact_sheet, "face-grid": _face_grid, "plots": _plots, "report": _report,
            "results": _results, "params": _params_doc}


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
