"""Stage `reproduce` (`make reproduce`): train both models again from other seeds, evaluate each run on the same
test queries, and write the headline metrics over all runs with intervals over seeds and test speakers (seeds.json
and the report's section on them)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger

from flows import evaluate, train_face, train_voice
from flows.common import with_runner
from s2f.catalog import METRICS_JSON, PER_QUERY, SEEDS, check_paths
from s2f.config import Params, for_run
from s2f.errors import InputError
from s2f.evaluate.report import render_report
from s2f.evaluate.results import EvaluationResults
from s2f.evaluate.seeds import seed_results


@flow(name="reproduce", validate_parameters=False)
def reproduce_flow(params: Params) -> Path:
    log = get_run_logger()
    runs = [for_run(params, k) for k in range(params.reproduce.runs)]
    for k, p in enumerate(runs[1:], 1):
        log.info("run %d of %d: face seed %d, voice seed %d, into %s", k + 1, len(runs), p.face_model.seed,
                 p.voice_model.seed, Path(p.paths.reports).parent)
        for stage in (train_face.train_face_flow, train_voice.train_voice_flow, evaluate.evaluate_flow):
            check_paths(p, stage.name)
            stage(p)
    tables = []
    for p in runs:
        path = Path(p.paths.reports) / PER_QUERY
        if not path.is_file():
            raise InputError(f"{path} not found: run the evaluate stage first (`make run`)")
        tables.append(pd.read_csv(path, dtype={"length": str, "method": str, "clip_id": str, "speaker_id": str}))
    seeds = [{"face_model": p.face_model.seed, "voice_model": p.voice_model.seed} for p in runs]
    made = EvaluationResults.read(Path(params.paths.reports) / METRICS_JSON).fingerprint()  # run 1's
    out = seed_results(tables, seeds, seed=params.evaluate.seed, evaluation=made).write(
        Path(params.paths.reports) / SEEDS)
    log.info("wrote %s: %d runs; the report's seeds section in %s", out, len(runs),
             render_report(params.paths.reports))
    return out


def run(params: Params) -> Path:
    return with_runner(reproduce_flow, params)(params)
