"""Trial (issue 40): synthesiser-signature directions projected out of the speaker embedding beside the channel
ones: the top principal directions of the timbres' mean clean train embeddings (each espeak-ng variant and
festival voice, within each gender, minus the gender's mean, weighted by the square root of its clips), which
carry no face (the corpus draws the timbre independently of the face). Head trials as
scripts/experiments/head_trials.py of commit fd34fe8 (one head), plus the share of the real dev clips' mean
offset from the train clips (in the embedding) that lies in those directions and in the channel ones. Run from
the repository root after `s2f repro train_voice`:
  python scripts/experiments/timbre_trials.py OUT.json 'def:0,1,2,3,4,5:{}' 't2:0,1,2,3,4,5:{"timbre":2}'"""
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
import os
import s2f.models.speaker as S
SLOW = [float(os.environ.get("SLOW", "1.0"))]  # synthetic clips spoken this many times as fast (emulates a slower corpus)
_orig = S.SpeakerEmbedding.partials
def _patched(self, spec, tempo=1.0):
    return _orig(self, spec, tempo * SLOW[0])
S.SpeakerEmbedding.partials = _patched
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
SLOW[0] = 1.0  # real clips as they are
with torch.no_grad():
    for f, g in zip(man.file, man.gender):
        try:
            s = speech_window(read_speech(rd / f), pp.seconds, pp.min_seconds, pp.silence_db)
        except Exception as e:
            print("skip", f, e); continue
        real.append(spk(torch.from_numpy(spectrogram(s.samples))[None])[0]); real_g.append(g)
real, real_g = torch.stack(real), np.array(real_g)
print("embeddings", round(time.time() - t0), "s", len(val_crop), len(train_clean), len(real), flush=True)
ff = pd.read_parquet("data/processed/face_features"); cl = pd.read_parquet("data/processed/clips")
ff = ff.merge(cl[["clip_id", "gender"]], on="clip_id"); ftr = ff[ff.split == "train"]
gclf = LogisticRegression(C=1.0, max_iter=2000).fit(np.stack(ftr.feature), ftr.gender)
DUMMY = torch.zeros(1)
def run(model, e):
    model.eval()
    with torch.no_grad():
        return model(DUMMY, speaker=e)
from s2f.models.speaker import projection
VIEWS = tr.view_embeddings(spk, None)
STRETCHED = None
CLIPS = [clip for recs in data.train_records.by_file.values() for clip, _ in recs]
cl_all = pd.read_parquet("data/processed/clips"); att = pd.read_parquet("data/raw/synth/attributes.parquet")
spk_of = dict(zip(cl_all.clip_id, cl_all.speaker_id)); att = att.set_index("speaker_id")
VAR = np.array([att.loc[spk_of[c], "variant"] for c in CLIPS]); GEN = np.array([att.loc[spk_of[c], "gender"] for c in CLIPS])
ENG = np.array([att.loc[spk_of[c], "engine"] for c in CLIPS])
print("clips", len(CLIPS), len(VIEWS), dict(zip(*np.unique(ENG, return_counts=True))), flush=True)
def timbre_dirs(k, allviews=False):
    E = (VIEWS if allviews else VIEWS[:, :1]).double()
    rows = []
    for g in np.unique(GEN):
        gm = E[GEN == g].reshape(-1, E.shape[-1]).mean(0)
        for v in np.unique(VAR[GEN == g]):
            sel = (GEN == g) & (VAR == v)
            rows.append(np.sqrt(sel.sum()) * (E[sel].reshape(-1, E.shape[-1]).mean(0) - gm))
    return torch.linalg.svd(torch.stack(rows), full_matrices=False)[2][:k]
def proj(over):
    global STRETCHED
    if over.get("timbre"):
        base = projection(VIEWS, over.get("nuis", 8), 0).double()
        dirs = timbre_dirs(over["timbre"], over.get("tall", False))
        chan = torch.linalg.svd((VIEWS[:, 1:] - VIEWS[:, :1]).reshape(-1, VIEWS.shape[-1]).double(), full_matrices=False)[2][:over.get("nuis", 8)]
        basis, _ = torch.linalg.qr(torch.cat([chan, dirs]).T)
        return (torch.eye(VIEWS.shape[-1], dtype=torch.float64) - basis @ basis.T).float()
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
out = {}
delta = (real.double().mean(0) - train_clean.double().mean(0))
for k in (1, 2, 4, 8, 16):
    d = timbre_dirs(k); print("timbre", k, "share of real offset^2 in span:", round(float(((d @ delta) ** 2).sum() / (delta ** 2).sum()), 3), flush=True)
chan = torch.linalg.svd((VIEWS[:, 1:] - VIEWS[:, :1]).reshape(-1, VIEWS.shape[-1]).double(), full_matrices=False)[2][:8]
print("channel 8 share:", round(float(((chan @ delta) ** 2).sum() / (delta ** 2).sum()), 3))
eng = train_clean.double()[ENG == "festival"].mean(0) - train_clean.double()[ENG == "espeak"].mean(0)
print("cos(real offset, festival-espeak):", round(float(delta @ eng / delta.norm() / eng.norm()), 3), flush=True)
print("projection check", float((proj({}) - PROJ).abs().max()), flush=True)
for arg in sys.argv[2:]:
    name, seeds, js = arg.split(":", 2); over = json.loads(js)
    for s in map(int, seeds.split(",")):
        t1 = time.time()
        model, bl = train_one(over, s)
        om = model.out_mean.numpy()
        sc = scores(run(model, val_whole).numpy(), run(model, real).numpy(), om); sc["val_loss"] = bl
        out[f"{name}/s{s}"] = sc
        print(f"{name} s{s}", {k: round(v, 3) for k, v in sc.items()}, f"{time.time()-t1:.0f}s", flush=True)
        Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
