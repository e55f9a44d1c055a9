"""Peak memory and time of the audio stage on one long recording: flat in the recording's length.

    python bench/long_audio.py [--runs 3] [--minutes 1 10 60]

For each length, a tone of that many minutes (AAC, 44.1 kHz, made by ffmpeg) goes through the audio stage's
shard function in a fresh process (one clip, default audio params); reports the median wall seconds and peak RSS
(MB) of that process. The stage decodes at most seconds x segments_per_clip + LEAD_SECONDS of a clip.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARD = """
import json, resource, sys, time
t = time.perf_counter()
from s2f.audio.stage import AudioOutputs, run_shard
from s2f.config import AudioParams
from s2f.shards import Shard
row = {"clip_id": "c", "speaker_id": "s", "split": "train", "path": sys.argv[1], "segment_start": None,
       "segment_end": None}
start = time.perf_counter()
counts = run_shard(Shard("k", [row]), AudioParams(), AudioOutputs.under(sys.argv[2]), {})
print(json.dumps({"shard_s": time.perf_counter() - start, "counts": counts,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0, 60.0])
    args = parser.parse_args()
    print("| recording | shard s (median) | peak MB (median) |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            clip = Path(tmp) / f"{minutes:g}min.m4a"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                            f"sine=frequency=220:sample_rate=44100:duration={minutes * 60}", "-c:a", "aac", "-b:a",
                            "64k", str(clip)], check=True)
            runs = []
            for i in range(args.runs):
                done = subprocess.run([sys.executable, "-c", SHARD, str(clip), str(Path(tmp) / f"out{minutes}-{i}")],
                                      cwd=ROOT, capture_output=True, text=True, check=True)
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            assert all(r["counts"]["segments"] == 1 for r in runs), runs
            print(f"| {minutes:g} min | {statistics.median(r['shard_s'] for r in runs):.2f} | "
                  f"{statistics.median(r['peak_mb'] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
