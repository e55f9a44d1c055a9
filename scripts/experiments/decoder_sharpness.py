"""Val figures of face decoders: identity (descriptor cos, top-1) and sharpness (median variance of the Laplacian
of the decoded faces shown at 128 px, bicubic as the app upscales, over that of the real val crops at 128 px).

    python scripts/experiments/decoder_sharpness.py data/processed/faces DECODER_DIR [DECODER_DIR ...]
"""

import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from s2f.faces.align import Aligner  # noqa: E402
from s2f.images import upscale  # noqa: E402
from s2f.models.inference import decode, to_uint8  # noqa: E402
from s2f.models.train_face import identity_metrics, load_face_data  # noqa: E402
from s2f.models.zoo import load_decoder  # noqa: E402


def laplacian_variance(images: np.ndarray) -> np.ndarray:
    gray = [cv2.cvtColor(i, cv2.COLOR_RGB2GRAY).astype(np.float64) for i in images]
    return np.array([cv2.Laplacian(g, cv2.CV_64F).var() for g in gray])


faces = sys.argv[1]
reference = np.median(laplacian_variance(load_face_data(faces, 128)["val"].images.permute(0, 2, 3, 1).numpy()))
aligner = Aligner()
for folder in sys.argv[2:]:
    decoder, _ = load_decoder(Path(folder))
    data = load_face_data(faces, decoder.cfg.size)["val"]
    shown = np.stack([upscale(face, 128) for face in to_uint8(decode(decoder, data.features))])
    sharpness = float(np.median(laplacian_variance(shown)) / reference)
    identity = {k: round(v, 3) for k, v in identity_metrics(decoder, data, aligner).items()}
    print(json.dumps({"decoder": folder, "size": decoder.cfg.size, "sharpness_vs_real": round(sharpness, 3),
                      **identity}))
