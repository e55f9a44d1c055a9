"""Head trials (issue 40): one VoiceTrainer on make run's data (the views embedded once), then many trainings of the head
alone over those cached views, seeds x settings, each scored on val and on the real dev clips (distinctness and a
gender proxy: a logistic regression on the train faces' features applied to the predicted feature). Run from the
repository root after make run and real_embeddings.py:
  python scripts/experiments/head_trials.py OUT.json EMB.npz 0,1,2,3,4,5 'base={}' 'n8t={"perts":["t0.9","t1.1"],"prank":2}'
A setting: voice_model keys (weight_decay, dropout...), nuis (channel directions), perts (tempo t0.9/t1.1 and
frequency-scale f0.95/f1.05 shifts whose top prank directions are projected out beside them)."""
import json, sys, time, copy
sys.path.insert(0, ".")
import numpy as np, torch, pandas as pd
from sklearn.linear_model import LogisticRegression
from s2f.config import load_params
from s2f.models.data import load_voice_data
from s2f.models.zoo import load_decoder
from s2f.models.train_voice import VoiceTrainer, SplitFaces
from s2f.models.networks import VoiceEncoder, EncoderConfig
from s2f.models.speaker import mean_of
from s2f.models.losses import voice_loss
from s2f.real_voices import mean_pairwise_cosine as mpc
from s2f import metrics as m
torch.set_num_threads(2)
R = "."
params = load_params(f"{R}/params.yaml")
p0 = params.voice_model
dec, _ = load_decoder(f"{R}/models/face_decoder")
data = load_voice_data(f"{R}/data/processed/face_features", f"{R}/data/processed/spectrograms", p0.memory_gb)
t0 = time.time()
tr = VoiceTrainer(p0, dec.fc, data)
print("trainer init", round(time.time() - t0), "s", flush=True)
spk = tr.model.speaker
def embs(stream):
    out, rows = [], []
    with torch.no_grad():
        for spec, row in tr.loader(stream):
            out.append(spk(spec)); rows.append(row)
    return torch.cat(out), torch.cat(rows).numpy()
t0 = time.time()
val_crop, val_rows = embs(tr.in_order("val", tr.cfg.frames))
val_whole, val_rows_w = embs(tr.in_order("val", None))
train_clean = torch.stack([mean_of(torch.from_numpy(pp))[0] for parts in data.train_records.partials.values() for pp in parts])
# --- perturbation embeddings of the train clips (tempo: time axis; fscale: frequency axis), clean otherwise
import torch.nn.functional as F
from s2f.audio.spectrogram import bin_power
from s2f.models.speaker import partial_starts, PARTIAL, WINDOW_ENERGY, LEVEL_DBFS, projection
from s2f.audio.spectrogram import NFFT
def pert_emb(spec, tempo=1.0, fscale=1.0):
    power = bin_power(spec.float())
    if fscale != 1.0:
        n = power.shape[-1]; src = torch.arange(n, dtype=torch.float32) / fscale
        lo = src.floor().long().clamp(max=n - 1); hi = (lo + 1).clamp(max=n - 1); w = (src - lo).clamp(0, 1)
        power = torch.where(src < n - 1, power[..., lo] * (1 - w) + power[..., hi] * w, torch.zeros(()))
    both = power[..., 0] + 2 * power[..., 1:-1].sum(-1) + power[..., -1]
    ms = both.mean(-1) / (NFFT * WINDOW_ENERGY); gain = 10 ** (LEVEL_DBFS / 10) / ms.clamp(min=1e-12)
    mel = (power * gain[:, None, None]) @ spk.mel_bands.T
    if tempo != 1.0:
        mel = F.interpolate(mel.transpose(1, 2), size=int(round(mel.shape[1] / tempo)), mode="linear", align_corners=True).transpose(1, 2)
    starts = partial_starts(mel.shape[1])
    pieces = torch.stack([mel[:, s:s + PARTIAL] for s in starts], 1)
    _, (h, _) = spk.lstm(pieces.flatten(0, 1))
    e = F.normalize(torch.relu(spk.linear(h[-1])), dim=1).view(len(spec), len(starts), -1)
    return mean_of(e)
PERTS = {"t0.9": dict(tempo=0.9), "t1.1": dict(tempo=1.1), "f0.95": dict(fscale=0.95), "f1.05": dict(fscale=1.05)}
t0 = time.time()
specs = [torch.from_numpy(sp.astype(np.float32)) for recs in data.train_records.by_file.values() for _, sp in recs]
with torch.no_grad():
    clean_chk = torch.cat([pert_emb(torch.stack(specs[i:i+50])) for i in range(0, len(specs), 50)])
    PE = {k: torch.cat([pert_emb(torch.stack(specs[i:i+50]), **kw) for i in range(0, len(specs), 50)]) for k, kw in PERTS.items()}
print("clean check", float((clean_chk - train_clean).norm(dim=1).max()), "pert emb", round(time.time() - t0), "s",
      {k: round(float((v - clean_chk).norm(dim=1).mean()), 3) for k, v in PE.items()}, flush=True)
