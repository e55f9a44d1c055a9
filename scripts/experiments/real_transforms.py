"""Trial (issue 40): what in a real recording the voice encoder reads as age, and the rate `predict.tempo` reads
real speech at. Head trials as scripts/experiments/head_trials.py of commit fd34fe8 (the default encoder, one
head), each training's predictions for the dev clips of ../shared/realdata under a transform of the speech window
(pauses cut or gated to silence, low- and high-pass, white noise at 20 dB SNR, resampled 5% up or down, and the
speaker embedding's frames read at 0.9-1.25 times the rate as `speaker.stretch` does): distinctness (over all
clips and per source: news, VoxCeleb2-style, GRID), the gender proxy (a logistic regression on the train faces'
features) and the age a ridge regression on the train faces' features reads (men and women apart). Run from the
repository root after `s2f repro train_voice`:
  python scripts/experiments/real_transforms.py OUT.json SEEDS"""
import copy, json, sys, time
from pathlib import Path
sys.path.insert(0, ".")
import numpy as np, pandas as pd, torch
from sklearn.linear_model import LogisticRegression
from s2f import metrics as m
from s2f.audio.spectrogram import spectrogram
from s2f.config import PredictParams, load_params
from s2f.models.data import load_voice_data
from s2f.models.losses import voice_loss
from s2f.models.networks import EncoderConfig, VoiceEncoder
from s2f.models.speaker import mean_of
from s2f.models.train_voice import VoiceTrainer
from s2f.models.zoo import load_decoder
from s2f.predict import read_speech, speech_window
from s2f.real_voices import mean_pairwise_cosine as mpc
torch.set_num_threads(2)
params = load_params("params.yaml"); p0 = params.voice_model
dec, _ = load_decoder("models/face_decoder")
data = load_voice_data("data/processed/face_features", "data/processed/spectrograms", p0.memory_gb)
t0 = time.time(); tr = VoiceTrainer(p0, dec.fc, data); print("trainer init", round(time.time() - t0), "s", flush=True)
spk = tr.model.speaker
def embs(stream):
    out, rows = [], []
    with torch.no_grad():
        for spec, row in tr.loader(stream):
            out.append(spk(spec)); rows.append(row)
    return torch.cat(out), torch.cat(rows).numpy()
val_crop, val_rows = embs(tr.in_order("val", tr.cfg.frames))
val_whole, val_rows_w = embs(tr.in_order("val", None))
train_clean = torch.stack([mean_of(torch.from_numpy(pp))[0] for parts in data.train_records.partials.values() for pp in parts])
pp = PredictParams(); rd = Path("../shared/realdata"); man = pd.read_csv(rd / "manifest.csv")
real, real_g = [], []
WIN = []
with torch.no_grad():
    for f, g in zip(man.file, man.gender):
        try:
            s = speech_window(read_speech(rd / f), pp.seconds, pp.min_seconds, pp.silence_db)
        except Exception as e:
            print("skip", f, e); continue
        real.append(spk(torch.from_numpy(spectrogram(s.samples))[None])[0]); real_g.append(g); WIN.append(s)
real, real_g = torch.stack(real), np.array(real_g)
print("embeddings", round(time.time() - t0), "s", len(val_crop), len(train_clean), len(real), flush=True)
ff = pd.read_parquet("data/processed/face_features"); cl = pd.read_parquet("data/processed/clips")
ff = ff.merge(cl[["clip_id", "gender"]], on="clip_id"); ftr = ff[ff.split == "train"]
gclf = LogisticRegression(C=1.0, max_iter=2000).fit(np.stack(ftr.feature), ftr.gender)
from sklearn.linear_model import Ridge
att = pd.read_parquet("data/raw/synth/attributes.parquet")
ftr = ftr.merge(att[["speaker_id", "age"]], on="speaker_id")
age_reg = Ridge(alpha=1e-3).fit(np.stack(ftr.feature), ftr.age)
print("age R^2 on train faces", age_reg.score(np.stack(ftr.feature), ftr.age), flush=True)
age_dir = age_reg.coef_ / np.linalg.norm(age_reg.coef_); g_dir = gclf.coef_[0] / np.linalg.norm(gclf.coef_[0])
DUMMY = torch.zeros(1)
def run(model, e):
    model.eval()
    with torch.no_grad():
        return model(DUMMY, speaker=e)
from s2f.models.speaker import projection
VIEWS = tr.view_embeddings(spk, None)
STRETCHED = None
def proj(over):
    global STRETCHED
    if over.get("tempo") and STRETCHED is None:
        STRETCHED = tr.stretched_embeddings(spk)
    return projection(VIEWS, over.get("nuis", 8), over.get("keep", 0), STRETCHED if over.get("tempo") else None,
                      over.get("tempo", 0))
