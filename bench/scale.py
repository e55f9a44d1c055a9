"""Benchmark of scale-out: the `faces` stage under Dask with 1 and 2 workers, Dask's cost per task, and
Prefect's start-up cost per stage (ephemeral vs a running server).

    python bench/scale.py [--runs 3] [--clips 48] [--server]

On the synthetic corpus (data/processed/clips from `make run`), each measurement in a fresh process, median over
runs:
- faces: the Prefect flow with `runner.kind: dask` (a LocalCluster of 1 or 2 single-threaded worker processes)
  and with the default `threads` runner, on `--clips` clips in shards of 4: wall seconds, clips per second and
  the speed-up of 2 workers over 1;
- Dask overhead per task: a flow mapping a no-op task over 200 items on a LocalCluster of 2 workers; the time
  from the first submit to the last result, per task (cluster start-up reported separately);
- Prefect overhead per stage: wall time of a flow with no work, run as `s2f` stages are (a new process), in
  ephemeral mode and, with --server, against a `prefect server start` running on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child_faces(kind: str, workers: int, clips: Path, out: Path) -> None:
    from flows.env import configure

    configure()
    from flows import faces
    from s2f.config import Params

    params = Params.model_validate({"runner": {"kind": kind, "workers": workers},
                                    "paths": {"clips": str(clips), "faces": str(out / "faces"),
                                              "face_features": str(out / "face_features"),
                                              "faces_rejects": str(out / "faces_rejects")},
                                    "faces": {"shard_size": 4}})
    start = time.perf_counter()
    totals = faces.run(params)
    print(json.dumps({"wall": time.perf_counter() - start, "features": totals.get("features", 0)}))


def child_dask_overhead(n: int) -> None:
    from flows.env import configure

    configure()
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from flows.common import task_runner
    from s2f.config import RunnerParams

    @task(cache_policy=NO_CACHE)
    def noop(i: int) -> int:
        return i

    @flow(task_runner=task_runner(RunnerParams(kind="dask", workers=2)))
    def fan_out(count: int) -> float:
        start = time.perf_counter()
        assert sum(f.result() for f in noop.map(range(count))) == count * (count - 1) // 2
        return time.perf_counter() - start

    start = time.perf_counter()
    mapped = fan_out(n)
    print(json.dumps({"wall": time.perf_counter() - start, "mapped": mapped, "per_task_ms": 1000 * mapped / n}))


def child_empty_flow() -> None:
    from flows.env import configure

    configure()
    from prefect import flow

    @flow
    def empty() -> int:
        return 1

    empty()


def _child(*args: str, env: dict | None = None) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return {"process_wall": time.perf_counter() - start, **(json.loads(lines[-1]) if lines else {})}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prefect_overhead(runs: int, server: bool) -> dict:
    out = {"ephemeral_s": statistics.median(_child("empty")["process_wall"] for _ in range(runs))}
    if server:
        port = _free_port()
        env = {**os.environ, "PREFECT_HOME": str(ROOT / ".prefect")}
        proc = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host",
                                 "127.0.0.1", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            api = f"http://127.0.0.1:{port}/api"
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{api}/health", timeout=1)
                    break
                except OSError:
                    time.sleep(1)
            env = {**os.environ, "PREFECT_API_URL": api}
            out["server_s"] = statistics.median(_child("empty", env=env)["process_wall"] for _ in range(runs))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    out["import_prefect_s"] = statistics.median(_time_import() for _ in range(runs))
    return out


def _time_import() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import prefect"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--server", action="store_true", help="also measure against a running Prefect server")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "faces":
            child_faces(rest[0], int(rest[1]), Path(rest[2]), Path(rest[3]))
        elif kind == "dask":
            child_dask_overhead(int(rest[0]))
        else:
            child_empty_flow()
        return

    import pyarrow as pa

    from s2f.tables import read_dataset, write_dataset

    clips = read_dataset(ROOT / "data/processed/clips").sort_values("clip_id").head(args.clips)
    results: dict = {"clips": len(clips), "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        table = write_dataset([pa.Table.from_pandas(clips, preserve_index=False)], Path(tmp) / "clips",
                              dataset="clips", schema_version=1, params={})
        for kind, workers in (("dask", 1), ("dask", 2), ("threads", 2)):
            walls = []
            for run in range(args.runs):
                got = _child("faces", kind, str(workers), str(table), str(Path(tmp) / f"out-{kind}-{workers}-{run}"))
                walls.append(got["wall"])
            results[f"faces_{kind}_{workers}"] = {"wall_s": statistics.median(walls),
                                                  "clips_per_s": len(clips) / statistics.median(walls)}
    results["speedup_dask_2_over_1"] = results["faces_dask_1"]["wall_s"] / results["faces_dask_2"]["wall_s"]
    overhead = [_child("dask", "200") for _ in range(args.runs)]
    results["dask_per_task_ms"] = statistics.median(o["per_task_ms"] for o in overhead)
    results["dask_flow_wall_s"] = statistics.median(o["process_wall"] for o in overhead)
    results["prefect_stage_overhead"] = prefect_overhead(args.runs, args.server)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
