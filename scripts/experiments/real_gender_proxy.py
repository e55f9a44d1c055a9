"""Real dev: distinctness and a gender proxy (logistic regression on train face features, applied to the widened
predicted feature). gender_proxy.py ENCODER..."""
import sys
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
ROOT = Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT))
from s2f.config import PredictParams
from s2f.predict import Predictor, read_speech, speech_window
from s2f.real_voices import mean_pairwise_cosine
ff = pd.read_parquet(str(ROOT) + "/data/processed/face_features"); cl = pd.read_parquet(str(ROOT) + "/data/processed/clips")
ff = ff.merge(cl[["clip_id", "gender"]], on="clip_id")
tr = ff[ff.split == "train"]
clf = LogisticRegression(C=1.0, max_iter=2000).fit(np.stack(tr.feature), tr.gender)
va = ff[ff.split == "val"]; print("val acc on true faces", clf.score(np.stack(va.feature), va.gender))
rd = ROOT.parent / "shared" / "realdata"; t = pd.read_csv(rd / "manifest.csv"); pp = PredictParams()
for enc in sys.argv[1:]:
    P = Predictor(enc, ROOT / "models" / "face_decoder", None)
    off, g, feats = [], [], []
    for f, gg in zip(t.file, t.gender):
        try:
            s = speech_window(read_speech(rd / f), pp.seconds, pp.min_seconds, pp.silence_db)
        except Exception:
            continue
        raw = P.prediction(s.samples)
        off.append((raw[0] - P.encoder.out_mean).numpy()); g.append(gg); feats.append(P.feature(s.samples, raw))
    off = np.array(off); g = np.array(g); pred = clf.predict(np.stack(feats).reshape(len(feats), -1))
    print(enc, f"cos {mean_pairwise_cosine(off):.3f} | proxy women {np.sum((g=='f')&(pred=='f'))}/{np.sum(g=='f')} men {np.sum((g=='m')&(pred=='m'))}/{np.sum(g=='m')}", flush=True)
