"""Benchmark of training speed, peak memory and forward cost for each voice-encoder preset and the decoder.

    python bench/train.py [--runs 3] [--steps 5] [--batch 8] [--paper-steps 2] [--paper-batch 2]

For each preset: forward GFLOPs per 6 s clip (the preset's own input length too), training samples per second
(forward, the default loss against 600 train faces, backward, Adam step; median over runs of `--steps` timed steps
after one warm-up) and peak RSS of a fresh process doing it; the cpu preset also with the default acoustic
augmentation (voice_model.augment) drawn for every batch, which is what train_voice runs. Runs on random inputs
of the right shape: the data path is measured by bench/preprocess.py and the training logs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child(kind: str, steps: int, batch: int) -> None:
    import torch
    from torch import nn

    from s2f.config import VOICE_PRESETS
    from s2f.models.losses import VoiceLossWeights, VoiceTargets, voice_loss
    from s2f.models.networks import DecoderConfig, EncoderConfig, FaceDecoder, VoiceEncoder, forward_gflops

    torch.manual_seed(0)
    if kind == "decoder":
        model = FaceDecoder(DecoderConfig())
        x, target = torch.randn(batch, 128), torch.rand(batch, 3, 64, 64)
        gflops = gflops_own = forward_gflops(model, x[:1])

        def step_loss() -> torch.Tensor:
            return (model(x) - target).abs().mean()
    else:
        from s2f.config import VoiceModelParams
        from s2f.models.augment import Augmentation, augment

        variety = Augmentation(**VoiceModelParams().augment.model_dump()) if kind == "cpu+augment" else Augmentation()
        kind = kind.removesuffix("+augment")
        cfg = EncoderConfig(**VOICE_PRESETS[kind])
        model = VoiceEncoder(cfg)
        gflops = forward_gflops(model, torch.randn(1, 2, 598, 257))
        gflops_own = forward_gflops(model, torch.randn(1, 2, cfg.frames, 257))
        faces = nn.functional.normalize(torch.randn(600, 128), dim=1)
        x, speaker = torch.randn(batch, 2, cfg.frames, 257), torch.randint(0, 600, (batch,))
        targets = VoiceTargets(faces, torch.full((128,), 0.02))

        def step_loss() -> torch.Tensor:
            step_loss.n = getattr(step_loss, "n", 0) + 1
            inputs = augment(x, variety, step_loss.n)
            return voice_loss(model(inputs), faces[speaker], speaker, targets, VoiceLossWeights())["loss"]
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        loss = step_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    print(json.dumps({"samples_per_s": batch / statistics.median(times), "gflops_6s": gflops,
                      "gflops_input": gflops_own, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "params_m": sum(p.numel() for p in model.parameters()) / 1e6}))


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--paper-steps", type=int, default=2, help="the paper preset is ~1 min a step here")
    parser.add_argument("--paper-batch", type=int, default=2)
    args = parser.parse_args()
    print(f"median of {args.runs} runs x {args.steps} steps at batch {args.batch} (paper preset: "
          f"{args.paper_steps} steps at batch {args.paper_batch}), CPU, {torch_threads()} threads")
    print("| model | params (M) | forward GFLOP per 6 s clip | forward GFLOP at its input | train samples/s | "
          "peak MB |\n|---|---|---|---|---|---|")
    for kind in ("cpu", "cpu+augment", "paper", "decoder"):
        runs = []
        steps, batch = (args.paper_steps, args.paper_batch) if kind == "paper" else (args.steps, args.batch)
        for _ in range(args.runs):
            done = subprocess.run([sys.executable, __file__, "child", kind, str(steps), str(batch)],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        name = {"cpu": "voice encoder, cpu preset", "cpu+augment": "voice encoder, cpu preset, default augmentation",
                "paper": "voice encoder, paper preset",
                "decoder": "face decoder (64 px)"}[kind]
        six = "-" if kind == "decoder" else f"{med['gflops_6s']:.2f}"
        print(f"| {name} | {med['params_m']:.2f} | {six} | {med['gflops_input']:.2f} | {med['samples_per_s']:.2f} | "
              f"{med['peak_mb']:.0f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
