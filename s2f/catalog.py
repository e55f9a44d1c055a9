"""The data catalog's contract: which entries of `paths:` (the schema: s2f/config.py's PathsParams) each stage
reads and writes, checked before a stage starts (`check_paths`), and moving a stage's outputs into another folder
(`relocate`: make reproduce's runs). dvc.yaml names the same inputs and outputs with `${paths.<key>}`
(tests/test_dvc_yaml.py checks they agree)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from s2f.errors import InputError

if TYPE_CHECKING:
    from s2f.config import Params, PathsParams

# The files inside the `paths.reports` folder, named once (dvc.yaml names the ones that are stage outputs).
METRICS_JSON = "metrics.json"  # evaluate's test scores (s2f.evaluate.results.EvaluationResults)
SEEDS = "seeds.json"  # make reproduce's intervals over seeds (SeedResults)
REAL_VOICES_JSON = "real_voices.json"  # scripts/real_voices.py's check (RealVoices)
PER_QUERY = "per_query.csv"  # each test clip's headline scores, which make reproduce reads
REPORT_DATA = "report_data.json"  # what report.html shows beyond metrics.json
FACES_GRID_PNG = "faces_grid.png"
REPORT_HTML = "report.html"  # rendered from the files above, not a stage output


def relocate(paths: PathsParams, stages: tuple[str, ...], folder: str | Path) -> PathsParams:
    """`paths` with every catalog entry `stages` write moved into `folder`, each under its default name
    (paths.faces -> FOLDER/faces, paths.classifiers -> FOLDER/attributes.json); the rest as they are."""
    defaults = type(paths)()  # the catalog's defaults
    return paths.model_copy(update={name: str(Path(folder) / Path(getattr(defaults, name)).name)
                                    for stage in stages for name in writes(stage)})


def writes(stage: str) -> list[str]:
    """The catalog entries `stage` writes."""
    return [name for name, _ in _WRITES[stage]]


# The catalog entries each stage reads and writes: what must exist before the stage starts (and which stage
# makes it), and where it writes. Checked by `check_paths` before Prefect or any work starts.
_READS: dict[str, tuple[tuple[str, str], ...]] = {
    "synth": (),
    "ingest": (("videos", "folder"), ("videos_csv", "file")),
    "faces": (("clips", "dataset"),),
    "audio": (("clips", "dataset"),),
    "train_face": (("faces", "dataset"),),
    "train_voice": (("spectrograms", "dataset"), ("face_features", "dataset"), ("face_decoder", "model")),
    "evaluate": (("clips", "dataset"), ("faces", "dataset"), ("face_features", "dataset"),
                 ("spectrograms", "dataset"), ("voice_encoder", "model"), ("face_decoder", "model"),
                 ("attributes", "file")),
    "reproduce": (("clips", "dataset"), ("faces", "dataset"), ("face_features", "dataset"),
                  ("spectrograms", "dataset"), ("voice_encoder", "model"), ("face_decoder", "model"),
                  ("attributes", "file"), ("reports", "folder")),  # evaluate's per_query.csv in reports
}
_WRITES: dict[str, tuple[tuple[str, str], ...]] = {
    "synth": (("synth", "folder"),),
    "ingest": (("clips", "folder"), ("clips_rejects", "folder")),
    "faces": (("faces", "folder"), ("face_features", "folder"), ("faces_rejects", "folder")),
    "audio": (("spectrograms", "folder"), ("audio_rejects", "folder")),
    "train_face": (("face_decoder", "folder"), ("train_face_reports", "folder")),
    "train_voice": (("voice_encoder", "folder"), ("train_voice_reports", "folder"), ("checkpoints", "folder")),
    "evaluate": (("classifiers", "file"), ("reports", "folder")),
    "reproduce": (("runs", "folder"), ("reports", "folder")),
}
# Which stage writes an input, for the hint in the message.
_MADE_BY = {"clips": "ingest", "faces": "faces", "face_features": "faces", "spectrograms": "audio",
            "face_decoder": "train_face", "voice_encoder": "train_voice", "reports": "evaluate"}
_HINTS = {"videos": "the folder holding the videos", "videos_csv": "a CSV file, or null",
          "attributes": "a per-speaker label table, or null for clip-table gender only"}


def outputs(params: Params, stage: str) -> list[Path]:
    """The paths `stage` writes (folders and files), for sweeping what an interrupted run left there."""
    return [Path(getattr(params.paths, name)) for name in writes(stage)]


def model_inputs(params: Params, stage: str) -> list[tuple[str, str]]:
    """(catalog key, folder) of each trained model `stage` loads, for a full check before the stage starts."""
    return [(f"paths.{key}", getattr(params.paths, key)) for key, kind in _READS[stage] if kind == "model"]


def check_paths(params: Params, stage: str) -> None:
    """Raise InputError, naming the key, when an input `stage` reads is missing or of the wrong kind (a file
    where a folder is needed, a model folder without its config.json) or an output path is taken by the
    other kind. Runs in well under a second, before any work."""
    for name, kind in _READS[stage]:
        value, key = getattr(params.paths, name), f"paths.{name}"
        if value is None:
            continue
        path = Path(value)
        hint = _HINTS.get(name) or f"run the {_MADE_BY[name]} stage first"
        if not path.exists():
            raise InputError(f"{key}: {path} not found ({hint})")
        if kind == "file" and not path.is_file():
            raise InputError(f"{key}: {path} is a folder; give a file ({hint})")
        if kind != "file" and not path.is_dir():
            raise InputError(f"{key}: {path} is a file; give the {kind} folder ({hint})")
        if kind == "model" and not (path / "config.json").is_file():
            raise InputError(f"{key}: {path} holds no config.json, so it is not a trained model ({hint})")
    for name, kind in _WRITES[stage]:
        path, key = Path(getattr(params.paths, name)), f"paths.{name}"
        if kind == "folder" and path.exists() and not path.is_dir():
            raise InputError(f"{key}: {path} is a file; give a folder to write into")
        if kind == "file" and path.is_dir():
            raise InputError(f"{key}: {path} is a folder; give a file path to write")
