"""Stage `train_voice`: train the voice encoder against the frozen decoder, log with dvclive, save it; under
`torchrun`, in several processes (s2f/models/distributed.py)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from dvclive import Live
from prefect import flow, get_run_logger

from flows.common import with_runner
from flows.train_face import live_logger
from s2f.config import Params
from s2f.models.data import load_voice_data
from s2f.models.distributed import ranks
from s2f.models.store import ModelCard, save_model
from s2f.models.train_voice import train_voice_encoder
from s2f.models.zoo import load_decoder
from s2f.tables import dataset_version, read_meta


def train(params: Params, log: logging.Logger | logging.LoggerAdapter) -> Path | None:
    """The stage's work, in one process or in each of torchrun's (s2f/models/distributed.py); process 0 logs and
    writes the model, and returns its folder."""
    p, paths = params.voice_model, params.paths
    r = ranks()
    decoder, decoder_card = load_decoder(paths.face_decoder)
    data_version = f"{dataset_version(paths.spectrograms)}-{dataset_version(paths.face_features)}"
    data = load_voice_data(paths.face_features, paths.spectrograms, p.memory_gb)
    arch = p.architecture()
    network = {"only": "a head over the frozen speaker embedding",
               "concat": f"the {p.preset} network ({arch['arch']}) beside the frozen speaker embedding",
               "none": f"the {p.preset} network ({arch['arch']})"}[p.speaker]
    log.info("training the voice encoder, %s, on %d-frame crops of %s against %s (%s in memory)%s", network,
             arch["frames"], paths.spectrograms, paths.face_features,
             "train and val" if data.train_records and data.val_records else "not all",
             f"; process {r.rank} of {r.world}" if r.world > 1 else "")
    live = (Live(dir=paths.train_voice_reports, dvcyaml=None, save_dvc_exp=False, monitor_system=False) if r.main
            else contextlib.nullcontext())
    with live:
        encoder, metrics = train_voice_encoder(p, decoder.fc, data, data_version, paths.checkpoints,
                                               live_logger(live) if r.main else None)
        if r.main:
            live.summary.update(metrics)
    if not r.main:
        return None
    card = ModelCard(model="voice_encoder", arch=encoder.cfg.to_json(), preset=p.preset,
                     trained_on=trained_on(paths.spectrograms), params=p.model_dump(mode="json"),
                     params_hash=params.section_hash("voice_model"), data_version=data_version,
                     decoder=decoder_card.params_hash, metrics=metrics)
    out = save_model(encoder, card, paths.voice_encoder)
    scores = ", ".join(f"{k.removeprefix('val_')} {v:.1f}" for k, v in metrics.items() if k.startswith("val_R@")
                       or k.startswith("val_1:2"))
    log.info("wrote %s: val loss %.3f at epoch %d of %d (first epoch %.3f, train-mean baseline %.3f); val %s; drawn "
             "faces widened x%.2f to the train faces' spread", out, metrics["best_val_loss"], metrics["best_epoch"],
             metrics["epochs_run"], metrics["first_epoch_val_loss"], metrics["val_loss_mean_baseline"], scores,
             metrics["spread"])
    return out


@flow(name="train_voice", validate_parameters=False)
def train_voice_flow(params: Params) -> Path | None:
    return train(params, get_run_logger())


def trained_on(spectrograms: str) -> str:
    """The ingest source behind a spectrograms dataset (synth, folder, voxceleb2, avspeech), from its metadata."""
    return str(read_meta(spectrograms).get("params", {}).get("clips", {}).get("params", {}).get("ingest", {})
               .get("source", "unknown"))


def run(params: Params) -> Path | None:
    if not ranks().main:  # torchrun's other processes train beside process 0's flow, without Prefect
        return train(params, logging.getLogger("s2f.train_voice"))
    return with_runner(train_voice_flow, params)(params)
