"""Stage `synth`: render the synthetic talking-face corpus (parallel over clips)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import chunks, map_tasks, with_runner
from s2f.atomic import atomic_dir
from s2f.config import Params, SynthParams
from s2f.synth.corpus import ClipJob, plan_corpus, render_clip, write_index

# Clips per Prefect task: at most this many, and few enough that each worker gets about 4 tasks. One task per clip
# spent about 0.4 s of CPU a clip on Prefect's task bookkeeping, a third of what rendering it takes (docs/benchmarks.md,
# "The synth stage").
MAX_CLIPS_PER_TASK = 16


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE, task_run_name="render-{jobs[0].relpath}")
def render(jobs: list[ClipJob], p: SynthParams, root: Path) -> list[dict]:
    return [render_clip(job, p, root) for job in jobs]


@flow(name="synth", validate_parameters=False)
def synth_flow(params: Params) -> Path:
    """Render every clip into a staging folder, then swap it in as `paths.synth` (never a half corpus)."""
    log = get_run_logger()
    p = params.synth
    out = Path(params.paths.synth)
    jobs = plan_corpus(p)
    log.info("rendering %d clips (%d speakers x %d) of %.1f s at %d px into %s",
             len(jobs), p.speakers, p.clips_per_speaker, p.seconds, p.size, out)
    start = time.perf_counter()

    def fill(staging: Path) -> None:
        size = max(1, min(MAX_CLIPS_PER_TASK, math.ceil(len(jobs) / (4 * params.runner.workers))))
        rendered = map_tasks(render, chunks(jobs, size), p, staging, label="synth")
        write_index(p, staging, [row for rows in rendered for row in rows])

    atomic_dir(out, fill)
    elapsed = time.perf_counter() - start
    log.info("wrote %s: %d clips, meta.csv, attributes.parquet, transcripts.csv in %.1f s "
             "(%.2f s wall per clip with %d workers)", out, len(jobs), elapsed, elapsed / len(jobs),
             params.runner.workers)
    return out


def run(params: Params) -> Path:
    return with_runner(synth_flow, params)(params)
