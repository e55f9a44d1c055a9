"""Shared flow plumbing: the task runner chosen by params, and fan-out with a progress bar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from prefect import Flow, Task
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from s2f.catalog import check_paths
from s2f.config import Params, RunnerParams
from s2f.processes import exit_with_parent

T = TypeVar("T")


def task_runner(p: RunnerParams) -> TaskRunner:
    """Local processes (the default), threads, or Dask: an existing cluster at `address`, else a LocalCluster."""
    if p.kind == "processes":
        return ProcessPoolTaskRunner(max_workers=p.workers, initializer=exit_with_parent)
    if p.kind == "dask":
        from prefect_dask import DaskTaskRunner

        if p.address:
            return DaskTaskRunner(address=p.address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": p.workers, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    return ThreadPoolTaskRunner(max_workers=p.workers)


def with_runner(flow: Flow, params: Params) -> Flow:
    """The stage's flow with the task runner `runner.*` asks for, once the paths it reads and writes are checked
    (s2f.catalog.check_paths: the one list of each stage's inputs; `s2f run` checks them before Prefect starts)."""
    check_paths(params, flow.name)
    return flow.with_options(task_runner=task_runner(params.runner))


def map_tasks(task: Task, items: Sequence[Any], *shared: Any, label: str) -> list[Any]:
    """Run `task(item, *shared)` for every item in parallel; results in item order, with a progress bar."""
    futures = task.map(list(items), *(unmapped(s) for s in shared))
    index = {f.task_run_id: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        tick = bar.add_task(label, total=len(futures))
        for fut in as_completed(futures):
            results[index[fut.task_run_id]] = fut.result()
            bar.advance(tick)
    return results


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
