# ruff: noqa  (a probe, committed to be cited and removed in the next commit: docs/evaluation.md)
"""Probe: resample the real dev windows by a factor (formants, pitch and tempo x a) and see distinctness and read-outs."""
import sys
from pathlib import Path
import numpy as np, pandas as pd, torch
from real_windows import real_windows  # scripts/experiments/real_windows.py
sys.path.insert(0, ".")  # run from the repository root after make reproduce
from sklearn.linear_model import RidgeCV
from s2f.models.zoo import load_encoder
from s2f.audio.spectrogram import spectrogram
torch.set_num_threads(2)
ff = pd.read_parquet("data/processed/face_features"); at = pd.read_parquet("data/raw/synth/attributes.parquet")
ff = ff.merge(at, on="speaker_id"); tr = ff[ff.split == "train"]; X = np.stack(tr.feature.to_numpy())
names = ["age", "mouth_width", "skin_tone", "face_width"]
reg = {n: RidgeCV(alphas=[1e-3, 1e-2, 0.1, 1]).fit(X, tr[n].astype(float)) for n in names}
man = pd.read_csv("../shared/realdata/manifest.csv"); d = real_windows()
files = [f for f in man.file if f in d.files]; g = np.array([man.set_index("file").gender[f] for f in files])
enc, _ = load_encoder(Path(sys.argv[1])); enc.eval()
def cos(X):
    X = X / np.linalg.norm(X, axis=1, keepdims=True); n = len(X); return float(((X.sum(0) ** 2).sum() - n) / (n * (n - 1)))
for a in [float(x) for x in sys.argv[2:]]:
    specs = []
    for f in files:
        w = d[f].astype(np.float64); n = len(w)
        t = np.arange(0, n - 1, a); y = np.interp(t, np.arange(n), w)  # a>1: shorter, everything x a in frequency
        y = np.resize(y, n) if len(y) < n else y[:n]
        specs.append(spectrogram(y.astype(np.float32)))
    with torch.no_grad():
        R = enc(torch.from_numpy(np.stack(specs))).numpy()
    off = R - enc.out_mean.numpy()
    ro = {n: (round(float(reg[n].predict(R)[g == 'f'].mean()), 2), round(float(reg[n].predict(R)[g == 'm'].mean()), 2)) for n in names}
    print(a, "cos", round(cos(off), 3), "f", round(cos(off[g == 'f']), 2), "m", round(cos(off[g == 'm']), 2), ro, flush=True)
