"""A sharded stage run without Prefect, importing no more than the stage does (test_audio runs it in a fresh
interpreter, where tests.conftest would load the models, sklearn and mediapipe first)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from s2f.shards import plan_shards, prune
from s2f.tables import read_dataset


def run_stage(run_shard, section, clips: Path, out) -> Counter:
    """A sharded stage without Prefect: what flows/sharded.py does, one shard after another (`out`: the stage's
    FacesOutputs or AudioOutputs)."""
    settings = section.model_dump(mode="json")
    shards = plan_shards(read_dataset(clips), section.shard_size, settings)
    totals: Counter = Counter()
    for shard in shards:
        totals.update(run_shard(shard, section, out, {"test": settings}))
    prune(out.dirs, [s.key for s in shards])
    return totals
