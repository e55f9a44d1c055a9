"""Benchmark of the `faces` and `audio` stages against ffmpeg decoding alone.

    python bench/preprocess.py [--runs 3] [--clips 48] [--workers 2]

On the synthetic corpus (data/processed/clips from `make run`) and, when present, ../shared/realdata, reports
the median over runs of: video seconds processed per wall second by each stage, the decode-only limit on the
same clips (ffmpeg decoding the stream with nothing else, same parallelism), their ratio, seconds per clip in
detection / alignment / descriptors, and peak memory (RSS) of the stage at 1x and 4x the clips. Each
measurement runs in a fresh process, shards in a thread pool of `--workers` (like the Prefect thread runner,
without Prefect's own start-up, which issue 6's benchmark measures).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REALDATA = ROOT.parent / "shared" / "realdata"


def child(stage: str, clips: Path, out: Path, workers: int) -> None:
    """Run one stage on a clip table in this process and print wall time, counts and peak RSS as JSON."""
    from s2f.audio import stage as audio
    from s2f.config import AudioParams, FacesParams
    from s2f.faces import stage as faces
    from s2f.shards import plan_shards
    from s2f.tables import read_dataset

    if stage in ("decode-video", "decode-audio"):
        paths = read_dataset(clips).path.tolist()
        stream = "0:v:0" if stage == "decode-video" else "0:a:0"
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda p: subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-threads", "1", "-i", p,
                                                    "-map", stream, "-f", "null", "-"], check=True), paths))
        totals: Counter = Counter()
    else:
        if stage == "faces":
            mod, p, outputs = faces, FacesParams(), faces.FacesOutputs.under(out)
        else:
            mod, p, outputs = audio, AudioParams(), audio.AudioOutputs.under(out)
        shards = plan_shards(read_dataset(clips), p.shard_size, p.model_dump(mode="json"))
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            totals = sum((Counter(c) for c in pool.map(lambda s: mod.run_shard(s, p, outputs, {}), shards)),
                         Counter())
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak_mb": peak_mb, **totals}))


def measure(stage: str, clips: Path, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, __file__, "child", stage, str(clips), out, str(workers)],
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def clip_table(source: Path, limit: int | None, copies: int, dest: Path) -> tuple[Path, float]:
    """A clip table of `limit` clips, repeated `copies` times under distinct ids; returns it and its seconds."""
    import pyarrow as pa

    from s2f.tables import read_dataset, write_dataset

    clips = read_dataset(source).sort_values("clip_id").head(limit)
    table = pd.concat([clips.assign(clip_id=clips.clip_id + f"-{k}") for k in range(copies)], ignore_index=True)
    write_dataset([pa.Table.from_pandas(table, preserve_index=False)], dest, dataset="clips", schema_version=1,
                  params={})
    return dest, float(table.duration.sum())


def real_clips(tmp: Path) -> Path | None:
    if not (REALDATA / "manifest.csv").is_file():
        return None
    from tests.conftest import ingest_to

    return ingest_to("folder", REALDATA / "clips", REALDATA / "manifest.csv", tmp / "real")


def bench(name: str, source: Path, limit: int | None, runs: int, workers: int, tmp: Path) -> list[str]:
    one, seconds = clip_table(source, limit, 1, tmp / f"{name}-1x")
    four, _ = clip_table(source, limit, 4, tmp / f"{name}-4x")
    n = len(pd.read_parquet(one))
    lines = []
    for stage, decode in (("faces", "decode-video"), ("audio", "decode-audio")):
        runs_stage = [measure(stage, one, workers) for _ in range(runs)]
        runs_decode = [measure(decode, one, workers) for _ in range(runs)]
        wall = statistics.median(r["wall"] for r in runs_stage)
        dec = statistics.median(r["wall"] for r in runs_decode)
        peak1 = statistics.median(r["peak_mb"] for r in runs_stage)
        peak4 = measure(stage, four, workers)["peak_mb"]
        parts = ""
        if stage == "faces":
            per = {k: statistics.median(r.get(f"s_{k}", 0) for r in runs_stage) / n
                   for k in ("detect", "align", "descriptor")}
            parts = " / ".join(f"{per[k]:.3f}" for k in per)
        lines.append(f"| {name} | {stage} | {n} | {seconds / wall:.1f} | {seconds / dec:.1f} | {wall / dec:.2f} | "
                     f"{parts or '-'} | {peak1:.0f} | {peak4:.0f} | {peak4 / peak1:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=48, help="synthetic clips to use (default 48)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    header = ["| corpus | stage | clips | video s per wall s | decode-only video s per wall s | stage / decode "
              "time | s per clip: detect / align / descriptor | peak MB 1x | peak MB 4x | 4x / 1x |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        synth = ROOT / "data/processed/clips"
        if synth.is_dir():
            rows += bench("synthetic", synth, args.clips, args.runs, args.workers, tmp)
        else:
            print(f"no {synth}: run `make run` first for the synthetic rows", file=sys.stderr)
        real = real_clips(tmp)
        if real is not None:
            rows += bench("realdata", real, None, args.runs, args.workers, tmp)
        else:
            print(f"no {REALDATA}: real-clip rows skipped", file=sys.stderr)
    print(f"median of {args.runs} runs, {args.workers} workers")
    print("\n".join(header + rows))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
