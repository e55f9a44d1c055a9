"""dvc.yaml against the code, without running anything: each stage lists the s2f and flows code its flow can
import (a module it runs but does not list would leave stale outputs after a code change)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT

STAGES = ("synth", "ingest", "faces", "audio", "train_face", "train_voice", "evaluate", "reproduce")


def _imports(path: Path) -> set[str]:
    """The s2f and flows modules a source file imports anywhere in it (lazy imports in functions included), not
    those under `if TYPE_CHECKING:` (annotations only: nothing runs them)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                   and getattr(stmt.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.split(".")[0] in ("s2f", "flows")}


def _module_files(module: str) -> set[Path]:
    """Every project file importing `module` can load: its packages' __init__ files and what they import."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):
            base = PROJECT.joinpath(*parts[:i])
            path = next((f for f in (base.with_suffix(".py"), base / "__init__.py") if f.is_file()), None)
            if path is not None and path not in seen:
                seen.add(path)
                todo += _imports(path)
    return {f.relative_to(PROJECT) for f in seen}


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_depends_on_the_code_its_flow_imports(stage: str):
    """A module a stage runs (s2f/ or flows/) but dvc.yaml does not list would leave stale outputs after a code
    change. The imports are read from the source (no interpreter per stage), lazy ones inside functions included."""
    used = _module_files(f"flows.{stage}")
    package = "models" if stage.startswith("train") else "evaluate" if stage == "reproduce" else stage
    assert any(f.parts[1] == package for f in used)  # the reader found the stage's own library code
    deps = [Path(d) for d in yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"][stage]["deps"]]
    exempt = {Path("s2f/__init__.py"), Path("s2f/config.py"), Path("s2f/catalog.py"), Path("s2f/errors.py"),
              Path("s2f/processes.py"), Path("flows/__init__.py")}
    missing = {f for f in used - exempt if not any(f == d or d in f.parents for d in deps)}
    assert not missing, f"dvc.yaml stage {stage} misses deps {sorted(map(str, missing))}"


def test_the_import_reader_finds_lazy_imports_and_packages():
    files = _module_files("flows.train_voice")
    assert {Path("s2f/models/networks.py"), Path("s2f/models/__init__.py"), Path("flows/common.py")} <= files
    assert Path("s2f/evaluate/report.py") in _module_files("flows.evaluate")
    assert Path("s2f/models/networks.py") not in _module_files("flows.ingest")


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_reads_and_writes_in_dvc_yaml_what_the_catalog_says(stage: str):
    """s2f/catalog.py's reads and writes of a stage and dvc.yaml's deps, params and outs name the same entries."""
    from s2f.catalog import _READS, _WRITES

    spec = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"][stage]

    def named(*fields: str) -> set[str]:
        out = set()
        for field in fields:
            for item in spec.get(field, []):
                text = item if isinstance(item, str) else next(iter(item))
                if text.startswith("${paths."):
                    out.add(text.removeprefix("${paths.").split("}")[0])
                elif text.startswith("paths."):
                    out.add(text.removeprefix("paths."))
        return out

    reads, writes = {key for key, _ in _READS[stage]}, {key for key, _ in _WRITES[stage]}
    deps, outs, params = named("deps"), named("outs", "metrics", "plots"), named("params")
    assert deps <= reads and outs <= writes  # a dependency is read, an output written
    assert reads - deps <= params and writes - outs <= params  # the rest (a CSV, checkpoints) are params
    assert reads | writes == deps | outs | params
