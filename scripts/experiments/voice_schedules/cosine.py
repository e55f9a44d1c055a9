"""Train one ensemble with the learning rate annealed to ~0 over N epochs (cosine, stepped per epoch, as the default
exponential decay is) instead of decayed x0.95 an epoch with early stopping; each member keeps its best epoch on
val loss, as in train_voice. Saves .cache/experiments/models/seed{S}_cos{N} for val_eval.py.
usage: cosine.py SEED N"""

import json
import sys
import time
from pathlib import Path

import torch
import yaml

import s2f.models.train_voice as tv
from s2f.config import Params
from s2f.models.data import load_voice_data
from s2f.models.store import ModelCard, save_model
from s2f.models.zoo import load_decoder

seed, epochs = int(sys.argv[1]), int(sys.argv[2])
P = Params.model_validate(yaml.safe_load(open("params.yaml")))
p = P.voice_model.model_copy(update={"seed": seed, "epochs": epochs, "patience": epochs + 1})
paths = P.paths
init = tv.VoiceTrainer.__init__


def cosine_init(self, *args, **kwargs):
    init(self, *args, **kwargs)
    self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=epochs)


tv.VoiceTrainer.__init__ = cosine_init
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
