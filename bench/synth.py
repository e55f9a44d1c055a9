"""The synth stage on a sample of the default corpus: wall time and CPU time per clip, Prefect start-up included.

    python bench/synth.py [--runs 3] [--speakers 48]

Runs `s2f run synth` (the default params: 6 s clips at 256 px, the default runner) for the first `--speakers`
speakers into a temporary folder, each run a fresh process, and reports the median over runs of its wall seconds,
the CPU seconds of the whole process tree (user + system: the stage, its worker processes, their ffmpeg and
espeak-ng children, Prefect's temporary server) and both per clip. Run it at two commits (git worktree) to compare
code on the same machine; the clips are a pure function of (seed, speaker), so every run renders the same bytes.
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

CHILD = ("import json, resource, subprocess, sys, time\n"
         "t = time.perf_counter()\n"
         "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
         "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
         "print(json.dumps({'wall': time.perf_counter() - t, 'cpu': r.ru_utime + r.ru_stime}))")


def one_run(speakers: int) -> dict[str, float]:
    s2f = str(Path(sys.executable).parent / "s2f")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", CHILD, s2f, "run", "synth", "--set", f"synth.speakers={speakers}",
                               "--set", f"paths.synth={tmp}/synth"], cwd=ROOT, capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})  # this checkout's code
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speakers", type=int, default=48)
    args = parser.parse_args()
    runs = [one_run(args.speakers) for _ in range(args.runs)]
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    n = args.speakers
    print(json.dumps({"clips": n, "runs": args.runs, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                      "wall_s_per_clip": round(wall / n, 3), "cpu_s_per_clip": round(cpu / n, 3),
                      "each": [{k: round(v, 1) for k, v in r.items()} for r in runs]}))


if __name__ == "__main__":
    main()
