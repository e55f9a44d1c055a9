"""The sharded stages give the same tables under every task runner as without one (tasks get paths and params,
not data)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flows.env import configure
from s2f.config import Params
from s2f.tables import read_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def prefect_server(prefect_api_url: str):
    """The run's Prefect server for the flows this process runs and for the processes they start (pool and Dask
    workers), which would otherwise each start a temporary server of their own."""
    configure()
    from prefect.context import refresh_global_settings_context

    with pytest.MonkeyPatch.context() as env:
        env.setenv("PREFECT_API_URL", prefect_api_url)
        refresh_global_settings_context()
        yield
    refresh_global_settings_context()


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
    return _tables(out)


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for name, keys in (("faces", ["clip_id", "time"]), ("face_features", ["clip_id"]),
                       ("spectrograms", ["clip_id", "segment"]), ("faces_rejects", ["clip_id"]),
                       ("audio_rejects", ["clip_id"])):
        table = read_dataset(out / name)
        tables[name] = table.sort_values(keys).reset_index(drop=True) if len(table) else table
    return tables


def test_every_runner_writes_the_tables_of_the_library_alone(tiny_processed: Path, tmp_path: Path):
    """Both stages under threads (one dlib aligner per thread), the default process pool, and on one running Dask
    cluster (runner.address), its workers separate processes, give the tables that the library's shard function,
    called one shard after another without Prefect, wrote for `tiny_processed` with the same params."""
    from distributed import LocalCluster

    clips = tiny_processed / "clips"
    runs = {kind: _run(kind, clips, tmp_path / kind) for kind in ("threads", "processes")}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        runs["dask"] = _run("dask", clips, tmp_path / "dask", address=cluster.scheduler_address)
    alone = _tables(tiny_processed)
    assert len(alone["faces"]) > 0 and len(alone["spectrograms"]) == len(read_dataset(clips))
    for kind in runs:
        for name, table in alone.items():
            pd.testing.assert_frame_equal(table, runs[kind][name], check_dtype=True, obj=f"{kind}: {name}")
    shards = {len(list((tmp_path / kind / "faces").glob("part-*.parquet"))) for kind in runs}
    assert shards == {-(-len(read_dataset(clips)) // 3)}  # one part file per shard of 3 clips


def test_without_an_address_dask_starts_a_local_cluster_of_the_workers():
    from prefect_dask import DaskTaskRunner

    from flows.common import task_runner

    runner = task_runner(Params.model_validate({"runner": {"kind": "dask", "workers": 3}}).runner)
    assert isinstance(runner, DaskTaskRunner) and runner.cluster_kwargs["n_workers"] == 3
    assert runner.cluster_kwargs["processes"] is True and runner.cluster_kwargs["threads_per_worker"] == 1
