"""The sharded stages give the same tables under every task runner (tasks get paths and params, not data)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.env import configure
from s2f.config import Params
from s2f.tables import read_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def prefect_server():
    """The flows run in this process: a test server stopped here, not at interpreter exit, where its last log
    line would be written to the already closed captured output."""
    configure()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):  # a loaded 2-core machine can take over 30 s
        yield


def _run(kind: str, clips: Path, out: Path, address: str | None = None) -> dict[str, pd.DataFrame]:
    from flows import audio, faces

    params = Params.model_validate({
        "runner": {"kind": kind, "workers": 2, "address": address},
        "paths": {"clips": str(clips), **{name: str(out / name) for name in ("faces", "face_features", "faces_rejects",
                                                                             "spectrograms", "audio_rejects")}},
        "faces": {"shard_size": 3},
        "audio": {"shard_size": 3, "seconds": 2.0},
        "evaluate": {"seconds": [2.0]}})
    faces.run(params)
    audio.run(params)
    tables = {}
    for name, keys in (("faces", ["clip_id", "time"]), ("face_features", ["clip_id"]),
                       ("spectrograms", ["clip_id", "segment"]), ("faces_rejects", ["clip_id"]),
                       ("audio_rejects", ["clip_id"])):
        table = read_dataset(out / name)
        tables[name] = table.sort_values(keys).reset_index(drop=True) if len(table) else table
    return tables


def test_threads_processes_and_a_dask_cluster_write_the_same_tables(tiny_processed: Path, tmp_path: Path):
    """Both stages under threads, the default process pool, and on one running Dask cluster (runner.address),
    its workers separate processes."""
    from distributed import LocalCluster

    clips = tiny_processed / "clips"
    runs = {kind: _run(kind, clips, tmp_path / kind) for kind in ("threads", "processes")}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        runs["dask"] = _run("dask", clips, tmp_path / "dask", address=cluster.scheduler_address)
    threads = runs["threads"]
    assert len(threads["faces"]) > 0 and len(threads["spectrograms"]) == len(read_dataset(clips))
    for kind in ("processes", "dask"):
        for name, table in threads.items():
            pd.testing.assert_frame_equal(table, runs[kind][name], check_dtype=True, obj=f"{kind}: {name}")
    shards = {len(list((tmp_path / kind / "faces").glob("part-*.parquet"))) for kind in runs}
    assert shards == {-(-len(read_dataset(clips)) // 3)}  # one part file per shard of 3 clips


def test_without_an_address_dask_starts_a_local_cluster_of_the_workers():
    from prefect_dask import DaskTaskRunner

    from flows.common import task_runner

    runner = task_runner(Params.model_validate({"runner": {"kind": "dask", "workers": 3}}).runner)
    assert isinstance(runner, DaskTaskRunner) and runner.cluster_kwargs["n_workers"] == 3
    assert runner.cluster_kwargs["processes"] is True and runner.cluster_kwargs["threads_per_worker"] == 1