def train_one(over, seed):
    p = p0.model_copy(update={"seed": seed, **{k: v for k, v in over.items() if k in ("weight_decay", "dropout", "epochs", "lr")}})
    torch.manual_seed(seed)
    model = VoiceEncoder(EncoderConfig(**tr.cfg.__dict__))
    model.start_at(tr.mean_feature, torch.from_numpy(data.train.features.std(0) + 1e-6))
    model.projection.copy_(proj(over))
    model.speaker = spk
    tr.model = tr.net = model
    tr.opt = torch.optim.Adam(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    tr.sched = torch.optim.lr_scheduler.CosineAnnealingLR(tr.opt, T_max=p.epochs)
    tr.train_set.seed = seed; tr.p = p
    best, best_loss, idx, faces = None, 1e9, torch.from_numpy(val_rows), tr.val_faces
    for ep in range(p.epochs):
        tr.train_epoch(ep)
        loss = voice_loss(run(model, val_crop), faces.features[idx], faces.speaker[idx], tr.targets["val"], tr.weights)["loss"].item()
        if loss < best_loss - 1e-6:
            best_loss, best = loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    if over.get("rv"):  # recentred on every view (clean and augmented) of the train clips
        model.recentre(run(model, VIEWS.reshape(-1, VIEWS.shape[-1])).mean(0))
    else:
        model.recentre(run(model, train_clean).mean(0))
    return model, best_loss
PROJ = tr.model.projection.clone()
def scores(pv, pr, om):
    names = sorted(set(tr.val_faces.speakers)); fcs = tr.val_faces.faces.numpy()
    ids = [tr.val_faces.speakers[r] for r in val_rows_w]
    hits = m.query_hits(m.normalize(pv), ids, fcs, names, 100, "cosine", 20, 0, (1, 10))
    g = gclf.predict(pr / np.linalg.norm(pr, axis=1, keepdims=True))
    return {"R1": 100 * hits[:, 0].mean(), "R10": 100 * hits[:, 1].mean(), "1:2": 100 * m.matching(pv, ids, fcs, names),
            "cos": mpc(pr - om), "women": int(((g == "f") & (real_g == "f")).sum()),
            "men": int(((g == "m") & (real_g == "m")).sum())}

from s2f.audio.speech import frame_rms, FRAME
from s2f.audio.spectrogram import tile_to
from s2f.predict import read_speech as rs
from scipy.signal import butter, sosfilt, resample_poly
L = 96000
def untrimmed(s):  # speech window as is
    return s.samples
def no_pauses(s, db=-30):
    x = s.samples; rms = frame_rms(x); keep = rms > rms.max() * 10 ** (db / 20)
    fr = [x[i * FRAME:(i + 1) * FRAME] for i in np.flatnonzero(keep)]
    return tile_to(np.concatenate(fr), L)
def lowpass(s, hz=4000):
    return sosfilt(butter(8, hz, fs=16000, output="sos"), s.samples).astype(np.float32)
def highpass(s, hz=300):
    return sosfilt(butter(4, hz, btype="high", fs=16000, output="sos"), s.samples).astype(np.float32)
def noise(s, snr=20):
    rng = np.random.default_rng(0); x = s.samples; p = (x ** 2).mean()
    return (x + rng.normal(0, np.sqrt(p / 10 ** (snr / 10)), len(x))).astype(np.float32)
def shift(s, up, down):  # resample: pitch, formants and rate by up/down
    return tile_to(resample_poly(s.samples, down, up).astype(np.float32), L)
def gate(s, db=-35):  # frames far below the peak set to zero (digital silence, as the synthesiser's pauses)
    x = s.samples.copy(); rms = frame_rms(x); quiet = rms <= rms.max() * 10 ** (db / 20)
    for i in np.flatnonzero(quiet): x[i * FRAME:(i + 1) * FRAME] = 0
    return x
TR = {"none": untrimmed, "no_pauses": no_pauses, "gate35": gate, "lowpass4k": lowpass, "highpass300": highpass,
      "noise20": noise, "up5pct": lambda s: shift(s, 20, 21), "down5pct": lambda s: shift(s, 21, 20)}
EMB = {}
with torch.no_grad():
    for k, f in TR.items():
        EMB[k] = torch.stack([spk(torch.from_numpy(spectrogram(f(s)))[None])[0] for s in WIN])
    for t in (0.9, 1.05, 1.1, 1.15, 1.2, 1.25):
        EMB[f"tempo{t}"] = torch.stack([mean_of(spk.partials(torch.from_numpy(spectrogram(s.samples))[None], t))[0] for s in WIN])
print("transform embeddings done", round(time.time() - t0), flush=True)
grp = np.array([f.split("/")[-1][:3] for f in man.file])[:len(WIN)]
grp = np.array(["news" if int(g[1:]) <= 6 else "vox" if int(g[1:]) <= 20 else "grid" for g in grp])
out = {}
for s in range(int(sys.argv[2]) if len(sys.argv) > 2 else 3):
    model, bl = train_one({}, s); om = model.out_mean.numpy()
    for k, e in EMB.items():
        pr = run(model, e).numpy(); off = pr - om
        g = gclf.predict(pr / np.linalg.norm(pr, axis=1, keepdims=True))
        r = {"cos": mpc(off), "R_age_sd": float(age_reg.predict(pr).std()), "age_m": float(age_reg.predict(pr[real_g == "m"]).mean()),
             "age_f": float(age_reg.predict(pr[real_g == "f"]).mean()),
             "women": int(((g == "f") & (real_g == "f")).sum()), "men": int(((g == "m") & (real_g == "m")).sum()),
             **{f"cos_{gg}": mpc(off[grp == gg]) for gg in ("news", "vox", "grid")}}
        out[f"s{s}/{k}"] = r
        print(f"s{s} {k:12s}", {a: round(b, 3) for a, b in r.items()}, flush=True)
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
