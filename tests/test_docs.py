"""The docs' commands and params blocks, as a user would type them.

Every fenced block of README.md and docs/*.md is one of:
- yaml: each `#`-introduced alternative, merged into params.yaml, passes the params schema;
- bash: every `s2f ...` line parses with the CLI's own parser, its `--set` keys and `--params` file (written
  earlier in the block, or params.yaml) pass the schema; its `make` targets exist in the Makefile; and a slow
  test runs the block as written (RUN_BY names which: `run_block` runs it, with placeholders such as
  /path/to/models swapped for the test's folders);
- a block that cannot run offline or here says why in an HTML comment right above it:
  `<!-- not run by tests: REASON -->` (a cloud remote, a GPU, several machines, a server left running, the
  full-size pipeline);
- or output shown to the reader (no language, or json).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from flows.cli import _parser
from s2f.config import apply_overrides, merge_params, read_params_file, validate
from tests.conftest import PROJECT, bin_first_env

DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- (?P<mark>[^>]*) -->\n)?(?P<indent>[ ]*)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```",
                   re.S | re.M)
NOT_RUN = "not run by tests: "
# Every bash block not marked NOT_RUN, by its first command, and the slow test that runs it with `run_block`.
RUN_BY = {
    "s2f predict clip.mp4": "tests/test_pipeline.py::run_doc_blocks",  # README.md's and docs/predict.md's
    "out=/tmp/ablation/infonce_only/seed0": "tests/test_pipeline.py::run_doc_blocks",
    "s2f run synth --set synth.speakers=10": "tests/test_pipeline.py::run_doc_blocks",
    "dvc metrics show": "tests/test_pipeline.py::run_doc_blocks",
    "s2f contact-sheet": "tests/test_pipeline.py::run_doc_blocks",
    "s2f params --merge configs/real-videos.yaml":
        "tests/test_real_videos.py::test_real_videos_run_from_ingest_to_the_report",
    "cat > /tmp/real.yaml <<'EOF'": "tests/test_docs.py::test_the_real_clips_recipe_of_outputs_md_runs",
}


def blocks(lang: str) -> list[tuple[str, str, str | None]]:
    """(doc:line, body, mark) of every block in `lang`."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in BLOCK.finditer(text):
            if m["lang"] == lang:
                body = "\n".join(line.removeprefix(m["indent"]) for line in m["body"].splitlines())
                out.append((f"{doc.relative_to(PROJECT)}:{text[:m.start('body')].count(chr(10))}", body, m["mark"]))
    return out


def commands(body: str) -> list[str]:
    """Shell lines of a block, continuation lines joined, comments dropped, heredocs skipped."""
    lines, out, heredoc = body.replace("\\\n", " ").splitlines(), [], None
    for line in lines:
        if heredoc:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if m := re.search(r"<<'?(\w+)'?", line):
            heredoc = m[1]
        code = line.split(" #")[0].strip()
        if code and not code.startswith("#"):
            out.append(code)
    return out


def heredoc_files(body: str) -> dict[str, str]:
    """`cat > FILE <<'EOF' ... EOF` in a block: the file's text."""
    return {m[1]: m[3] for m in re.finditer(r"cat > (\S+) <<'?(\w+)'?\n(.*?)\n\2\n", body + "\n", re.S)}


def run_block(first: str, cwd: Path, swap: dict[str, str] | None = None, timeout: int = 900) -> list[str]:
    """Run every unmarked bash block whose first command is `first` with `bash -e`, in `cwd`, this environment's
    bin first on PATH (s2f, dvc), each `swap` key replaced by its value; assert each succeeds; their outputs."""
    found = [(w, b) for w, b, mark in blocks("bash") if not mark and commands(b)[:1] == [first]]
    assert found, f"no unmarked bash block starts with {first!r}"
    outputs = []
    for where, body in found:
        for old, new in (swap or {}).items():
            body = body.replace(old, new)
        done = subprocess.run(["bash", "-e", "-c", body], cwd=cwd, env=bin_first_env(), capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"{where}:\n{body}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    return outputs


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (PROJECT / "Makefile").read_text(), re.M))


def test_every_yaml_block_passes_the_params_schema():
    found = blocks("yaml")
    assert found, "docs/data.md's real-data block"
    base = read_params_file(PROJECT / "params.yaml")
    for where, body, _ in found:
        alternatives = re.split(r"^(?=#)", body, flags=re.M)
        for alt in filter(str.strip, alternatives):
            validate(merge_params(base, yaml.safe_load(alt) or {}), where)  # raises naming the key


