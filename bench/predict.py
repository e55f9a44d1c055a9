"""Benchmark of `s2f predict`: model loading once, then seconds per clip (decode, speech window, spectrogram,
voice encoder, decoder, attribute probabilities), median over clips and runs.

    python bench/predict.py [--runs 3] [--clips 20] [--tempo T]

Uses the trained models in models/ and test clips of data/processed/clips (after `make run`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--tempo", type=float, help="predict.tempo (default: params.yaml's)")
    args = parser.parse_args()

    from s2f.config import load_params
    from s2f.predict import Predictor, read_speech, speech_window
    from s2f.tables import read_dataset

    params = load_params(ROOT / "params.yaml", None if args.tempo is None else [f"predict.tempo={args.tempo}"])
    p, pp = params.paths, params.predict
    clips = read_dataset(ROOT / p.clips)
    paths = sorted(clips[clips.split == "test"].path)[: args.clips]
    start = time.perf_counter()
    predictor = Predictor(ROOT / p.voice_encoder, ROOT / p.face_decoder, ROOT / p.classifiers)
    load_s = time.perf_counter() - start
    per_clip, stages = [], {"decode": [], "model": [], "attributes": []}
    for _ in range(args.runs):
        for path in paths:
            t0 = time.perf_counter()
            speech = speech_window(read_speech(ROOT / path), pp.seconds, pp.min_seconds, pp.silence_db)
            t1 = time.perf_counter()
            face = predictor.draw(predictor.feature(speech.samples, tempo=pp.tempo))
            t2 = time.perf_counter()
            predictor.attributes(face)
            t3 = time.perf_counter()
            per_clip.append(t3 - t0)
            for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                stages[key].append(value)
    print(json.dumps({"clips": len(paths), "runs": args.runs, "tempo": predictor.tempo(pp.tempo),
                      "load_models_s": round(load_s, 3),
                      "per_clip_s_median": round(statistics.median(per_clip), 4),
                      **{f"{k}_s_median": round(statistics.median(v), 4) for k, v in stages.items()}}, indent=2))


if __name__ == "__main__":
    main()
