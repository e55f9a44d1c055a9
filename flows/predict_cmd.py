"""`s2f predict` and `s2f app`: faces from recordings with the trained models, on the command line or a local
web page (the library's s2f/predict.py and s2f/app/ do the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from s2f.config import Params, PathsParams, PredictParams
from s2f.errors import InputError


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


def app(args: argparse.Namespace, params: Params) -> int:
    """Load the models once, then serve the page and API until Ctrl-C."""
    import uvicorn

    from s2f.app.api import create_app
    from s2f.predict import Predictor

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


def predict(args: argparse.Namespace, params: Params) -> int:
    """One face per input; an input that fails is reported on its own line and the others go on (exit 1)."""
    import json

    from s2f.predict import Predictor

    p = params.predict
    pairs = _predict_outputs(args.inputs, args.out)
    predictor = Predictor(*_model_paths(params.paths, args.models))
    if predictor.trained_on == "synth" and not args.json:  # JSON says it in every result's "trained_on"
        print("note: this model was trained on the synthetic corpus (drawn faces, synthetic voices); the face it "
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
