"""cos of real dev clips under test-time manipulations. probe2.py ENCODER variant..."""
import subprocess, sys, tempfile
from pathlib import Path
import numpy as np, pandas as pd
ROOT = Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT))
from s2f.config import PredictParams
from s2f.predict import Predictor, read_speech, speech_window
from s2f.real_voices import mean_pairwise_cosine
rd = ROOT.parent / "shared" / "realdata"; t = pd.read_csv(rd / "manifest.csv"); pp = PredictParams()
P = Predictor(sys.argv[1], ROOT / "models" / "face_decoder", None)
SR = 16000
def filt(v):
    kind, k = v.split(":"); k = float(k)
    if kind == "res": return f"asetrate={SR*k:.0f},aresample={SR}"
    if kind == "pitch": return f"rubberband=pitch={k}:formant=preserved"
    if kind == "formant": return f"asetrate={SR*k:.0f},aresample={SR},rubberband=pitch={1/k:.5f}:tempo={1/k:.5f}:formant=preserved"
    if kind == "tempo": return f"atempo={k}"
    if kind == "lp": return f"lowpass=f={k}"
    if kind == "hp": return f"highpass=f={k}"
for v in sys.argv[2:]:
    off, g = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for f, gg in zip(t.file, t.gender):
            out = Path(tmp) / (Path(f).stem + ".wav")
            cmd = ["ffmpeg", "-v", "error", "-i", str(rd / f), "-ac", "1", "-ar", str(SR)]
            if v != "orig": cmd += ["-af", filt(v)]
            subprocess.run(cmd + [str(out)], check=True)
            try:
                s = speech_window(read_speech(out), pp.seconds, pp.min_seconds, pp.silence_db)
            except Exception:
                continue
            off.append((P.prediction(s.samples)[0] - P.encoder.out_mean).numpy()); g.append(gg)
    off = np.array(off); g = np.array(g)
    print(f"{v:14s} cos {mean_pairwise_cosine(off):.3f} women {mean_pairwise_cosine(off[g=='f']):.2f} men {mean_pairwise_cosine(off[g=='m']):.2f}", flush=True)
