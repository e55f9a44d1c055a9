"""What the face detector's searches cost per frame: the whole frame, squares of a wide frame, small tiles.

    python bench/detect.py [--runs 3] [--clip ../shared/realdata/clips/S01_1.mp4]

A real clip is padded into a square frame and a 16:9 one (the faces stage's decoded size: short side 360) and
BlazeFace runs on its frames: `detect` on the square frame (the synthetic corpus's case: one detection), `detect`
on the 16:9 frame (the whole frame and 3 squares), and `detect_small` (the tiles for frames where no usable face
was found). Reports the median over runs of each run's mean milliseconds per frame.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clip", default=str(ROOT.parent / "shared" / "realdata" / "clips" / "S01_1.mp4"))
    args = parser.parse_args()

    from s2f.config import FacesParams
    from s2f.faces.detect import FaceDetector
    from s2f.media import decode_frames

    p = FacesParams()
    with tempfile.TemporaryDirectory() as tmp:
        frames = {}
        for name, (w, h) in {"square": (360, 360), "wide": (640, 360)}.items():
            out = Path(tmp) / f"{name}.mp4"
            subprocess.run(["ffmpeg", "-v", "error", "-i", args.clip, "-t", "5", "-an", "-vf",
                            f"scale=-2:{h // 2},pad={w}:{h}:(ow-iw)/2:(oh-ih)/3:color=gray", "-c:v", "libx264",
                            str(out)], check=True)
            frames[name] = list(decode_frames(out, w, h, 4.0))
        cases = {"detect, square frame": ("square", lambda d, f: d.detect(f)),
                 "detect, 16:9 frame": ("wide", lambda d, f: d.detect(f)),
                 "detect_small, 16:9 frame": ("wide", lambda d, f: d.detect_small(f, p.min_face_px))}
        result = {}
        with FaceDetector() as detector:
            for name, (shape, search) in cases.items():
                per_run = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    for frame in frames[shape]:
                        search(detector, frame)
                    per_run.append(1000 * (time.perf_counter() - start) / len(frames[shape]))
                result[name] = {"ms_per_frame": round(statistics.median(per_run), 1),
                                "runs": [round(r, 1) for r in per_run]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
