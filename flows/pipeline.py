"""The whole pipeline as one Prefect flow, for schedules: `dvc repro` when something changed, then push and
publish the evaluation table.

One run at a time: runs take a file lock in the project, so a second run waits for the first (then finds
nothing left to do) instead of interleaving with it. A failed stage fails the flow run with DVC's error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from filelock import FileLock
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from s2f.evaluate.report import METHOD_NAMES, lengths

LOCK = ".cache/pipeline.lock"


def dvc(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run dvc with this environment's scripts (`s2f`, `dvc`) first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([f"{bin_dir}/dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)


@task(cache_policy=NO_CACHE)
def changed_stages(root: Path) -> list[str]:
    """Stages `dvc status` reports as changed (code, params, inputs or missing outputs)."""
    done = dvc(["status", "--json"], root)
    if done.returncode != 0:
        raise RuntimeError(f"dvc status failed:\n{done.stderr or done.stdout}")
    status = json.loads(done.stdout or "{}")
    return sorted(name.split(":")[-1] for name in status)


@task(cache_policy=NO_CACHE)
def repro(root: Path) -> list[str]:
    """`dvc repro`; returns the stages it ran. A failing stage raises with the end of its output."""
    log = get_run_logger()
    done = dvc(["repro"], root)
    ran = re.findall(r"^Running stage '([^']+)'", done.stdout, flags=re.M)
    for stage in ran:
        log.info("ran stage %s", stage)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise RuntimeError(f"dvc repro failed:\n{tail}")
    return ran


@task(cache_policy=NO_CACHE)
def push(root: Path) -> bool:
    """Push outputs to the default DVC remote, when one is configured."""
    remotes = dvc(["remote", "list"], root).stdout.strip()
    if not remotes:
        get_run_logger().info("no DVC remote configured: nothing pushed")
        return False
    done = dvc(["push"], root)
    if done.returncode != 0:
        raise RuntimeError(f"dvc push failed:\n{done.stderr or done.stdout}")
    return True


RECALLS = ("R@1", "R@2", "R@5", "R@10")


def _row(label: list[str], recall: dict[str, float], agreement: dict[str, float] | None, names: list[str]) -> str:
    """A table row: the labels, recall at each K and agreement per attribute in % (blank cells without one)."""
    cells = label + [f"{100 * recall[k]:.1f}" for k in RECALLS]
    cells += [f"{100 * agreement[n]:.1f}" if agreement is not None else "" for n in names]
    return "|" + "".join(f" {c} |" if c else " |" for c in cells)


def evaluation_markdown(metrics: dict[str, Any]) -> str:
    """The headline table (cosine retrieval and attribute agreement), model and baselines side by side."""
    test = metrics["test"]
    names = list(metrics.get("true_face_accuracy", {}))
    head = "| audio | method | R@1 | R@2 | R@5 | R@10 | " + " | ".join(f"{n} agreement" for n in names) + " |"
    lines = [f"Test split: {test['clips']} clips of {test['speakers']} speakers; pool {test['pool']}.", "", head,
             "|" + "---|" * (6 + len(names)), _row(["", "chance"], metrics["chance_recall"], None, names)]
    for length in lengths(metrics):
        for method, r in metrics[length].items():
            lines.append(_row([length, METHOD_NAMES.get(method, method)], r["retrieval"]["cosine"], r["agreement"],
                              names))
    if "f2f" in metrics:
        f2f = metrics["f2f"]
        lines.append(_row(["", "F2F (decoded true face: the ceiling)"], f2f["retrieval"]["cosine"], f2f["agreement"],
                          names))
    return "\n".join(lines)


@flow(name="s2f-pipeline", validate_parameters=False)
def pipeline_flow(root: str = ".", wait_s: float = 6 * 3600) -> dict[str, Any]:
    """Reproduce the pipeline if anything changed; push; publish the evaluation table."""
    log = get_run_logger()
    path = Path(root).resolve()
    (path / LOCK).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path / LOCK), timeout=wait_s):
        changed = changed_stages(path)
        if not changed:
            log.info("dvc status: everything is up to date; nothing to run")
            return {"ran": False, "stages": []}
        log.info("changed: %s; running dvc repro", ", ".join(changed))
        ran = repro(path)
        pushed = push(path)
        metrics = path / "reports" / "metrics.json"
        if metrics.is_file():
            create_markdown_artifact(evaluation_markdown(json.loads(metrics.read_text())), key="s2f-evaluation",
                                     description="s2f evaluation on the test split")
        return {"ran": True, "stages": ran, "pushed": pushed}
