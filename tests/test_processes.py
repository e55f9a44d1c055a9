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
