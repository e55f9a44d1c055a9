"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import uuid


def exit_with_parent() -> None:
    """Pool initializer: exit this worker as soon as its parent process is gone, even if it was SIGKILLed
    (a pool's workers otherwise wait for work forever, or finish a shard nobody will collect). The worker
    ignores Ctrl-C, which the whole process group receives: the stage process stops its workers itself."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child: nothing to watch
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the stage's to handle: it stops its workers

    def watch() -> None:
        parent.join()  # returns when the parent's sentinel pipe closes, i.e. when the parent has died
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def kill_and_wait(procs: list, within_s: float = 2.0) -> None:
    """SIGKILL `procs` (psutil processes) and wait up to `within_s` until each has ended, so that none writes
    again. Ended means gone or a zombie: the zombie is left for its parent to reap, because a pool that finds
    its worker reaped by someone else counts it alive forever (Python 3.11's ProcessPoolExecutor then hangs in
    shutdown; psutil.wait_procs reaps)."""
    import psutil

    def ended(proc: psutil.Process) -> bool:
        try:
            return proc.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + within_s
    while not all(map(ended, procs)) and time.monotonic() < deadline:
        time.sleep(0.01)


REAP_TOKEN = "S2F_REAP_TOKEN"


def reap_on_death(pid: int) -> subprocess.Popen:
    """Mark this process's environment, which every process it starts inherits, and start a watchdog (its own
    session, so Ctrl-C leaves it be) that, once process `pid` (this one) has ended however it ended (SIGKILL
    included), stops every process still carrying the mark: Prefect's temporary API server and pool workers
    would otherwise keep running. Call it before starting any other process."""
    token = f"{pid}-{uuid.uuid4().hex}"
    os.environ[REAP_TOKEN] = token
    return watchdog(pid, token)


def watchdog(pid: int, token: str) -> subprocess.Popen:
    """The watchdog alone: once process `pid` has ended, it stops every process whose environment carries
    REAP_TOKEN=`token` (for a process started with that mark while this one's own environment stays unmarked)."""
    return subprocess.Popen([sys.executable, "-m", "s2f.processes", str(pid), token], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _marked(token: str) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(REAP_TOKEN) == token:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _watch(pid: int, token: str, every_s: float = 0.5, grace_s: float = 5.0) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        while parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE:
            time.sleep(every_s)
    except psutil.NoSuchProcess:
        pass
    alive = _marked(token)
    for proc in alive:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(alive, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


if __name__ == "__main__":
    _watch(int(sys.argv[1]), sys.argv[2])
