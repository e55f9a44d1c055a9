"""F2F scores of face decoders on the test split, as the evaluate stage computes them (R@1, R@10, 1:2, gender
agreement, sharpness vs the real crops), with intervals over the decoders (seeds) and test speakers: the 64 px
against 128 px comparison of docs/evaluation.md. Run from the repository root after `make run`:

    python scripts/experiments/decoder_f2f.py OUT.json ENCODER_DIR DECODER_DIR [DECODER_DIR ...]

(the test split's data from params.yaml's paths; the evaluation's inputs include a voice encoder, which F2F does
not use: any trained one)
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from s2f import metrics as m
from s2f.config import load_params
from s2f.evaluate.evaluation import FaceReader, Scorer
from s2f.evaluate.sharpness import sharpness
from s2f.evaluate.stage import fit_attribute_classifiers, frontal_crops, load_inputs
from s2f.faces.align import Aligner
from s2f.images import decode_png
from s2f.models.zoo import load_decoder


def main() -> None:
    decoders = sys.argv[3:]
    params = load_params("params.yaml", [f"paths.voice_encoder={sys.argv[2]}", f"paths.face_decoder={decoders[0]}"])
    p = params.evaluate
    inputs = load_inputs(params.paths, p)
    test = inputs.test
    real = [decode_png(c) for c in frontal_crops(test, inputs.faces)]
    aligner = Aligner(workers=len(os.sched_getaffinity(0)))
    runs = []
    for folder in decoders:
        decoder, _ = load_decoder(folder)
        read = FaceReader(decoder, aligner, params.faces.crop_size)
        classifiers = fit_attribute_classifiers(inputs.train, inputs.labels, read)
        f2f = read(test.features)
        scorer = Scorer(test, f2f, classifiers, inputs.labels, p.pool, p.rounds, p.seed)
        runs.append({**scorer.per_query(f2f.descriptors, f2f),
                     "sharpness": sharpness(f2f.images, real, params.faces.crop_size)})
        print(folder, {k: round(float(np.nanmean(v)), 4) for k, v in runs[-1].items()}, flush=True)
    aligner.close()
    out = {"decoders": decoders, "size": [load_decoder(f)[0].cfg.size for f in decoders],
           **{k: m.runs_bootstrap(np.stack([r[k] for r in runs]), test.speakers, seed=p.seed) for k in runs[0]}}
    with open(sys.argv[1], "w") as fh:
        json.dump(out, fh, indent=2)
    print(json.dumps(out))


if __name__ == "__main__":  # dlib's pool spawns processes that import this file
    main()
