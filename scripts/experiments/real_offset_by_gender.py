# ruff: noqa  (a probe, committed to be cited and removed in the next commit: docs/evaluation.md)
"""Decompose the real-clip distinctness: within-gender, gender-imbalance share; synthetic test clips at the dev set's
gender mix for comparison."""
import sys, itertools
from pathlib import Path
import numpy as np, pandas as pd, torch
from real_windows import real_windows  # scripts/experiments/real_windows.py
sys.path.insert(0, ".")  # run from the repository root after make reproduce
from s2f.models.zoo import load_encoder
from s2f.audio.spectrogram import spectrogram
from s2f.models.data import split_records
torch.set_num_threads(2)
REAL = Path("../shared/realdata"); man = pd.read_csv(REAL / "manifest.csv")
d = real_windows()
files = [f for f in man.file if f in d.files]; g_real = np.array([man.set_index("file").gender[f] for f in files])
specs = torch.from_numpy(np.stack([spectrogram(d[f]) for f in files]))
clips = pd.read_parquet("data/processed/clips"); test = clips[clips.split == "test"]
gender = dict(zip(test.clip_id, test.gender))
recs = []
for f in sorted(Path("data/processed/spectrograms").glob("part-*.parquet")):
    recs += split_records(f, "test", set(test.clip_id))
    if len(recs) >= 300: break
tspecs = torch.from_numpy(np.stack([s.astype(np.float32) for _, s in recs])); g_syn = np.array([gender[c] for c, _ in recs])
def cos(X):
    X = X / np.linalg.norm(X, axis=1, keepdims=True); n = len(X); return float(((X.sum(0) ** 2).sum() - n) / (n * (n - 1)))
rng = np.random.default_rng(0)
for m in sys.argv[1:]:
    enc, _ = load_encoder(Path(m)); enc.eval()
    with torch.no_grad():
        R = (enc(specs) - enc.out_mean).numpy(); S = (enc(tspecs) - enc.out_mean).numpy()
    u = lambda v: v / np.linalg.norm(v)
    mf, mm = u(R[g_real == "f"].mean(0)), u(R[g_real == "m"].mean(0))
    sf, sm = u(S[g_syn == "f"].mean(0)), u(S[g_syn == "m"].mean(0))
    # synthetic at the dev mix: 12 women, 21 men, 50 draws
    mix = [cos(np.concatenate([S[rng.choice(np.flatnonzero(g_syn == "f"), 12, replace=False)],
                               S[rng.choice(np.flatnonzero(g_syn == "m"), 21, replace=False)]])) for _ in range(50)]
    print(m, f"real all {cos(R):.3f} women {cos(R[g_real=='f']):.3f} men {cos(R[g_real=='m']):.3f} "
          f"cos(mean f, mean m) {mf @ mm:.2f} | synth all {cos(S):.3f} at dev mix {np.mean(mix):.3f} "
          f"women {cos(S[g_syn=='f']):.3f} men {cos(S[g_syn=='m']):.3f} cos(f,m) {sf @ sm:.2f} | "
          f"real f vs synth f {mf @ sf:.2f}, real m vs synth m {mm @ sm:.2f} | norms real {np.linalg.norm(R,axis=1).mean():.3f} synth {np.linalg.norm(S,axis=1).mean():.3f}")
