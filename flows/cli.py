"""The `s2f` command line: `s2f run STAGE` runs one pipeline stage (DVC's stages call exactly this)."""

from __future__ import annotations

import argparse
import importlib
import sys

from flows.env import configure
from s2f.config import ParamsError, load_params
from s2f.ingest.sources import SourceError

STAGES = ("synth", "ingest")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s2f", description="Speech2Face pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one stage outside DVC (same code as `dvc repro`)")
    run.add_argument("stage", choices=STAGES)
    run.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override one parameter, e.g. --set synth.speakers=10 (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        params = load_params(args.params, args.overrides)  # validated before anything starts
    except ParamsError as err:
        print(f"s2f: {err}", file=sys.stderr)
        return 2
    configure()
    stage = importlib.import_module(f"flows.{args.stage}")
    try:
        stage.run(params)
    except SourceError as err:
        print(f"s2f {args.stage}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
