"""What the experiments' training scripts share: train one ensemble on the processed data with the given voice_model
params against params.yaml's face decoder, and save it with its per-epoch log for val_eval.py."""

import json
import time
from pathlib import Path

import yaml

import s2f.models.train_voice as tv
from s2f.config import Params, VoiceModelParams
from s2f.models.data import load_voice_data
from s2f.models.store import ModelCard, save_model
from s2f.models.zoo import load_decoder

PARAMS = Params.model_validate(yaml.safe_load(open("params.yaml")))


def train_and_save(p: VoiceModelParams, data_version: str, checkpoints: str, out: Path) -> tuple[dict, list[dict]]:
    """Train, save the ensemble in `out` (log.json: every epoch's metrics per member), print its one-line summary
    and return its metrics and the log."""
    paths = PARAMS.paths
    decoder, _ = load_decoder(paths.face_decoder)
    start = time.perf_counter()
    data = load_voice_data(paths.face_features, paths.spectrograms, p.memory_gb)
    log: list[dict] = []
    ensemble, metrics = tv.train_voice_encoder(p, decoder.fc, data, data_version, checkpoints,
                                               lambda e, m: log.append({"epoch": e, **m}))
    card = ModelCard(model="voice_encoder", arch=ensemble.cfg.to_json(), members=len(ensemble.members),
                     params=p.model_dump(mode="json"), params_hash="experiment", data_version="experiment",
                     metrics=metrics)
    save_model(ensemble, card, out)
    (out / "log.json").write_text(json.dumps(log))
    best_epochs = [1 + min((r for r in log if r["member"] == m), key=lambda r: r["val_loss"])["epoch"]
                   for m in range(p.members)]
    print(json.dumps({"model": str(out), "seconds": round(time.perf_counter() - start),
                      "epochs_run": metrics["epochs_run"], "best_epochs": best_epochs,
                      "ensemble_val_loss": metrics["ensemble_val_loss"]}), flush=True)
    return metrics, log
