"""Worker processes die with the stage process that started them, even when it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

_PARENT = """
import multiprocessing, sys, time
from concurrent.futures import ProcessPoolExecutor
from s2f.processes import exit_with_parent

def busy(seconds):
    time.sleep(seconds)
    return seconds

if __name__ == "__main__":
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent)
    futures = [pool.submit(busy, 120) for _ in range(2)]
    print(" ".join(str(p) for p in pool._processes), flush=True)
    time.sleep(600)
"""


def test_pool_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(__file__)))
    workers = [psutil.Process(int(pid)) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(w.is_running() for w in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


_STAGE = """
import subprocess, sys, time
from s2f.processes import reap_on_death

reap_on_death(__import__("os").getpid())
server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # like Prefect's server
helper = subprocess.Popen(["bash", "-c", "sleep 600 & wait"])  # and a grandchild
time.sleep(1.5)  # the watchdog has looked at least once
print(server.pid, helper.pid, flush=True)
time.sleep(600)
"""


def test_a_killed_stage_leaves_no_process_behind(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(_STAGE)
    stage = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(__file__)))
    children = [psutil.Process(int(pid)) for pid in stage.stdout.readline().split()]
    descendants = children + children[1].children(recursive=True)
    assert len(descendants) == 3 and all(p.is_running() for p in descendants)
    stage.send_signal(signal.SIGKILL)
    stage.wait()
    deadline = time.monotonic() + 10
    while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in descendants) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in descendants)
