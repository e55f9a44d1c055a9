import sys, os, numpy as np
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from harness import load, CACHE, DATA
from s2f.config import AudioParams
from s2f.tables import read_dataset
from s2f.evaluate.stage import first_waves
from s2f.evaluate import baselines as base
from s2f.audio.spectrogram import SAMPLE_RATE
clips = read_dataset(DATA / 'clips'); os.chdir(DATA.parent.parent)
sid, sspk, sf, _, _ = load('test')
waves = first_waves(clips, sid, AudioParams(), 2)
np.savez(CACHE / 'resemblyzer_test.npz', t3=base.speaker_embeddings([w[:3 * SAMPLE_RATE] for w in waves]), t6=base.speaker_embeddings(waves))
