"""Score voice encoders on the VAL split: R@1, R@10 (cosine, pool 100 / all 80), gender agreement at 3 s and 6 s.
usage: val_eval.py MODEL_DIR [MODEL_DIR ...]   (classifiers cached in .cache/experiments)"""

import json
import pickle
import sys
from pathlib import Path

from s2f.config import Params
from s2f.evaluate import metrics as m
from s2f.evaluate.attributes import speaker_labels
from s2f.evaluate.evaluation import FaceReader, Scorer, TestClips, predict_voice, read_spectrograms
from s2f.evaluate.stage import TrainFaces, fit_attribute_classifiers
from s2f.faces.align import Aligner
from s2f.models.data import load_features
from s2f.models.zoo import load_decoder, load_encoder
from s2f.tables import read_dataset

P = Params.model_validate(__import__("yaml").safe_load(open("params.yaml")))
p, paths = P.evaluate, P.paths
clips = read_dataset(paths.clips)
labels = speaker_labels(clips, paths.attributes, p.labels)
decoder, _ = load_decoder(paths.face_decoder)
read = FaceReader(decoder, Aligner(), P.faces.crop_size)
cache = Path(".cache/experiments/val_cache.pkl")
ids, speakers, feats = load_features(paths.face_features, "val")
specs = read_spectrograms(paths.spectrograms, "val")
keep = [i for i, c in enumerate(ids) if c in specs]
val = TestClips(
    [ids[i] for i in keep], [speakers[i] for i in keep], m.normalize(feats[keep]), [specs[ids[i]] for i in keep]
)
if cache.exists():
    classifiers, f2f = pickle.load(open(cache, "rb"))
else:
    tid, tspk, tf = load_features(paths.face_features, "train")
    classifiers = fit_attribute_classifiers(TrainFaces(tid, tspk, m.normalize(tf)), labels, read)
    f2f = read(val.features)
    pickle.dump((classifiers, f2f), open(cache, "wb"))
scorer = Scorer(val, f2f, {"gender": classifiers["gender"]}, labels, p.pool, p.rounds, p.seed)
for d in sys.argv[1:]:
    enc, cfg = load_encoder(d)
    row = {"model": d}
    for s in (3.0, 6.0):
        pred = predict_voice(enc, val.specs, s)
        r = scorer.retrieval(pred)["cosine"]
        recon = read(pred)
        att, _ = scorer.attributes(recon)
        row[f"{s:g}s"] = {
            "R@1": round(100 * r["R@1"], 1),
            "R@10": round(100 * r["R@10"], 1),
            "gender": round(100 * att["agreement"]["gender"], 1),
        }
    print(json.dumps(row), flush=True)
