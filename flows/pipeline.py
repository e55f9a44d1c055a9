"""The whole pipeline as one Prefect flow, for schedules: `dvc repro` when something changed, then push and
publish the evaluation table.

One run at a time: runs take a file lock in the project, so a second run waits for the first (then finds
nothing left to do) instead of interleaving with it. A failed stage fails the flow run with DVC's error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from filelock import FileLock
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows import dvc_command
from s2f.catalog import METRICS_JSON
from s2f.config import load_params
from s2f.evaluate.results import EvaluationResults
from s2f.readme import results_markdown

LOCK = ".cache/pipeline.lock"


TARGET = "evaluate"  # the last stage of `make run`: `dvc repro evaluate` runs it and everything upstream


@task(cache_policy=NO_CACHE)
def changed_stages(root: Path) -> list[str]:
    """Stages of `make run` (evaluate and all it depends on) that `dvc status` reports as changed (code, params,
    inputs or missing outputs); `make reproduce`'s stage is not part of the schedule."""
    return dvc_command.changed([TARGET], root)


@task(cache_policy=NO_CACHE)
def repro(root: Path) -> list[str]:
    """`dvc repro evaluate`; returns the stages it ran. A failing stage raises with the end of its output."""
    log = get_run_logger()
    done = dvc_command.run(["repro", TARGET], root)
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
    remotes = dvc_command.run(["remote", "list"], root).stdout.strip()
    if not remotes:
        get_run_logger().info("no DVC remote configured: nothing pushed")
        return False
    done = dvc_command.run(["push"], root)
    if done.returncode != 0:
        raise RuntimeError(f"dvc push failed:\n{done.stderr or done.stdout}")
    return True


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
        metrics = path / load_params(path / "params.yaml").paths.reports / METRICS_JSON
        if metrics.is_file():
            create_markdown_artifact(results_markdown(EvaluationResults.read(metrics)), key="s2f-evaluation",
                                     description="s2f evaluation on the test split")
        return {"ran": True, "stages": ran, "pushed": pushed}
