"""Orchestration layer: Prefect flows (one per pipeline stage) and the `s2f` command line.

The flows are thin: they read params, fan work out as Prefect tasks and call the pure functions in `s2f`.
"""
