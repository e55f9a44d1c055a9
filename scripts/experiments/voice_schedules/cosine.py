"""Train one ensemble with `voice_model.lr_schedule: cosine` (the learning rate annealed to 0 over N epochs, a step
each epoch) and no early stopping, the other params as in params.yaml; each member keeps its best epoch on val
loss, as in train_voice. Saves .cache/experiments/models/seed{S}_cos{N} for val_eval.py.
usage: cosine.py SEED N"""

import json
import sys
import time
from pathlib import Path

import yaml

import s2f.models.train_voice as tv
from s2f.config import Params
from s2f.models.data import load_voice_data
from s2f.models.store import ModelCard, save_model
from s2f.models.zoo import load_decoder

seed, epochs = int(sys.argv[1]), int(sys.argv[2])
P = Params.model_validate(yaml.safe_load(open("params.yaml")))
p = P.voice_model.model_copy(update={"seed": seed, "epochs": epochs, "patience": epochs + 1, "lr_schedule": "cosine"})
paths = P.paths
decoder, _ = load_decoder(paths.face_decoder)
start = time.perf_counter()
data = load_voice_data(paths.face_features, paths.spectrograms, p.memory_gb)
log = []
ensemble, metrics = tv.train_voice_encoder(p, decoder.fc, data, f"cosine{seed}-{epochs}",
                                           f".cache/experiments/ck-cos{seed}",
                                           lambda e, m: log.append({"epoch": e, **m}))
out = Path(f".cache/experiments/models/seed{seed}_cos{epochs}")
card = ModelCard(model="voice_encoder", arch=ensemble.cfg.to_json(), members=len(ensemble.members),
                 params=p.model_dump(mode="json"), params_hash="experiment", data_version="experiment",
                 metrics=metrics)
save_model(ensemble, card, out)
(out / "log.json").write_text(json.dumps(log))
print(json.dumps({"model": str(out), "seconds": round(time.perf_counter() - start),
                  "best_epochs": [1 + min((r for r in log if r["member"] == m), key=lambda r: r["val_loss"])["epoch"]
                                  for m in range(p.members)],
                  "ensemble_val_loss": metrics["ensemble_val_loss"]}), flush=True)
