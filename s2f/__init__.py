"""s2f: a reproducible Speech2Face pipeline (library layer: pure functions, no Prefect or DVC)."""

__version__ = "0.1.0"
