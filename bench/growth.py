"""How each preprocessing stage's time and peak memory grow with the number of clips (1x, 4x, 16x).

    python bench/growth.py [--runs 3] [--clips 4] [--seconds 2] [--size 128]

Renders a small synthetic corpus of `--clips` x 16 speakers, then runs `s2f run synth | ingest | faces | audio`
(each a fresh process, Prefect start-up included, the default runner) on 1x, 4x and 16x `--clips` clips and
reports, median over runs, the wall seconds, the seconds per clip beyond the fixed start-up, and the peak RSS of
the largest process of the stage (its main process or a worker). Per-clip time that stays flat and memory that
does not grow with the clips are what let a user extrapolate to VoxCeleb2: wall ~ start-up + clips x per-clip.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("synth", "ingest", "faces", "audio")


def run_stage(stage: str, params: Path, cwd: Path) -> dict:
    """Wall seconds and peak RSS (MB, the largest process of the stage's tree) of `s2f run STAGE`."""
    code = ("import json, resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
            "print(json.dumps({'wall': time.perf_counter() - t, "
            "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
    s2f = str(Path(sys.executable).parent / "s2f")
    done = subprocess.run([sys.executable, "-c", code, s2f, "run", stage, "--params", str(params)], cwd=cwd,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=4, help="clips at 1x (4x and 16x follow)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    import yaml

    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    rows: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for factor in (1, 4, 16):
            n = args.clips * factor
            work = tmp / f"x{factor}"
            work.mkdir()
            params = {**base,
                      "paths": {**base["paths"], "synth": str(work / "raw"), "videos": str(work / "raw"),
                                **{k: str(work / "processed" / k) for k in ("clips", "clips_rejects", "faces",
                                                                            "face_features", "faces_rejects",
                                                                            "spectrograms", "audio_rejects")}},
                      "synth": {**base["synth"], "speakers": n, "seconds": args.seconds, "size": args.size},
                      "audio": {**base["audio"], "seconds": args.seconds},
                      "evaluate": {**base["evaluate"], "seconds": [args.seconds]}}  # at most audio.seconds
            path = work / "params.yaml"
            path.write_text(yaml.safe_dump(params))
            for _ in range(args.runs):
                for stage in STAGES:
                    if stage in ("faces", "audio"):  # finished shards are skipped: start each run afresh
                        for name in ("faces", "face_features", "faces_rejects", "spectrograms", "audio_rejects"):
                            subprocess.run(["rm", "-rf", str(work / "processed" / name)], check=True)
                    rows.setdefault((stage, factor), []).append(run_stage(stage, path, ROOT))
    print(f"median of {args.runs} runs; {args.seconds:g} s clips at {args.size} px; default runner "
          f"({base['runner']['kind']}, {base['runner']['workers']} workers); {os.cpu_count()} cores")
    print("| stage | clips 1x / 4x / 16x | wall s | s per clip (16x - 1x) | peak MB | peak 16x / 1x |\n"
          "|---|---|---|---|---|---|")
    for stage in STAGES:
        wall = [statistics.median(r["wall"] for r in rows[(stage, f)]) for f in (1, 4, 16)]
        peak = [statistics.median(r["peak_mb"] for r in rows[(stage, f)]) for f in (1, 4, 16)]
        per_clip = (wall[2] - wall[0]) / (15 * args.clips)
        print(f"| {stage} | {args.clips} / {4 * args.clips} / {16 * args.clips} | "
              f"{' / '.join(f'{w:.1f}' for w in wall)} | {per_clip:.3f} | {' / '.join(f'{p:.0f}' for p in peak)} | "
              f"{peak[2] / peak[0]:.2f} |")


if __name__ == "__main__":
    main()
