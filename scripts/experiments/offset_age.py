"""The real voices' shared offset against age (issue 40): head trials as scripts/experiments/head_trials.py of
commit fd34fe8 (without its heads option), each training's predictions also read by a ridge regression of age on
the train faces' features: the mean age of the real men's, the real women's and the val clips' predictions, the
cosine of the shared real offset with the age and gender directions, and its share of the offsets' energy. Run
from the repository root after `s2f repro train_face` and `s2f repro audio`:
  python scripts/experiments/offset_age.py OUT.json 'base:0,1,2,3,4,5:{}' 't2:0,1,2,3,4,5:{"tempo":2}'"""
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
out = {}
print("projection check", float((proj({}) - PROJ).abs().max()), flush=True)
for arg in sys.argv[2:]:
    name, seeds, js = arg.split(":", 2); over = json.loads(js)
    for s in map(int, seeds.split(",")):
        t1 = time.time()
        model, bl = train_one(over, s)
        om = model.out_mean.numpy()
        pr = run(model, real).numpy()
        sc = scores(run(model, val_whole).numpy(), pr, om); sc["val_loss"] = bl
        off = pr - om; shared = off.mean(0)
        sc["shared_share"] = float((shared ** 2).sum() / (off ** 2).sum(1).mean())  # |mean offset|^2 / mean |offset|^2
        sc["age_real"] = float(age_reg.predict(pr).mean()); sc["age_om"] = float(age_reg.predict(om[None])[0])
        sc["age_real_m"] = float(age_reg.predict(pr[real_g == "m"]).mean()); sc["age_real_f"] = float(age_reg.predict(pr[real_g == "f"]).mean())
        u = shared / np.linalg.norm(shared)
        sc["cos_shared_age"] = float(u @ age_dir); sc["cos_shared_gender"] = float(u @ g_dir)
        pv = run(model, val_whole).numpy()
        sc["age_val"] = float(age_reg.predict(pv).mean())
        out[f"{name}/s{s}"] = sc
        print(f"{name} s{s}", {k: round(v, 3) for k, v in sc.items()}, f"{time.time()-t1:.0f}s", flush=True)
        Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
