"""Prefect's API server for one `s2f run`, started apart from the terminal's Ctrl-C.

With no PREFECT_API_URL, Prefect starts a temporary server as a child in the stage's process group, so the
Ctrl-C meant for the stage stopped the server first and Prefect then spent minutes retrying to report the
interruption to it. This one runs in a session of its own: Ctrl-C reaches only the stage, which reports the
interruption and exits. The server is stopped at interpreter exit, after Prefect's own exit handlers have sent
their last logs and events, and by the stage's watchdog (s2f/processes.py) if the stage is killed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """End a server that `serve` started: SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve(env: dict[str, str] | None = None, timeout_s: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start Prefect's API server (no UI) on a free local port, in a session of its own, with `env` added to
    this process's environment; return it and its API URL once it answers."""
    port = free_port()
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
           **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "error", "--lifespan", "on"], env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return proc, url
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Prefect's API server did not start (exit code {proc.poll()})")
            time.sleep(0.1)
    except BaseException:  # Ctrl-C while waiting included: a server in its own session would outlive us
        stop(proc)
        raise


def start_stage_server(timeout_s: float = 120.0) -> subprocess.Popen | None:
    """Serve Prefect's API on a free local port and point PREFECT_API_URL at it; call before importing Prefect
    (its exit handlers, registered later, then run before this server stops). Nothing when a server is set."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    proc, url = serve(timeout_s=timeout_s)
    atexit.register(stop, proc)
    os.environ["PREFECT_API_URL"] = url
    return proc
