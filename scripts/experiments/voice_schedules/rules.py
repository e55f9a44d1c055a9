"""Train one ensemble with (epochs 25, patience 6), snapshotting every member every epoch; then build the models
each stopping rule (cap E, patience P) would have kept, widen each, save to .cache/experiments/models/seed{S}_E{E}_P{P}.
usage: rules.py SEED E,P [E,P ...]"""

import json
import sys
import time
from pathlib import Path

import torch
import yaml

import s2f.models.train_voice as tv
from s2f.config import Params
from s2f.models.data import SpectrogramStream, load_features, load_voice_data
from s2f.models.networks import VoiceEncoder, VoiceEnsemble
from s2f.models.spread import spread_factor
from s2f.models.store import ModelCard, save_model
from s2f.models.zoo import load_decoder

seed = int(sys.argv[1])
rules = [tuple(map(int, r.split(","))) for r in sys.argv[2:]]
P = Params.model_validate(yaml.safe_load(open("params.yaml")))
p = P.voice_model.model_copy(
    update={
        "seed": seed,
        "epochs": max(e for e, _ in rules),
        "patience": 99,
    }
)
paths = P.paths
snaps = []
orig = tv.VoiceTrainer.evaluate


def ev(self, model=None):
    out = orig(self, model)
    if model is None:
        snaps.append(([self.model.member_state(i) for i in range(self.p.members)], [o["val_loss"] for o in out]))
    return out


tv.VoiceTrainer.evaluate = ev
dec, _ = load_decoder(paths.face_decoder)
t = time.perf_counter()
data = load_voice_data(paths.face_features, paths.spectrograms, p.memory_gb)
ens, metrics = tv.train_voice_encoder(p, dec.fc, data, f"scratch{seed}", f".cache/experiments/ck{seed}")
print("trained", len(snaps), "epochs in %.0f s" % (time.perf_counter() - t), flush=True)
_, _, train_feats = load_features(paths.face_features, "train")
val_ids, _, val_feats = load_features(paths.face_features, "val")
width, frames = p.architecture()
val = SpectrogramStream(paths.spectrograms, dict(zip(val_ids, val_feats, strict=True)), "val", frames, False)
specs = torch.stack([s for s, _ in val])
for E, pat in rules:
    chosen = []
    for m in range(p.members):
        best, best_e, stale = float("inf"), 0, 0
        for e in range(E):
            if stale >= pat:
                break
            loss = snaps[e][1][m]
            if loss < best - 1e-6:
                best, best_e, stale = loss, e, 0
            else:
                stale += 1
        chosen.append(best_e)
    members = []
    for m, e in enumerate(chosen):
        enc = VoiceEncoder(ens.cfg)
        enc.load_state_dict(snaps[e][0][m])
        members.append(enc.eval())
    ensemble = VoiceEnsemble(members).eval()
    with torch.no_grad():
        pred = ensemble(specs).numpy()
    k = spread_factor(train_feats, pred, train_feats.mean(0))
    ensemble.spread.fill_(k)
    out = Path(f".cache/experiments/models/seed{seed}_E{E}_P{pat}")
    card = ModelCard(model="voice_encoder", arch=ensemble.cfg.to_json(), members=len(members),
                     params=p.model_dump(mode="json"), params_hash="experiment", data_version="experiment",
                     metrics={"chosen": chosen})
    save_model(ensemble, card, out)
    print(
        json.dumps(
            {
                "rule": [E, pat],
                "chosen_epochs": chosen,
                "epochs_needed": max(min(E, c + pat + 1) for c in chosen),
                "spread": round(k, 3),
            }
        ),
        flush=True,
    )
