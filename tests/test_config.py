"""params.yaml validation: bad values stop the run with a message naming the key and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.cli import main
from s2f.config import Params, ParamsError, apply_overrides, load_params, validate
from tests.conftest import PROJECT, outputs_under


def _error(raw: dict) -> str:
    with pytest.raises(ParamsError) as exc:
        validate(raw, origin="params.yaml")
    return str(exc.value)


def test_project_params_file_is_valid_and_matches_defaults():
    assert load_params(PROJECT / "params.yaml") == Params()


def test_unknown_key_names_path_and_allowed_keys():
    msg = _error({"synth": {"speakerz": 3}})
    assert "synth.speakerz: unknown key" in msg
    assert "allowed here: clips_per_speaker, fps, seconds, seed, size, speakers" in msg


def test_unknown_nested_key_and_unknown_section():
    msg = _error({"ingest": {"split": {"training": 0.9}}, "sinth": {}})
    assert "ingest.split.training: unknown key; allowed here: test, train, val" in msg
    assert ("sinth: unknown key; allowed here: app, audio, evaluate, face_model, faces, ingest, paths, predict, "
            "reproduce, runner, synth, voice_model") in msg


def test_runner_kinds_and_address():
    msg = _error({"runner": {"kind": "ray"}})
    assert "runner.kind: Input should be 'threads', 'processes' or 'dask' (got 'ray')" in msg
    assert "address is only used with kind: dask" in _error({"runner": {"address": "tcp://x:8786"}})
    assert validate({"runner": {"kind": "dask", "address": "tcp://x:8786"}}).runner.address == "tcp://x:8786"


def test_evaluate_lengths_must_fit_the_spectrograms():
    msg = _error({"audio": {"seconds": 3.0}})  # evaluate.seconds defaults to [3, 6]
    assert "evaluate.seconds (6) cannot exceed audio.seconds (3)" in msg
    assert "evaluate.seconds: every audio length must be > 0 s" in _error({"evaluate": {"seconds": [-1.0]}})


def test_wrong_type_and_range_name_the_key_and_the_limit():
    msg = _error({"synth": {"speakers": "many", "fps": 0}})
    assert "synth.speakers: Input should be a valid integer" in msg and "'many'" in msg
    assert "synth.fps: Input should be greater than or equal to 5 (got 0)" in msg
    assert ("voice_model.batch_size: Input should be greater than or equal to 2 (got 1)"
            in _error({"voice_model": {"batch_size": 1}}))


def test_choices_are_listed():
    msg = _error({"ingest": {"source": "youtube"}})
    assert "ingest.source: Input should be 'synth', 'folder', 'voxceleb2' or 'avspeech' (got 'youtube')" in msg


def test_cross_field_rules():
    assert "must be even" in _error({"synth": {"size": 129}})
    assert "must sum to 1 (got 1.1)" in _error({"ingest": {"split": {"train": 0.9, "val": 0.1, "test": 0.1}}})
    assert _error({"ingest": {"source": "avspeech"}}) == (
        "params.yaml: ingest.source 'avspeech' needs paths.videos_csv: the header-less AVSpeech CSV "
        "(youtube_id,start,end,x,y)")


def test_overrides_parse_yaml_values_and_reject_bad_syntax():
    raw = apply_overrides({"synth": {"speakers": 5}}, ["synth.speakers=7", "ingest.split.val=0.2",
                                                       "paths.videos_csv=null"])
    assert raw == {"synth": {"speakers": 7}, "ingest": {"split": {"val": 0.2}}, "paths": {"videos_csv": None}}
    with pytest.raises(ParamsError, match="expected key.path=value"):
        apply_overrides({}, ["synth.speakers"])
    with pytest.raises(ParamsError, match="speakers is a value, not a section"):
        apply_overrides({"synth": {"speakers": 5}}, ["synth.speakers.x=1"])


def test_missing_or_broken_params_file(tmp_path: Path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("synth: [1, 2\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)


def test_cli_stops_before_any_work_on_a_bad_param(tmp_path: Path, capsys: pytest.CaptureFixture):
    params = tmp_path / "params.yaml"
    out = tmp_path / "corpus"
    params.write_text(yaml.safe_dump({"paths": {"synth": str(out)}}))
    code = main(["run", "synth", "--params", str(params), "--set", "synth.speakers=1"])
    assert code == 2
    assert "synth.speakers: Input should be greater than or equal to 2 (got 1)" in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_input_stops_a_stage_naming_the_key(tmp_path: Path):
    """The real command, before Prefect or any work starts: one line, exit 2."""
    s2f = Path(sys.executable).parent / "s2f"
    done = subprocess.run([str(s2f), "run", "faces", "--params", str(PROJECT / "params.yaml"),
                           "--set", f"paths.clips={tmp_path}/none", *outputs_under("faces", tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"s2f faces: paths.clips: {tmp_path}/none not found (run the ingest stage first)\n"
    assert not (tmp_path / "out").exists() and not (tmp_path / ".prefect").exists()


def _params_file(tmp_path: Path, text: bytes) -> Path:
    path = tmp_path / "params.yaml"
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    (b"", "params.yaml: expected a mapping of sections (runner:, synth:, ...), got an empty file"),
    (b"- synth\n- faces\n", "params.yaml: expected a mapping of sections (runner:, synth:, ...), got a list"),
    (b"synth:\n  seed: 1\n  seed: 2\n", "params.yaml:3: not valid YAML: key 'seed' given twice in one section"),
    (b"synth:\n  out: caf\xe9\n", "params.yaml:2: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    (b"ingest:\n  min_seconds: .inf\n", "params.yaml: ingest.min_seconds: must be a finite number (got inf)"),
    (b"paths:\n  faces: ''\n", "params.yaml: paths.faces: an empty path; give a file or folder path"),
    (b"paths:\n  videos_csv: ''\n", "params.yaml: paths.videos_csv: an empty path; give a file or folder path"),
    (b"faces:\n  output: data\n", "params.yaml: faces.output: unknown key; allowed here: ambiguity, crop_size, "
                                  "fps, max_side, min_face_px, min_frames, min_score, per_clip, shard_size"),
    (b"faces:\n  out: data\n", "params.yaml: faces.out: moved to paths.faces, paths.face_features and "
                               "paths.faces_rejects (the paths: section names every dataset once)"),
    (b"ingest:\n  root: videos\n", "params.yaml: ingest.root: moved to paths.videos (the paths: section names "
                                   "every dataset once)"),
    (b"audio:\n  seconds: .nan\n", "params.yaml: audio.seconds: must be a finite number (got nan)"),
])
def test_a_bad_params_file_is_one_line_naming_file_line_or_key(tmp_path: Path, capsys, text: bytes, message: str):
    code = main(["run", "synth", "--params", str(_params_file(tmp_path, text))])
    assert code == 2
    assert capsys.readouterr().err == f"s2f: {tmp_path}/{message}\n"


def test_paths_of_the_wrong_kind_stop_the_stage_naming_the_key(tmp_path: Path, capsys):
    params = _params_file(tmp_path, (PROJECT / "params.yaml").read_bytes())
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    clips = tmp_path / "clips"
    clips.mkdir()
    cases = [(["faces", "--set", f"paths.clips={a_file}"],
              f"s2f faces: paths.clips: {a_file} is a file; give the dataset folder (run the ingest stage first)"),
             (["faces", "--set", f"paths.clips={clips}", "--set", f"paths.face_features={a_file}"],
              f"s2f faces: paths.face_features: {a_file} is a file; give a folder to write into"),
             (["ingest", "--set", f"paths.videos={tmp_path}", "--set", f"paths.videos_csv={tmp_path}"],
              f"s2f ingest: paths.videos_csv: {tmp_path} is a folder; give a file (a CSV file, or null)"),
             (["train_voice", "--set", f"paths.spectrograms={clips}", "--set", f"paths.face_features={clips}",
               "--set", f"paths.face_decoder={clips}"],
              (f"s2f train_voice: paths.face_decoder: {clips} holds no config.json, so it is not a trained model "
               "(run the train_face stage first)"))]
    for args, message in cases:
        code = main(["run", args[0], "--params", str(params), *args[1:]])
        assert (code, capsys.readouterr().err) == (2, message + "\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "clips", "params.yaml"]  # nothing written


def test_a_missing_face_detector_model_stops_faces_and_is_never_downloaded(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("S2F_CACHE", str(tmp_path / "empty"))
    (tmp_path / "clips").mkdir()
    code = main(["run", "faces", "--params", str(PROJECT / "params.yaml"), "--set", f"paths.clips={tmp_path / 'clips'}",
                 *outputs_under("faces", tmp_path / "out")])
    assert code == 2 and capsys.readouterr().err == (
        f"s2f faces: {tmp_path}/empty/face_detection_short_range.tflite: the BlazeFace face detector model is "
        "missing; fetch it with `make setup`\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips"]


def test_docs_parameters_is_generated_from_the_schema_and_every_key_is_described():
    from s2f.params_doc import params_markdown

    text = params_markdown()
    assert (PROJECT / "docs" / "parameters.md").read_text() == text, "run `s2f params --write docs/parameters.md`"
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) >= 85 and all(not line.rstrip().endswith("|  |") for line in rows)  # every key has a meaning
    assert "| `app.max_upload_mb` | `50.0` | > 0, <= 4096 | A bigger upload is refused (413). |" in rows


def test_each_reproduce_run_trains_from_its_own_seeds_into_its_own_folder():
    from s2f.config import for_run

    params = validate({"voice_model": {"seed": 5}, "face_model": {"seed": 1}})
    assert for_run(params, 0) == params  # run 0 is make run's own
    runs = [for_run(params, k) for k in range(3)]
    assert [p.voice_model.seed for p in runs] == [5, 6, 7]
    assert [p.face_model.seed for p in runs] == [1, 2, 3]
    two = runs[2].paths
    assert (two.voice_encoder, two.reports, two.checkpoints) == ("runs/run2/voice_encoder", "runs/run2/reports",
                                                                 "runs/run2/checkpoints")
    assert (two.clips, two.spectrograms) == (params.paths.clips, params.paths.spectrograms)  # the same data
    assert runs[2].evaluate == params.evaluate  # the same pools: every run scored on the same queries


def test_every_key_that_moved_to_paths_names_catalog_keys_and_is_no_key_today():
    from s2f.config import MOVED_TO_PATHS, Params

    catalog = set(Params.model_fields["paths"].annotation.model_fields)
    for old, new in MOVED_TO_PATHS.items():
        section, key = old.split(".")
        assert key not in Params.model_fields[section].annotation.model_fields, old
        named = {word.strip(",()").removeprefix("paths.") for word in new.split() if word.startswith("paths.")}
        assert named and named <= catalog, (old, new)


def test_no_import_circle_between_the_librarys_packages_and_modules():
    """s2f's top-level packages and modules (s2f.evaluate, s2f.predict, ...) import each other without a circle."""
    import ast

    def node(module: str) -> str:
        return ".".join(module.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for path in (PROJECT / "s2f").rglob("*.py"):
        here = node(".".join(path.relative_to(PROJECT).with_suffix("").parts))
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                       and getattr(stmt.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(stmt)}
        for stmt in ast.walk(tree):
            if id(stmt) in typing_only:  # annotations only: no import at run time
                continue
            names = ([a.name for a in stmt.names] if isinstance(stmt, ast.Import)
                     else [stmt.module] if isinstance(stmt, ast.ImportFrom) and stmt.module else [])
            graph.setdefault(here, set()).update(node(n) for n in names if n.startswith("s2f.") and node(n) != here)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    circles = sorted(n for n in graph if n in reach(n))
    assert not circles, f"import circles through {circles}"
