"""The `s2f` command line: `s2f run STAGE` runs one pipeline stage (DVC's stages call exactly this)."""

from __future__ import annotations

import argparse
import importlib
import sys

from flows.env import configure
from s2f.config import ParamsError, load_params
from s2f.errors import InputError

STAGES = ("synth", "ingest", "faces", "audio", "train_face", "train_voice")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s2f", description="Speech2Face pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one stage outside DVC (same code as `dvc repro`)")
    run.add_argument("stage", choices=STAGES)
    run.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override one parameter, e.g. --set synth.speakers=10 (repeatable)")
    sheet = sub.add_parser("contact-sheet", help="tile the aligned face crops of a faces table into one PNG")
    sheet.add_argument("--faces", default="data/processed/faces", help="faces dataset (default: %(default)s)")
    sheet.add_argument("-o", "--out", default="reports/contact_sheet.png", help="PNG to write (default: %(default)s)")
    sheet.add_argument("--per-row", type=int, default=8)
    sheet.add_argument("--max-clips", type=int, default=64, help="show at most this many clips (default: 64)")
    plots = sub.add_parser("plots", help="`dvc plots show` as HTML that renders offline (Vega inlined)")
    plots.add_argument("-o", "--out", default="reports/plots", help="output folder (default: %(default)s)")
    grid = sub.add_parser("face-grid", help="val speakers' real crops beside their decoded faces, as a PNG")
    grid.add_argument("--faces", default="data/processed/faces", help="faces dataset (default: %(default)s)")
    grid.add_argument("--decoder", default="models/face_decoder", help="trained decoder (default: %(default)s)")
    grid.add_argument("--split", default="val", choices=("train", "val", "test"))
    grid.add_argument("-o", "--out", default="reports/face_grid_val.png", help="PNG (default: %(default)s)")
    return parser


VEGA_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


def _plots(args: argparse.Namespace) -> int:
    """DVC's plot HTML loads Vega from a CDN; give it a template with the scripts set-up fetched, inlined."""
    import subprocess

    from flows.env import PROJECT_ROOT

    vega = PROJECT_ROOT / ".cache" / "vega"
    command = ["dvc", "plots", "show", "-o", args.out]
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
    from s2f.faces.sheet import write_png
    from s2f.models.train_face import comparison_grid, load_face_data
    from s2f.models.zoo import load_decoder

    decoder, _ = load_decoder(args.decoder)
    data = load_face_data(args.faces, decoder.cfg.size)[args.split]
    path = write_png(comparison_grid(decoder, data), args.out)
    print(f"wrote {path}: real crop | decoded face, for up to 16 {args.split} speakers")
    return 0


def _contact_sheet(args: argparse.Namespace) -> int:
    from s2f.faces.sheet import contact_sheet, write_png
    from s2f.tables import read_dataset

    faces = read_dataset(args.faces, columns=["clip_id", "speaker_id", "time", "frontality", "crop"])
    shown = sorted(faces.clip_id.unique())[: args.max_clips]
    path = write_png(contact_sheet(faces[faces.clip_id.isin(shown)], args.per_row), args.out)
    print(f"wrote {path}: {faces.clip_id.isin(shown).sum()} crops of {len(shown)} clips")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "contact-sheet":
        return _contact_sheet(args)
    if args.command == "plots":
        return _plots(args)
    if args.command == "face-grid":
        return _face_grid(args)
    try:
        params = load_params(args.params, args.overrides)  # validated before anything starts
    except ParamsError as err:
        print(f"s2f: {err}", file=sys.stderr)
        return 2
    configure()
    stage = importlib.import_module(f"flows.{args.stage}")
    try:
        stage.run(params)
    except InputError as err:
        print(f"s2f {args.stage}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
