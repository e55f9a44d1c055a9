# ruff: noqa  (a probe, committed to be cited and removed in the next commit: docs/evaluation.md)
"""Which face attributes the real clips' common offset carries: linear read-outs of attributes from face features
(fitted on train faces), applied to predictions on real clips and on synthetic test clips (by gender)."""
import sys
from pathlib import Path
import numpy as np, pandas as pd, torch
from real_windows import real_windows  # scripts/experiments/real_windows.py
sys.path.insert(0, ".")  # run from the repository root after make reproduce
from sklearn.linear_model import RidgeCV
from s2f.models.zoo import load_encoder
from s2f.audio.spectrogram import spectrogram
from s2f.models.data import split_records
torch.set_num_threads(2)
ff = pd.read_parquet("data/processed/face_features"); at = pd.read_parquet("data/raw/synth/attributes.parquet")
ff = ff.merge(at, on="speaker_id"); tr = ff[ff.split == "train"]
X = np.stack(tr.feature.to_numpy())
names = ["age", "face_width", "mouth_width", "nose_width", "skin_tone", "f0", "speed", "formant_scale", "nasal", "f2_scale"]
reg = {n: RidgeCV(alphas=[1e-3, 1e-2, 0.1, 1]).fit(X, tr[n].astype(float)) for n in names}
Xs_true = np.stack(ff[ff.split == "test"].feature.to_numpy())
REAL = Path("../shared/realdata"); man = pd.read_csv(REAL / "manifest.csv")
d = real_windows(); files = [f for f in man.file if f in d.files]
g_real = np.array([man.set_index("file").gender[f] for f in files])
specs = torch.from_numpy(np.stack([spectrogram(d[f]) for f in files]))
test = ff[ff.split == "test"]; gender = dict(zip(test.clip_id, test.gender))
recs = []
for f in sorted(Path("data/processed/spectrograms").glob("part-*.parquet")):
    recs += split_records(f, "test", set(test.clip_id))
    if len(recs) >= 300: break
tspecs = torch.from_numpy(np.stack([s.astype(np.float32) for _, s in recs])); g_syn = np.array([gender[c] for c, _ in recs])
for m in sys.argv[1:]:
    enc, _ = load_encoder(Path(m)); enc.eval()
    with torch.no_grad():
        R = enc(specs).numpy(); S = enc(tspecs).numpy()
    print(m)
    for n in names:
        r = reg[n].predict(R); s = reg[n].predict(S)
        print(f"  {n:14s} real f {r[g_real=='f'].mean():8.3f} m {r[g_real=='m'].mean():8.3f} | synth pred f {s[g_syn=='f'].mean():8.3f} m {s[g_syn=='m'].mean():8.3f} | sd synth {s.std():.3f}")
