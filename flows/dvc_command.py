"""The dvc command of this environment, with its scripts (`s2f`, `dvc`) first on PATH, so that the stages dvc runs
call this environment's `s2f`. Prefect-free: `s2f repro` asks it before starting a Prefect server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    """This process's environment (as it is now) with BIN first on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def command(args: list[str]) -> list[str]:
    return [str(BIN / "dvc"), *args]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run dvc, its output captured."""
    return subprocess.run(command(args), cwd=cwd, env=env(), capture_output=True, text=True)


def changed(targets: list[str], cwd: Path) -> list[str]:
    """Stages that `dvc status` reports changed among `targets` and what they depend on (every stage without
    targets); raises RuntimeError with dvc's message when dvc status fails."""
    done = run(["status", "--json", *(["--with-deps", *targets] if targets else [])], cwd)
    if done.returncode != 0:
        raise RuntimeError(f"dvc status failed:\n{done.stderr or done.stdout}")
    return sorted(name.split(":")[-1] for name in json.loads(done.stdout or "{}"))
