# ruff: noqa  (a probe, committed to be cited and removed in the next commit: docs/evaluation.md)
"""For saved models: real-dev gender agreement with the model as saved (recentred on clean train clips) and
recentred instead on augmented train clips (the train mean under the acoustic conditions training drew)."""
import sys, json
from pathlib import Path
import numpy as np, pandas as pd, torch
from real_windows import real_windows  # scripts/experiments/real_windows.py
sys.path.insert(0, str(Path.cwd()))
from s2f.predict import Predictor
from s2f.config import load_params
from s2f.models.data import load_voice_data
from s2f.models.augment import Augmentation, augment
from s2f.models.data import SpectrogramStream
from torch.utils.data import DataLoader
from s2f.real_voices import mean_pairwise_cosine
torch.set_num_threads(2)
REAL = Path("../shared/realdata")
table = pd.read_csv(REAL / "manifest.csv")
d = real_windows(); wins = {k: d[k] for k in d.files}
params = load_params("params.yaml")
data = load_voice_data(params.paths.face_features, params.paths.spectrograms, 2.0)
rows = {c: i for i, c in enumerate(data.train.ids)}
def train_mean(enc, aug, reps):
    enc.eval(); out = []
    with torch.no_grad():
        for r in range(reps):
            stream = SpectrogramStream(data.spectrograms, rows, "train", None, False, records=data.train_records)
            for b, (spec, _) in enumerate(DataLoader(stream, batch_size=64)):
                if aug is not None: spec = augment(spec, aug, 777 + 1000 * r + b)
                out.append(enc(spec.float()))
    return torch.cat(out).mean(0)
def score(P, shift):
    enc = P.encoder; res = {"f": [0, 0], "m": [0, 0]}; preds = []; pf = []
    with torch.no_grad():
        for f, g in zip(table.file, table.gender):
            raw = P.prediction(wins[f]) - shift
            preds.append((raw - enc.out_mean).reshape(-1).numpy())
            a = P.attributes(P.draw(P.feature(wins[f], raw)))
            res[g][1] += 1; res[g][0] += next(iter(a["gender"])) == g; pf.append(a["gender"].get("f", 0))
    return res, round(mean_pairwise_cosine(np.array(preds)), 3)
for md in sys.argv[1:]:
    md = Path(md); P = Predictor(md / "voice_encoder", md / "face_decoder", md / "attributes.json")
    clean = train_mean(P.encoder, None, 1)
    full = train_mean(P.encoder, Augmentation(0.5, 0.5, 0.5, 0.3, 0.3, 10.0), 2)
    print(md, "clean offset", float((clean - P.encoder.out_mean).norm()), "aug-clean", float((full - clean).norm()))
    print(" as saved", score(P, torch.zeros_like(clean)))
    print(" recentred on augmented", score(P, full - clean))
    print(" halfway", score(P, (full - clean) / 2))
