"""Benchmark of torch.compile for the default ensemble's training step (tried for issue 17; not adopted).

    python bench/compile.py [--runs 3] [--steps 10]

The step is what train_voice runs: the `members` encoders of the default params as one VoiceEncoderStack
(channels-last), a batch of `batch_size` random 3 s spectrograms per member, each member's Speech2Face loss,
backward, Adam. Each run is a fresh process; compiled runs start from an empty inductor cache, so their warm-up
(the first step) is the compile time a first training on a new machine pays. Prints the median over runs of the
seconds per step after warm-up, the warm-up, and the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child(compiled: bool, steps: int) -> None:
    import torch
    import yaml
    from torch import nn

    from s2f.config import Params
    from s2f.models.losses import VoiceLossWeights, voice_loss
    from s2f.models.networks import EncoderConfig, VoiceEncoder, VoiceEncoderStack

    p = Params.model_validate(yaml.safe_load((ROOT / "params.yaml").read_text())).voice_model
    width, frames = p.architecture()
    torch.manual_seed(0)
    cfg = EncoderConfig(width=width, frames=frames, dropout=p.dropout)
    model = VoiceEncoderStack([VoiceEncoder(cfg) for _ in range(p.members)]).to(memory_format=torch.channels_last)
    if compiled:
        import torch._inductor.config

        torch._inductor.config.fallback_random = True  # dropout draws as without compiling
    forward = torch.compile(model, dynamic=False) if compiled else model
    x = torch.randn(p.batch_size, 2 * p.members, frames, 257).contiguous(memory_format=torch.channels_last)
    true = nn.functional.normalize(torch.randn(p.batch_size, 128), dim=1)
    fc, clf = nn.Linear(128, 2048), nn.Linear(128, 560)
    weights = VoiceLossWeights(**p.loss.model_dump())
    opt = torch.optim.Adam(model.parameters(), lr=p.lr)
    model.train()
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        pred = forward(x)
        loss = sum(voice_loss(pred[:, m], true, fc, clf, weights)["loss"] for m in range(p.members))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"warmup_s": times[0], "step_s": statistics.median(times[1:])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    results: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.runs):
        for compiled in (False, True):
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
                done = subprocess.run([sys.executable, __file__, "child", str(int(compiled)), str(args.steps)],
                                      capture_output=True, text=True, check=True, env=env)
            results[compiled].append(json.loads(done.stdout.strip().splitlines()[-1]))
    med = {c: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for c, runs in results.items()}
    print(f"median of {args.runs} runs x {args.steps} steps (fresh process, empty inductor cache each run)")
    print("| training step | s per step | first step (s) |\n|---|---|---|")
    for compiled, name in ((False, "plain"), (True, "torch.compile")):
        print(f"| {name} | {med[compiled]['step_s']:.2f} | {med[compiled]['warmup_s']:.1f} |")
    print(f"speed-up per step: {med[False]['step_s'] / med[True]['step_s']:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(bool(int(sys.argv[2])), int(sys.argv[3]))
    else:
        main()