VIEWS = tr.view_embeddings(spk, None)
def make_projection(nuis, perts, prank):
    dim = 256
    diffs = (VIEWS[:, 1:] - VIEWS[:, :1]).reshape(-1, dim).double()
    dirs = []
    if nuis:
        dirs.append(torch.linalg.svd(diffs, full_matrices=False)[2][:nuis])
    if perts:
        pd_ = torch.cat([(PE[k] - clean_chk).double() for k in perts])
        dirs.append(torch.linalg.svd(pd_, full_matrices=False)[2][:prank])
    if not dirs:
        return torch.eye(dim)
    q, _ = torch.linalg.qr(torch.cat(dirs).T)
    return (torch.eye(dim, dtype=torch.float64) - q @ q.T).float()
print("projection check", float((make_projection(p0.speaker_nuisance, [], 0) - tr.model.projection).abs().max()), flush=True)
print("val/train embeddings", round(time.time() - t0), "s", len(val_crop), len(train_clean), flush=True)
E = np.load(sys.argv[2], allow_pickle=True)
real, real_g = torch.from_numpy(E["real"]).float(), E["real_g"]
ff = pd.read_parquet(f"{R}/data/processed/face_features"); cl = pd.read_parquet(f"{R}/data/processed/clips")
ff = ff.merge(cl[["clip_id", "gender"]], on="clip_id"); ftr = ff[ff.split == "train"]
gclf = LogisticRegression(C=1.0, max_iter=2000).fit(np.stack(ftr.feature), ftr.gender)
DUMMY = torch.zeros(1)
def run(model, e):
    model.eval()
    with torch.no_grad():
        return model(DUMMY, speaker=e)
def train_one(seed, over):
    p = p0.model_copy(update={k: v for k, v in over.items() if k in p0.model_fields})
    torch.manual_seed(seed)
    cfg = EncoderConfig(**{**tr.cfg.__dict__, **{k: v for k, v in over.items() if k in tr.cfg.__dict__}})
    model = VoiceEncoder(cfg)
    model.start_at(tr.mean_feature, torch.from_numpy(data.train.features.std(0) + 1e-6))
    model.projection.copy_(make_projection(over.get('nuis', p0.speaker_nuisance), over.get('perts', []), over.get('prank', 0)))
    model.speaker = spk
    tr.model = tr.net = model
    tr.opt = torch.optim.Adam(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    tr.sched = torch.optim.lr_scheduler.CosineAnnealingLR(tr.opt, T_max=p.epochs)
    tr.train_set.seed = seed
    tr.p = p
    best, best_loss = None, 1e9
    faces = tr.val_faces
    idx = torch.from_numpy(val_rows)
    for ep in range(p.epochs):
        tr.train_epoch(ep)
        pred = run(model, val_crop)
        loss = voice_loss(pred, faces.features[idx], faces.speaker[idx], tr.targets["val"], tr.weights)["loss"].item()
        if loss < best_loss - 1e-6:
            best_loss, best = loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    model.recentre(run(model, train_clean).mean(0))
    return model, best_loss
def scores(preds_val_whole, preds_real, om, spread):
    names = sorted(set(tr.val_faces.speakers)); fcs = tr.val_faces.faces.numpy()
    spk_ids = [tr.val_faces.speakers[r] for r in val_rows_w]
    hits = m.query_hits(m.normalize(preds_val_whole), spk_ids, fcs, names, 100, "cosine", 20, 0, (1, 10))
    feat = om + spread * (preds_real - om); feat = feat / np.linalg.norm(feat, axis=1, keepdims=True)
    g = gclf.predict(feat)
    return {"R1": 100 * hits[:, 0].mean(), "R10": 100 * hits[:, 1].mean(),
            "cos": mpc(preds_real - om), "women": int(((g == "f") & (real_g == "f")).sum()),
            "men": int(((g == "m") & (real_g == "m")).sum())}
out = {}
settings = [a.split("=", 1) for a in sys.argv[4:]]
seeds = [int(s) for s in sys.argv[3].split(",")]
for name, js in settings:
    over = json.loads(js)
    preds_v, preds_r = [], []
    for s in seeds:
        t0 = time.time()
        model, bl = train_one(s, over)
        om = model.out_mean.numpy()
        pv, pr = run(model, val_whole).numpy(), run(model, real).numpy()
        spread = 1.0  # proxy reads the unwidened direction
        sc = scores(pv, pr, om, spread); sc["val_loss"] = bl
        preds_v.append(pv); preds_r.append(pr)
        out[f"{name}/s{s}"] = sc
        print(name, s, {k: round(v, 3) for k, v in sc.items()}, f"{time.time()-t0:.0f}s", flush=True)
    if len(seeds) >= 3:
        for k in range(0, len(seeds) - 2, 3):
            sc = scores(np.mean(preds_v[k:k+3], 0), np.mean(preds_r[k:k+3], 0), om, 1.0)
            out[f"{name}/ens{k}"] = sc
            print(name, "ensemble", seeds[k:k+3], {kk: round(v, 3) for kk, v in sc.items()}, flush=True)
    json.dump(out, open(sys.argv[1], "w"), indent=1)
