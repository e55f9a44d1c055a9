"""Evaluation on held-out speakers: the paper's metrics, its baselines, the report, and the real-voice check
(inference itself is s2f/predict.py)."""
