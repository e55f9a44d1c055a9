"""Benchmark of training speed, peak memory and forward cost for each voice-encoder preset and the decoder.

    python bench/train.py [--runs 3] [--steps 5] [--batch 8] [--paper-steps 2] [--paper-batch 2]
                          [--precision fp32 bf16]

For each preset: forward GFLOPs per 6 s clip (the preset's own input length too), training samples per second
(forward, the default loss against 600 train faces, backward, Adam step; median over runs of `--steps` timed steps
after one warm-up) and peak memory of a fresh process doing it (RSS on the CPU; on a GPU, which is used when there
is one, its peak allocated memory); the cpu preset also with the default acoustic augmentation (voice_model.augment)
drawn for every batch, which is what train_voice runs. Each precision is what `voice_model.precision` and
`face_model.precision` set (bf16: the training step's networks under bf16 autocast, the losses in fp32, as the
training loops run them). Runs on random inputs of the right shape: the data path is measured by
bench/preprocess.py and the training logs.
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


def child(kind: str, steps: int, batch: int, precision: str) -> None:
    import torch
    from torch import nn

    from s2f.config import VOICE_PRESETS, VoiceLossParams
    from s2f.models.losses import VoiceTargets, voice_loss
    from s2f.models.networks import (
        DecoderConfig,
        EncoderConfig,
        FaceDecoder,
        VoiceEncoder,
        forward_gflops,
        mixed_precision,
        pick_device,
    )

    torch.manual_seed(0)
    device = pick_device()
    if kind.startswith("decoder"):
        from s2f.config import FaceModelParams

        face = FaceModelParams() if kind == "decoder" else FaceModelParams(size=64, channels=[128, 64, 32, 16])
        model = FaceDecoder(DecoderConfig(size=face.size, channels=tuple(face.channels)))
        x, target = torch.randn(batch, 128), torch.rand(batch, 3, face.size, face.size)
        gflops = gflops_own = forward_gflops(model, x[:1])
        x, target = x.to(device), target.to(device)

        def step_loss() -> torch.Tensor:
            with mixed_precision(device, precision):
                out = model(x)
            return (out.float() - target).abs().mean()
    else:
        from s2f.config import VoiceModelParams
        from s2f.models.augment import Augmentation, augment

        variety = Augmentation(**VoiceModelParams().augment.model_dump()) if kind == "cpu+augment" else Augmentation()
        kind = kind.removesuffix("+augment")
        cfg = EncoderConfig(**VOICE_PRESETS[kind])
        model = VoiceEncoder(cfg)
        gflops = forward_gflops(model, torch.randn(1, 2, 598, 257))
        gflops_own = forward_gflops(model, torch.randn(1, 2, cfg.frames, 257))
        faces = nn.functional.normalize(torch.randn(600, 128), dim=1).to(device)
        x, speaker = torch.randn(batch, 2, cfg.frames, 257), torch.randint(0, 600, (batch,)).to(device)
        targets = VoiceTargets(faces, torch.full((128,), 0.02, device=device))

        def step_loss() -> torch.Tensor:
            step_loss.n = getattr(step_loss, "n", 0) + 1
            inputs = augment(x, variety, step_loss.n).to(device)  # augmented on the CPU, as train_voice does
            with mixed_precision(device, precision):
                pred = model(inputs)
            return voice_loss(pred.float(), faces[speaker], speaker, targets, VoiceLossParams())["loss"]
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        loss = step_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"samples_per_s": batch / statistics.median(times), "gflops_6s": gflops,
                      "gflops_input": gflops_own, "peak_mb": peak, "device": str(device),
                      "params_m": sum(p.numel() for p in model.parameters()) / 1e6}))


KINDS = {"cpu": "voice encoder, cpu preset", "cpu+augment": "voice encoder, cpu preset, default augmentation",
         "paper": "voice encoder, paper preset", "decoder": "face decoder (the default, 128 px; L1 only)",
         "decoder64": "face decoder (64 px, the default until 43a4dbe; L1 only)"}


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
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32"])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    args = parser.parse_args()
    print(f"median of {args.runs} runs x {args.steps} steps at batch {args.batch} (paper preset: "
          f"{args.paper_steps} steps at batch {args.paper_batch}), {torch_threads()} CPU threads")
    print("| model | precision | device | params (M) | forward GFLOP per 6 s clip | forward GFLOP at its input | "
          "train samples/s | peak MB |\n|---|---|---|---|---|---|---|---|")
    for kind in args.kinds:
        for precision in args.precision:
            runs = []
            steps, batch = (args.paper_steps, args.paper_batch) if kind == "paper" else (args.steps, args.batch)
            for _ in range(args.runs):
                done = subprocess.run([sys.executable, __file__, "child", kind, str(steps), str(batch), precision],
                                      capture_output=True, text=True, check=True)
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "device"}
            six = "-" if kind.startswith("decoder") else f"{med['gflops_6s']:.2f}"
            print(f"| {KINDS[kind]} | {precision} | {runs[0]['device']} | {med['params_m']:.2f} | {six} | "
                  f"{med['gflops_input']:.2f} | {med['samples_per_s']:.2f} | {med['peak_mb']:.0f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
