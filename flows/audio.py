"""Stage `audio`: the paper's spectrograms of every clip's speech, in resumable shards."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.common import with_runner
from flows.sharded import run_sharded
from s2f.audio.stage import AudioOutputs, run_shard
from s2f.config import AudioParams, Params
from s2f.shards import Shard


@task(retries=1, cache_policy=NO_CACHE, task_run_name="audio-{shard.key}")
def audio_shard(shard: Shard, p: AudioParams, out: AudioOutputs, meta: dict[str, Any]) -> dict[str, Any]:
    return run_shard(shard, p, out, meta)


@flow(name="audio", validate_parameters=False)
def audio_flow(params: Params) -> dict[str, Any]:
    out = AudioOutputs(spectrograms=params.paths.spectrograms, rejects=params.paths.audio_rejects)
    totals = run_sharded(audio_shard, params.audio, "audio", params.paths.clips, out, label="audio")
    get_run_logger().info("%d spectrogram segments, %d rejects", totals["segments"], totals["rejects"])
    return dict(totals)


def run(params: Params) -> dict[str, Any]:
    return with_runner(audio_flow, params)(params)
