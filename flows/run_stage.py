"""Running stages from the command line: `s2f run STAGE` (parameters, paths and models checked first, one
Prefect server, Ctrl-C and kills that stop the stage's workers and leave nothing half-written), `s2f repro`
(dvc repro with one server for all its stages) and `s2f pipeline` / `s2f serve` (the pipeline flow)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from flows.server import start_stage_server
from s2f.atomic import discard_under_way, remove_leftovers
from s2f.catalog import check_paths, model_inputs, outputs
from s2f.config import load_params
from s2f.errors import InputError
from s2f.processes import kill_and_wait, reap_on_death


def _shared_server() -> None:
    """One Prefect API server for this command and every stage it starts, unless PREFECT_API_URL names one: each
    `s2f run` would otherwise start its own (seconds a stage: docs/benchmarks.md). The server runs in a session of
    its own (Ctrl-C reaches the stages, which report their interruption to it), stops when this command exits, and
    the watchdog stops it and anything else this command started if it is killed."""
    reap_on_death(os.getpid())
    start_stage_server()


def repro(args: argparse.Namespace) -> int:
    import subprocess

    from flows import dvc_command

    if not Path("dvc.yaml").is_file():
        print(f"s2f repro: no dvc.yaml in {Path.cwd()}; run it in the project folder", file=sys.stderr)
        return 1
    try:  # dvc's own options pass through: then, or when dvc status fails (dvc repro says why), assume work to do
        to_run = any(t.startswith("-") for t in args.targets) or dvc_command.changed(args.targets, Path.cwd())
    except (RuntimeError, ValueError):
        to_run = True
    if to_run:  # a run with nothing to do starts no server
        _shared_server()
    # dvc and its stages start with Ctrl-C's default even where this process was started with it ignored (an
    # ignored signal stays ignored across exec, down to the stage's shell and its commands)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    repro = subprocess.Popen(dvc_command.command(["repro", *args.targets]), env=dvc_command.env())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is dvc's and its stage's to handle: wait for them
    try:
        code = repro.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code  # a signal's death as a shell reports it


def pipeline(args: argparse.Namespace) -> int:
    root = str(Path(args.root).resolve())
    if not (Path(root) / "dvc.yaml").is_file():
        print(f"s2f {args.command}: no dvc.yaml in {root}", file=sys.stderr)
        return 1
    if args.command == "pipeline":
        _shared_server()  # before Prefect is imported: its exit handlers then run before the server stops
    from flows.pipeline import pipeline_flow

    if args.command == "serve":
        if not os.environ.get("PREFECT_API_URL"):
            print("s2f serve: schedules need a running Prefect server; start one with `make server`, then\n"
                  "  export PREFECT_API_URL=http://127.0.0.1:4200/api   (or run `make serve`)", file=sys.stderr)
            return 1
        pipeline_flow.serve(name=args.name, cron=args.cron, parameters={"root": root})
        return 0
    result = pipeline_flow(root=root)
    print("ran stages: " + ", ".join(result["stages"]) if result["ran"] else "nothing to do: everything is up to date")
    return 0


_KEEP: set[int] = set()  # the watchdog and the stage's Prefect server: they outlive the unwinding
_SIGNAL = [signal.SIGINT]


def _interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C or a kill: stop this stage's worker processes now (a worker would finish its shard first; the
    temporary file a killed one leaves, `run` sweeps from the outputs), then unwind the stage as
    KeyboardInterrupt, which Prefect reports to its server as a crash before the command exits 130."""
    import psutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while unwinding changes nothing
    _SIGNAL[0] = signum
    workers = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):  # multiprocessing's resource tracker cleans up after them
            if proc.pid not in _KEEP and "resource_tracker" not in " ".join(proc.cmdline()):
                workers.append(proc)
    kill_and_wait(workers)  # ended before the stage removes what they were writing (run: the sweep)
    raise KeyboardInterrupt


def _check_models(params: Any, stage: str) -> None:
    """Check the model files a stage reads (the face detector by hash; trained models by their card and their
    weights' header), so a missing or damaged one stops it before Prefect starts."""
    if stage == "faces":
        from s2f.blazeface import require_model

        require_model()
    inputs = model_inputs(params, stage)
    if inputs:
        from s2f.models.zoo import check_model

        for key, folder in inputs:  # checked without loading: the stage loads them once
            check_model(folder, "voice_encoder" if key.endswith("encoder") else "face_decoder")


# what an interrupted stage leaves for its rerun (s2f.atomic: never a half-written file)
_SHARDS_KEPT = "finished shards are kept, rerun to go on from them"
_AFTER_INTERRUPT = {"faces": _SHARDS_KEPT, "audio": _SHARDS_KEPT,
                    "train_voice": "its last checkpoint is kept, rerun to resume from it"}
_NOTHING_KEPT = "nothing half-written is left, rerun to start it again"


def _sweep(params: Any, stage: str) -> None:
    for path in outputs(params, stage):
        remove_leftovers(path)


def run(args: argparse.Namespace) -> int:
    try:  # every parameter and path checked before Prefect or any work starts: exit 2, as for a bad parameter
        params = load_params(args.params, args.overrides)
        check_paths(params, args.stage)
        _check_models(params, args.stage)
    except InputError as err:
        print(f"s2f {args.stage}: {err}", file=sys.stderr)
        return 2
    # Workers stopped by Ctrl-C leave semaphores that multiprocessing's tracker frees, with a warning that says
    # nothing to a user.
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"),
                                                          "ignore:resource_tracker:UserWarning"]))
    _KEEP.add(reap_on_death(os.getpid()).pid)  # however this process ends, the server and workers end with it
    # in its own session: Ctrl-C reaches the stage, not the server; torchrun's processes past the first run no flow
    first = int(os.environ.get("RANK", "0")) == 0
    server = start_stage_server() if first else None
    if server is not None:
        _KEEP.add(server.pid)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    if first:  # what a killed run's writes left (not torchrun's other processes: they start beside this one)
        _sweep(params, args.stage)
    try:
        stage = importlib.import_module(f"flows.{args.stage}")
        stage.run(params)
    except KeyboardInterrupt:
        discard_under_way()  # what the stage was still writing, whether or not its own code could unwind
        _sweep(params, args.stage)  # and what its killed workers were writing, which only they knew of
        print(f"s2f {args.stage}: interrupted; {_AFTER_INTERRUPT.get(args.stage, _NOTHING_KEPT)}", file=sys.stderr)
        return 128 + _SIGNAL[0]
    return 0
