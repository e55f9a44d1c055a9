"""Raw resemblyzer embeddings (before the model's projection) of the synthetic train/val/test clips and the real dev
clips, as predict computes them; saved to the .npz named by the first argument (python scripts/experiments/real_embeddings.py OUT.npz)."""
import sys
from pathlib import Path
import numpy as np, pandas as pd, torch
sys.path.insert(0, ".")
from s2f.config import PredictParams
from s2f.predict import read_speech, speech_window
from s2f.audio.spectrogram import spectrogram
from s2f.models.zoo import load_encoder
torch.set_num_threads(2)
enc, _ = load_encoder("models/voice_encoder")
p = PredictParams()
def emb(path):
    s = speech_window(read_speech(path), p.seconds, p.min_seconds, p.silence_db)
    with torch.no_grad():
        return enc.speaker(torch.from_numpy(spectrogram(s.samples))[None])[0].numpy()
rd = Path("../shared/realdata"); t = pd.read_csv(rd / "manifest.csv")
out = {}
E, G = [], []
for f, g in zip(t.file, t.gender):
    try: E.append(emb(rd / f)); G.append(g)
    except Exception as e: print("skip", f, e)
out["real"] = np.array(E); out["real_g"] = np.array(G)
c = pd.read_parquet("data/processed/clips")
for split, n in (("train", 600), ("val", 150), ("test", 300)):
    s = c[c.split == split].sort_values("clip_id").head(n)
    out[split] = np.array([emb(x) for x in s.path]); out[split + "_g"] = s.gender.values
    out[split + "_spk"] = s.speaker_id.values; out[split + "_clip"] = s.clip_id.values
    print(split, len(s), flush=True)
np.savez(sys.argv[1], **out)
