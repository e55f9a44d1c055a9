"""Median F1-F3 (LPC) of the first N synthetic speakers (two sentences each) with the s2f code at CODE:
python scripts/experiments/synth_formants.py CODE N OUT.csv (trial A: F2CAL_f / F2CAL_m env on a copy of s2f whose
voice_file multiplies espeak-ng's formant 2 by them)."""
import sys
from pathlib import Path
import numpy as np, pandas as pd
sys.path.insert(0, str(Path(__file__).parent)); sys.path.insert(0, sys.argv[1])
from lpc_formants import formants
from s2f.synth.attributes import sample_speaker
from s2f.synth.voice import say, sentences, RATE
n = int(sys.argv[2]); out = sys.argv[3]
S = sentences()
rows = []
for i in range(n):
    sp = sample_speaker(0, i)
    texts = [S[(7 * i) % len(S)], S[(7 * i + 3) % len(S)]]
    x = np.concatenate(list(say(sp, texts))).astype(np.float64)
    r = formants(x, RATE, sp.gender == "f")
    if r is None:
        continue
    (f1, f2, f3), k = r
    rows.append(dict(i=i, gender=sp.gender, engine=sp.engine, variant=sp.variant, f0=sp.f0, fs=sp.formant_scale,
                     f2s=sp.f2_scale, mouth=sp.mouth_width, f1=f1, f2=f2, f3=f3, n=k))
d = pd.DataFrame(rows); d.to_csv(out, index=False)
print(d.groupby("gender")[["f1", "f2", "f3"]].median())
print(d.groupby(["gender", "engine"])[["f1", "f2", "f3"]].median())
