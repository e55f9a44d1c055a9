"""Evaluation on held-out speakers: the paper's metrics, its baselines, the report, and inference."""
