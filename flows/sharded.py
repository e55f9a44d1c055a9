"""A stage that maps a shard function over the clip table, resumably (used by `faces` and `audio`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from flows.common import map_tasks
from s2f.shards import plan_shards, prune
from s2f.tables import read_dataset, read_meta


def run_sharded(task: Any, section: Any, name: str, clips: str, out: Any, label: str,
                version: int | None = None) -> Counter:
    """Plan shards of the clip table at `clips`, run `task(shard, section, out, meta)` on each (`out`: where the
    stage writes, with `.dirs`), prune stale parts. `version`, where given, goes into the shards' keys: a stage
    bumps it when its code writes other values, so parts left by older code are not taken as done."""
    log = get_run_logger()
    clips_path, dirs = Path(clips), out.dirs
    clips = read_dataset(clips_path)
    settings = section.model_dump(mode="json")
    meta = {name: settings, "clips": read_meta(clips_path)}
    shards = plan_shards(clips, section.shard_size, settings if version is None else {**settings, "version": version})
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    log.info("read %s: %d clips -> %d shards of up to %d", clips_path, len(clips), len(shards), section.shard_size)
    totals: Counter = Counter()
    for counts in map_tasks(task, shards, section, out, meta, label=label):
        totals.update(counts)
    pruned = prune(dirs, [s.key for s in shards])
    log.info("wrote %s (%d shards run, %d already done, %d stale files pruned)",
             ", ".join(map(str, dirs)), len(shards) - totals["skipped"], totals["skipped"], pruned)
    return totals
