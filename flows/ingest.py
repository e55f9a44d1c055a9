"""Stage `ingest`: list a source's clips, probe them in parallel shards, write the clip and rejects tables."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import chunks, map_tasks, with_runner
from s2f.config import Params
from s2f.ingest.probe import inspect_shard
from s2f.ingest.sources import Candidate, Reject, list_source
from s2f.ingest.table import SCHEMA_VERSION, build_tables
from s2f.tables import write_dataset


@task(retries=1, cache_policy=NO_CACHE)
def probe_shard(cands: list[Candidate], min_seconds: float) -> tuple[list[dict], list[Reject]]:
    return inspect_shard(cands, min_seconds)


@flow(name="ingest", validate_parameters=False)
def ingest_flow(params: Params) -> tuple[Path, Path]:
    log = get_run_logger()
    p, paths = params.ingest, params.paths
    cands, rejects = list_source(p.source, Path(paths.videos), Path(paths.videos_csv) if paths.videos_csv else None)
    log.info("source %s: %d candidate clips below %s (%d rejected before probing)",
             p.source, len(cands), paths.videos, len(rejects))
    rows = []
    for shard_rows, shard_rejects in map_tasks(probe_shard, chunks(cands, p.shard_size), p.min_seconds,
                                               label="ingest"):
        rows += shard_rows
        rejects += shard_rejects
    clips, rej = build_tables(p.source, rows, rejects, p.split, p.seed)
    meta = {"ingest": p.model_dump(mode="json"), "params_hash": params.section_hash("ingest")}
    clips_path = write_dataset([clips], paths.clips, dataset="clips", schema_version=SCHEMA_VERSION, params=meta)
    rej_path = write_dataset([rej], paths.clips_rejects, dataset="clips_rejects", schema_version=SCHEMA_VERSION,
                             params=meta)
    splits = Counter(clips.column("split").to_pylist())
    reasons = Counter(rej.column("reason").to_pylist())
    log.info("wrote %s: %d clips (%s) from %d speakers", clips_path, clips.num_rows, dict(sorted(splits.items())),
             len(set(clips.column("speaker_id").to_pylist())))
    log.info("wrote %s: %d rejects %s", rej_path, rej.num_rows, dict(reasons))
    return clips_path, rej_path


def run(params: Params) -> tuple[Path, Path]:
    return with_runner(ingest_flow, params)(params)
