"""Stage `train_face`: train the face decoder (with its patch GAN), log with dvclive, save it frozen."""

from __future__ import annotations

from pathlib import Path

from dvclive import Live
from prefect import flow, get_run_logger

from flows.common import with_runner
from s2f.config import Params
from s2f.images import write_png
from s2f.models.store import ModelCard, save_model
from s2f.models.train_face import comparison_grid, load_face_data, train_face_decoder
from s2f.tables import dataset_version


def live_logger(live: Live):
    """An on_epoch callback that writes every metric as a dvclive step."""
    def log(epoch: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            live.log_metric(name, value)
        live.next_step()
    return log


@flow(name="train_face", validate_parameters=False)
def train_face_flow(params: Params) -> Path:
    log = get_run_logger()
    p, paths = params.face_model, params.paths
    data = load_face_data(paths.faces, p.size)
    log.info("read %s: %s face crops by split", paths.faces, {k: len(v.speakers) for k, v in data.items()})
    with Live(dir=paths.train_face_reports, dvcyaml=None, save_dvc_exp=False, monitor_system=False) as live:
        decoder, metrics = train_face_decoder(p, data, live_logger(live))
        live.summary.update(metrics)
    grid = write_png(comparison_grid(decoder, data["val"]), Path(paths.train_face_reports) / "val_grid.png")
    card = ModelCard(model="face_decoder", arch=decoder.cfg.to_json(), params=p.model_dump(mode="json"),
                     params_hash=params.section_hash("face_model"), data_version=dataset_version(paths.faces),
                     metrics=metrics)
    out = save_model(decoder, card, paths.face_decoder)
    log.info("wrote %s (val L1 %.4f, identity top-1 %.2f) and %s", out, metrics.get("val_l1", float("nan")),
             metrics.get("val_identity_top1", float("nan")), grid)
    return out


def run(params: Params) -> Path:
    return with_runner(train_face_flow, params)(params)
