"""Scratch: resemblyzer + ridge on val (same code as evaluate's baseline)."""
import sys, os, json
import numpy as np
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from harness import load, val_scores, CACHE, DATA
from s2f.config import AudioParams
from s2f.tables import read_dataset
from s2f.evaluate.stage import first_waves
from s2f.evaluate import baselines as base
from s2f.audio.spectrogram import SAMPLE_RATE

clips = read_dataset(DATA / 'clips')
os.chdir(DATA.parent.parent)  # clip paths are relative to the project
f = CACHE / 'resemblyzer.npz'
tid, tspk, tf, _, _ = load('train'); vid, vspk, vf, _, _ = load('val')
if f.exists():
    z = np.load(f); temb, v3, v6 = z['temb'], z['v3'], z['v6']
else:
    temb = base.speaker_embeddings(first_waves(clips, tid, AudioParams(), 2))
    waves = first_waves(clips, vid, AudioParams(), 2)
    v3 = base.speaker_embeddings([w[:3 * SAMPLE_RATE] for w in waves]); v6 = base.speaker_embeddings(waves)
    np.savez(f, temb=temb, v3=v3, v6=v6)
ridge = base.fit_ridge(temb, tf, tspk, [0.1, 1, 10, 100, 1000])
print('alpha', ridge.ridge.alpha_, 'spread', ridge.spread)
print(json.dumps({k: round(v, 1) for k, v in val_scores({'3s': ridge.predict(v3), '6s': ridge.predict(v6)}, vspk, vf).items()}))
# unwidened
from s2f.evaluate.metrics import normalize
print('raw', json.dumps({k: round(v, 1) for k, v in val_scores({'3s': ridge.ridge.predict(v3), '6s': ridge.ridge.predict(v6)}, vspk, vf).items()}))
