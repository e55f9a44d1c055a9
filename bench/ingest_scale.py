"""`ingest` at VoxCeleb2's size: a generated VoxCeleb2 tree and meta CSV of `--clips` clips, through `s2f run ingest`.

    python bench/ingest_scale.py [--clips 1092009] [--valid 0.01] [--runs 1] [--shard-size 64] [--workdir DIR]

VoxCeleb2's dev set has 1,092,009 clips of 5,994 people in 145,569 videos. The tree has that shape, scaled to
`--clips` (speakers idNNNNN/ with ~7.5 clips a video); a `--valid` fraction of the clips are copies of one
real 2 s H.264 + AAC clip, each with its own trailing bytes so that none is a duplicate (probed and hashed like any
video) and the rest are empty files (rejected as `empty file`
from their size, before probing), so that the listing, the per-clip bookkeeping, the task fan-out, the rejects
table and the speaker split all run at full size while only a sample pays ffprobe. Reports, per run: wall
seconds and peak RSS of the largest process (`s2f run ingest` in a fresh process, Prefect start-up included), the
listing alone (in this process), the clips and rejects by reason, and the split by speakers and clips. Peak RSS
is the figure to size a machine by; the wall time is listing + fan-out + (valid clips x ffprobe's per-clip cost,
divided by the workers).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VOX_CLIPS, VOX_SPEAKERS, CLIPS_PER_VIDEO = 1_092_009, 5_994, 7.5


def tiny_clip(path: Path) -> Path:
    """A real 2 s, 64 px H.264 + AAC clip (ffmpeg's test source and a tone)."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000", "-t", "2", "-c:v", "libx264",
                    "-c:a", "aac", "-shortest", "-y", str(path)], check=True)
    return path


def make_tree(root: Path, clips: int, valid: float) -> tuple[Path, Path, int]:
    """VoxCeleb2's layout below root/mp4 and its meta CSV; returns (tree, csv, valid clips)."""
    speakers = max(2, round(VOX_SPEAKERS * clips / VOX_CLIPS))
    sample = tiny_clip(root / "sample.mp4")
    tree = root / "mp4"
    data = sample.read_bytes()
    every = round(1 / valid) if valid > 0 else 0
    made = n_valid = 0
    for s in range(speakers):
        speaker = f"id{s:05d}"
        for n in range(clips // speakers + (1 if s < clips % speakers else 0)):
            video = tree / speaker / f"vid{s:05d}_{int(n / CLIPS_PER_VIDEO):04d}"
            video.mkdir(parents=True, exist_ok=True)
            target = video / f"{n + 1:05d}.mp4"
            if every and made % every == 0:  # a copy with its own trailing bytes: not a duplicate of the others
                target.write_bytes(data + made.to_bytes(8, "little"))
                n_valid += 1
            else:
                target.touch()
            made += 1
    csv = root / "vox2_meta.csv"
    rows = ["VoxCeleb2 ID ,VGGFace2 ID ,Gender ,Set "]
    rows += [f"id{s:05d} ,n{s:06d} ,{'f' if s % 2 else 'm'} ,dev " for s in range(speakers)]
    csv.write_text("\n".join(rows) + "\n")
    return tree, csv, n_valid


def listing(tree: Path, csv: Path) -> dict:
    from s2f.ingest.sources import list_source

    t = time.perf_counter()
    cands, rejects = list_source("voxceleb2", tree, csv)
    return {"list_s": time.perf_counter() - t, "candidates": len(cands), "layout_rejects": len(rejects),
            "list_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def ingest(tree: Path, csv: Path, out: Path, shard_size: int) -> dict:
    """Wall seconds and the largest process's peak RSS of `s2f run ingest` on the tree, in a fresh process."""
    code = ("import json, resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "assert done.returncode == 0, done.stderr[-3000:]\n"
            "print(json.dumps({'wall_s': time.perf_counter() - t, "
            "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
    s2f = str(Path(sys.executable).parent / "s2f")
    sets = ["ingest.source=voxceleb2", f"paths.videos={tree}", f"paths.videos_csv={csv}",
            f"paths.clips={out}/clips", f"paths.clips_rejects={out}/clips_rejects", f"ingest.shard_size={shard_size}"]
    args = [s2f, "run", "ingest", "--params", str(ROOT / "params.yaml"), *(a for s in sets for a in ("--set", s))]
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    import pandas as pd

    clips, rejects = pd.read_parquet(out / "clips"), pd.read_parquet(out / "clips_rejects")
    result.update(clips=len(clips), rejects=rejects.reason.value_counts().to_dict(),
                  split_speakers=clips.groupby("split").speaker_id.nunique().to_dict(),
                  split_clips=clips.split.value_counts().to_dict())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=VOX_CLIPS)
    ap.add_argument("--valid", type=float, default=0.01, help="fraction of clips that are real videos")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--shard-size", type=int, default=64, help="ingest.shard_size: clips per task (default 64)")
    ap.add_argument("--workdir", help="where to build the tree (default: a temporary folder, removed after)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ingest_scale_", dir=args.workdir))
    try:
        t = time.perf_counter()
        tree, csv, n_valid = make_tree(work, args.clips, args.valid)
        print(json.dumps({"clips": args.clips, "valid": n_valid, "tree_s": round(time.perf_counter() - t, 1)}),
              flush=True)
        print(json.dumps(listing(tree, csv)), flush=True)
        runs = []
        for _ in range(args.runs):
            shutil.rmtree(work / "out", ignore_errors=True)
            runs.append(ingest(tree, csv, work / "out", args.shard_size))
            print(json.dumps(runs[-1]), flush=True)
        print(json.dumps({"median_wall_s": statistics.median(r["wall_s"] for r in runs),
                          "median_peak_mb": statistics.median(r["peak_mb"] for r in runs)}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
