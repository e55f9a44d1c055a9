"""Benchmark of `s2f app`: latency of `POST /api/predict` for a 6 s clip at 1 and 4 concurrent clients
(p50 and p95 per run, median over runs), and the app's resident memory after start and after the load.

    python bench/app.py [--runs 3] [--requests 20] [--models DIR] [--clip FILE]

Starts `s2f app` on a free port with the trained models (models/ after `make run`, or --models); the clip is
the first 6 s of a real clip from ../shared/realdata when it is there, else an espeak-ng sentence.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil

from flows.server import free_port

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"


def six_second_clip(folder: Path) -> Path:
    out = folder / "clip6s.wav"
    real = sorted((REALDATA / "clips").glob("*.mp4"))
    if real:
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(real[0]), "-t", "6", "-vn", "-ac", "1", str(out)],
                       check=True)
    else:
        subprocess.run(["espeak-ng", "-w", str(out), "One two three four five six seven eight nine ten, "
                        "and once more from the start: one two three four."], check=True)
    return out


def latencies(url: str, clip: Path, clients: int, requests: int) -> list[float]:
    data = clip.read_bytes()

    def one(_: int) -> float:
        tick = time.perf_counter()
        response = httpx.post(f"{url}/api/predict", files={"file": (clip.name, data)}, timeout=300)
        response.raise_for_status()
        return time.perf_counter() - tick

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(requests)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20, help="requests per run and client count")
    parser.add_argument("--models", help="folder with voice_encoder/, face_decoder/, attributes.json")
    parser.add_argument("--clip", type=Path, help="recording to send (default: a 6 s clip)")
    args = parser.parse_args()

    port = free_port()
    command = [sys.executable, "-m", "flows.cli", "app", "--port", str(port)]
    command += ["--models", args.models] if args.models else []
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or six_second_clip(Path(tmp))
        start = time.perf_counter()
        app = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    httpx.get(f"{url}/api/health", timeout=2)
                    break
                except httpx.TransportError:
                    if app.poll() is not None:
                        sys.exit("bench/app.py: s2f app did not start (see its message above)")
                    time.sleep(0.1)
            start_s = time.perf_counter() - start
            rss_start = psutil.Process(app.pid).memory_info().rss
            latencies(url, clip, 1, 2)  # warm-up
            result: dict = {"clip": str(clip.name), "runs": args.runs, "requests": args.requests,
                            "start_s": round(start_s, 2)}
            for clients in (1, 4):
                p50, p95 = [], []
                for _ in range(args.runs):
                    times = latencies(url, clip, clients, args.requests)
                    p50.append(float(np.percentile(times, 50)))
                    p95.append(float(np.percentile(times, 95)))
                result[f"{clients}_client"] = {"p50_s": round(statistics.median(p50), 3),
                                               "p95_s": round(statistics.median(p95), 3),
                                               "p50_s_runs": [round(x, 3) for x in p50]}
            result["rss_mb_after_start"] = round(rss_start / 2**20)
            result["rss_mb_after_load"] = round(psutil.Process(app.pid).memory_info().rss / 2**20)
        finally:
            app.send_signal(signal.SIGINT)
            app.wait(10)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
