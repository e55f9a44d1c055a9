"""Process environment for Prefect and DVC: state inside the project, telemetry off. Import before prefect."""

from __future__ import annotations

import os
import platform
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

DEFAULTS = {
    "PREFECT_HOME": str(PROJECT_ROOT / ".prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LOG_PRINTS": "true",
    "DVC_NO_ANALYTICS": "1",
}


def blas_kernel(cpuinfo: str | None = None) -> dict[str, str]:
    """OpenBLAS (numpy's and scipy's) picks its matrix kernels by CPU, and the attribute classifiers the evaluate
    stage fits came out different under its AVX2 and AVX-512 kernels from the same inputs (docs/outputs.md). Pin
    the AVX2 one (`Haswell`) wherever the CPU has AVX2 and FMA, so such machines give the same bytes. OpenBLAS
    reads it when it loads: set before numpy is imported."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return {}
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return {}
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return {"OPENBLAS_CORETYPE": "Haswell"} if {"avx2", "fma"} <= set(flags) else {}


def configure() -> None:
    """Set the defaults above (and the OpenBLAS kernel) unless the user already chose otherwise."""
    for key, value in {**DEFAULTS, **blas_kernel()}.items():
        os.environ.setdefault(key, value)
