"""Train one ensemble (voice_model as in params.yaml, seed SEED) with the input pooled over POOL frames in time
(S2F_TIME_POOL, default 2; 1 is the default encoder). Saves .cache/experiments/models/pool{POOL}_seed{SEED} for
score.py. usage: train.py SEED"""

import json
import sys
import time
from pathlib import Path

import yaml
from pooled import POOL, patch

patch()

import s2f.models.train_voice as tv  # noqa: E402
from s2f.config import Params  # noqa: E402
from s2f.models.data import load_voice_data  # noqa: E402
from s2f.models.store import ModelCard, save_model  # noqa: E402
from s2f.models.zoo import load_decoder  # noqa: E402

seed = int(sys.argv[1])
P = Params.model_validate(yaml.safe_load(open("params.yaml")))
p = P.voice_model.model_copy(update={"seed": seed})
paths = P.paths
decoder, _ = load_decoder(paths.face_decoder)
start = time.perf_counter()
data = load_voice_data(paths.face_features, paths.spectrograms, p.memory_gb)
log = []
name = f"pool{POOL}_seed{seed}"
ensemble, metrics = tv.train_voice_encoder(p, decoder.fc, data, name, f".cache/experiments/ck-{name}",
                                           lambda e, m: log.append({"epoch": e, **m}))
out = Path(f".cache/experiments/models/{name}")
card = ModelCard(model="voice_encoder", arch=ensemble.cfg.to_json(), members=len(ensemble.members),
                 params=p.model_dump(mode="json"), params_hash="experiment", data_version="experiment",
                 metrics=metrics)
save_model(ensemble, card, out)
(out / "log.json").write_text(json.dumps(log))
print(json.dumps({"model": str(out), "seconds": round(time.perf_counter() - start),
                  "epochs_run": metrics["epochs_run"], "ensemble_val_loss": metrics["ensemble_val_loss"]}), flush=True)
