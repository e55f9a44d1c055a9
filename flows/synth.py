"""Stage `synth`: render the synthetic talking-face corpus (parallel over clips)."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import map_tasks, with_runner
from s2f.atomic import atomic_dir
from s2f.config import Params, SynthParams
from s2f.synth.corpus import ClipJob, plan_corpus, render_clip, write_index


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE, task_run_name="render-{job.relpath}")
def render(job: ClipJob, p: SynthParams, root: Path) -> dict:
    return render_clip(job, p, root)


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
        write_index(p, staging, map_tasks(render, jobs, p, staging, label="synth"))

    atomic_dir(out, fill)
    elapsed = time.perf_counter() - start
    log.info("wrote %s: %d clips, meta.csv, attributes.parquet, transcripts.csv in %.1f s "
             "(%.2f s wall per clip with %d workers)", out, len(jobs), elapsed, elapsed / len(jobs),
             params.runner.workers)
    return out


def run(params: Params) -> Path:
    return with_runner(synth_flow, params)(params)