def test_every_s2f_command_parses_and_its_settings_pass_the_schema():
    parser, targets, checked = _parser(), make_targets(), 0
    for where, body, mark in blocks("bash"):
        if mark and mark.startswith(NOT_RUN):
            assert len(mark) > len(NOT_RUN) + 10, f"{where}: say why it is not run"
            continue
        files = heredoc_files(body)
        for line in commands(body):
            for part in re.split(r";|&&|\bdo\b|\bdone\b", line):
                words = shlex.split(part.replace("$stage", "ingest").replace("$out", "/tmp/out"))
                at = next((i for i, w in enumerate(words) if Path(w).name == "s2f"), None)  # torchrun ... s2f ...
                if at is not None and words[0] != "for":
                    args, extra = parser.parse_known_args(words[at + 1:])
                    assert not extra, f"{where}: {part!r}: unknown arguments {extra}"
                    if args.command == "run":
                        base = read_params_file(PROJECT / "params.yaml")
                        raw = yaml.safe_load(files[args.params]) if args.params in files else base
                        validate(apply_overrides(merge_params(base, raw), args.overrides), f"{where}: {part!r}")
                    checked += 1
                elif words[:1] == ["make"]:
                    target = next((w for w in words[1:] if "=" not in w), None)
                    assert target is None or target in targets, f"{where}: no make target {target!r}"
                    checked += 1
    assert checked >= 20


def test_every_bash_block_is_run_by_a_test_or_says_why_not():
    """A new command block in the docs is either run by a slow test (RUN_BY, and that test exists) or marked."""
    firsts = {commands(body)[0] for _, body, mark in blocks("bash") if not mark and commands(body)}
    assert firsts == set(RUN_BY), f"run by no test: {sorted(firsts - set(RUN_BY))}; gone: {set(RUN_BY) - firsts}"
    for test in set(RUN_BY.values()):
        path, name = test.split("::")
        assert re.search(rf"^def {name}", (PROJECT / path).read_text(), re.M), test


@pytest.mark.slow
def test_the_real_clips_recipe_of_outputs_md_runs(realdata: Path, tmp_path: Path):
    """docs/outputs.md's recipe for the real clips, run as written (its /tmp paths moved under tmp_path), from the
    project folder: ingest, faces and audio on ../shared/realdata, then the contact sheet."""
    run_block("cat > /tmp/real.yaml <<'EOF'", PROJECT, {"/tmp/": f"{tmp_path}/"})
    import pandas as pd

    clips = pd.read_parquet(tmp_path / "real" / "clips")
    assert len(clips) == 33 and set(clips.gender) == {"f", "m"}
    assert len(pd.read_parquet(tmp_path / "real" / "face_features")) >= 30
    assert len(pd.read_parquet(tmp_path / "real" / "spectrograms", columns=["clip_id"])) >= 30
    assert (tmp_path / "real" / "contact_sheet.png").stat().st_size > 10_000


def test_docs_outputs_column_tables_are_the_schemas_the_stages_write():
    """docs/outputs.md's column tables are what s2f/schemas.py gives (`s2f columns --write docs/outputs.md`), every
    dataset has one, and the schemas there are the ones the stages write with."""
    from s2f.audio.stage import SPECTROGRAMS_SCHEMA
    from s2f.columns_doc import with_columns
    from s2f.faces.stage import FACE_FEATURES_SCHEMA, FACES_SCHEMA
    from s2f.ingest.table import CLIPS_SCHEMA, REJECTS_SCHEMA
    from s2f.schemas import DATASETS
    from s2f.shards import REJECTS_SCHEMA as SHARD_REJECTS_SCHEMA

    text = (PROJECT / "docs" / "outputs.md").read_text()
    assert with_columns(text) == text, "run `s2f columns --write docs/outputs.md`"
    written = {"clips": CLIPS_SCHEMA, "clips_rejects": REJECTS_SCHEMA, "faces": FACES_SCHEMA,
               "face_features": FACE_FEATURES_SCHEMA, "faces_rejects": SHARD_REJECTS_SCHEMA,
               "spectrograms": SPECTROGRAMS_SCHEMA, "audio_rejects": SHARD_REJECTS_SCHEMA}
    assert written.keys() == DATASETS.keys()
    for name, schema in written.items():
        assert schema.equals(DATASETS[name].schema, check_metadata=True), name
        assert all(meaning.strip() for _, _, meaning in DATASETS[name].columns), name
    with pytest.raises(ValueError, match="no columns block for .*spectrograms"):
        with_columns(re.sub(r"<!-- columns: spectrograms -->.*?<!-- /columns -->", "", text, flags=re.S))
    stale = text.replace("| `n_frames` | int32 |", "| `n_frames` | int64 |")
    assert stale != text and with_columns(stale) == text
