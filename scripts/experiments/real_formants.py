"""Median F1-F3 (LPC) of the shared real clips, per gender: python scripts/experiments/real_formants.py (writes real_formants.csv)."""
import sys, json
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, str(Path(__file__).parent))
from lpc_formants import load, formants
rd = str(Path(__file__).resolve().parents[3] / "shared" / "realdata")
t = pd.read_csv(f"{rd}/manifest.csv")
rows = []
for f, g, s in zip(t.file, t.gender, t.speaker_id):
    x, sr = load(f"{rd}/{f}")
    r = formants(x, sr, g == "f")
    if r is None:
        continue
    (f1, f2, f3), n = r
    rows.append(dict(file=f, speaker=s, gender=g, f1=f1, f2=f2, f3=f3, n=n))
d = pd.DataFrame(rows)
d.to_csv("real_formants.csv", index=False)
print(d.groupby("gender")[["f1", "f2", "f3", "n"]].median())
print(d.groupby("gender")[["f1", "f2", "f3"]].quantile([0.25, 0.75]))
