"""Stage `faces`: detect, choose, align and describe the speaker's face in every clip, in resumable shards."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import with_runner
from flows.sharded import run_sharded
from s2f.config import FacesParams, Params
from s2f.faces.stage import SCHEMA_VERSION, FacesOutputs, run_shard
from s2f.shards import Shard


@task(retries=1, cache_policy=NO_CACHE, task_run_name="faces-{shard.key}")
def faces_shard(shard: Shard, p: FacesParams, out: FacesOutputs, meta: dict[str, Any]) -> dict[str, Any]:
    return run_shard(shard, p, out, meta)


@flow(name="faces", validate_parameters=False)
def faces_flow(params: Params) -> dict[str, Any]:
    paths = params.paths
    out = FacesOutputs(faces=paths.faces, features=paths.face_features, rejects=paths.faces_rejects)
    totals = run_sharded(faces_shard, params.faces, "faces", paths.clips, out, label="faces", version=SCHEMA_VERSION)
    drops = {k.removeprefix("drop "): v for k, v in totals.items() if k.startswith("drop ")}
    get_run_logger().info("%d clips with a face feature, %d rejects; frames: %d decoded, %d kept, dropped %s; "
                          "seconds detect %.1f, align %.1f, measure %.1f, descriptor %.1f", totals["features"],
                          totals["rejects"], totals["frames"], totals["kept"], drops, totals["s_detect"],
                          totals["s_align"], totals["s_measure"], totals["s_descriptor"])
    return dict(totals)


def run(params: Params) -> dict[str, Any]:
    return with_runner(faces_flow, params)(params)
