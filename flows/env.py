"""Process environment for Prefect and DVC: state inside the project, telemetry off. Import before prefect."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

DEFAULTS = {
    "PREFECT_HOME": str(PROJECT_ROOT / ".prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LOG_PRINTS": "true",
    "DVC_NO_ANALYTICS": "1",
}


def configure() -> None:
    """Set the defaults above unless the user already chose otherwise."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
