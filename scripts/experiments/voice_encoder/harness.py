"""Shared by the voice-encoder design trials (not part of the product): data as log power, val/test scoring.

Reads the processed tables of a `make run` (S2F_DATA, default data/processed) and caches each split's log power
(S2F_CACHE_EXP, default .cache/experiments)."""
from __future__ import annotations
import json, sys, time, os
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from s2f.models.data import load_features
from s2f.evaluate.evaluation import read_spectrograms
from s2f import metrics as m

DATA = Path(os.environ.get('S2F_DATA', ROOT / 'data/processed'))
CACHE = Path(os.environ.get('S2F_CACHE_EXP', ROOT / '.cache/experiments'))
CACHE.mkdir(parents=True, exist_ok=True)

def logpow(spec: np.ndarray, floor: float = 1e-5) -> np.ndarray:
    c = np.abs(spec.astype(np.float64)) ** (2 / 0.3)
    return np.log(c[0] + c[1] + floor).T.astype(np.float32)  # (257, T)

def load(split: str):
    f = CACHE / f'{split}.npz'
    if f.exists():
        z = np.load(f, allow_pickle=True)
        return list(z['ids']), list(z['spk']), z['feats'], z['x'], z['raw'] if 'raw' in z else None
    ids, spk, feats = load_features(DATA / 'face_features', split)
    specs = read_spectrograms(str(DATA / 'spectrograms'), split)
    keep = [i for i, c in enumerate(ids) if c in specs]
    ids = [ids[i] for i in keep]; spk = [spk[i] for i in keep]; feats = feats[keep]
    x = np.stack([logpow(specs[c]) for c in ids])
    np.savez(f, ids=np.array(ids), spk=np.array(spk), feats=feats, x=x)
    return ids, spk, feats, x, None

def val_scores(pred: dict, spk, faces_feats):
    faces, names = speaker_faces(faces_feats, spk)
    out = {}
    for key, p in pred.items():
        p = m.normalize(p)
        hits = m.query_hits(p, spk, faces, names, 100, 'cosine', 20, 0, (1, 10))
        out[f'R@1_{key}'] = 100 * hits[:, 0].mean(); out[f'R@10_{key}'] = 100 * hits[:, 1].mean()
        out[f'1:2_{key}'] = 100 * np.nanmean(m.query_matching(p, spk, faces, names))
    return out

def speaker_faces(feats, spk):
    names = sorted(set(spk)); a = np.array(spk)
    return m.normalize(np.stack([feats[a == s].mean(0) for s in names])), names
