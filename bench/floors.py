"""Each stage of the default pipeline against its floor: the unavoidable work, measured in isolation here.

    python bench/floors.py --log LOG [--runs 3] [--clips 16]

LOG is the output of a `make run` (or `dvc repro`) of the default params; each stage's wall time is read from it
(first to last timestamped line after DVC's "Running stage", plus the process start-up before the first line,
which is measured here). Floors, each the median over `--runs`:

- synth, faces, audio: the stage's own work on `--clips` clips of the corpus, done one clip after another in
  this process with no Prefect (speech synthesis + drawing + x264 encoding; ffmpeg decoding + BlazeFace + dlib
  alignment and descriptors; decoding + STFT), per clip, times the clips, divided by the cores;
- ingest: ffprobe of each clip, likewise;
- train_face, train_voice: FLOPs of one training step (torch's FLOP counter: forward and backward) times the
  steps the run took (epochs from reports/*/metrics.json), at the GFLOP/s a plain 2048 x 2048 `torch.mm`
  reaches here on all cores;
- evaluate: dlib descriptors of every face it decodes and resemblyzer embeddings of every clip it embeds, per
  item times the items, divided by the cores.

Each floor also counts the Prefect start-up of one stage process (measured: an empty flow in a new process against
a running server, as under `s2f repro`), as every stage pays it; the total counts that server's start once. The
table gives wall, floor and wall / floor per stage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STAGES = ("synth", "ingest", "faces", "audio", "train_face", "train_voice", "evaluate")


def stage_times(log: str) -> dict[str, float]:
    """Seconds from each stage's first to last Prefect log line (HH:MM:SS.mmm timestamps) in a `dvc repro` log."""
    times: dict[str, float] = {}
    stage, first, last = None, None, None
    for line in log.splitlines() + ["Running stage 'end':"]:
        start = re.search(r"Running stage '(\w+)'", line)
        if start:
            if stage and first and last:
                times[stage] = (last - first).total_seconds() % 86400
            stage, first, last = start.group(1), None, None
            continue
        stamp = re.search(r"(\d\d:\d\d:\d\d\.\d+) \|", line)
        if stamp and stage:
            t = datetime.strptime(stamp.group(1), "%H:%M:%S.%f")
            first, last = first or t, t
    return times


def median_of(runs: int, fn) -> float:
    return statistics.median(fn() for _ in range(runs))


def matmul_gflops(runs: int) -> float:
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(3):
        a @ b

    def once() -> float:
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        return 10 * 2 * 2048 ** 3 / (time.perf_counter() - start) / 1e9
    return median_of(runs, once)


def prefect_startup(runs: int) -> tuple[float, float]:
    """Wall seconds of (a new process that imports the flows and runs an empty flow against a running Prefect
    server, as each stage of `s2f repro` does; starting that server, which `s2f repro` does once)."""
    from flows.server import serve, stop

    code = ("from flows.env import configure; configure()\n"
            "from prefect import flow\n@flow\ndef empty():\n    return 1\nempty()")
    starts: list[float] = []
    proc, url = None, ""
    for _ in range(runs):
        if proc is not None:
            stop(proc)
        start = time.perf_counter()
        proc, url = serve()
        starts.append(time.perf_counter() - start)

    def once() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "PREFECT_API_URL": url})
        return time.perf_counter() - start
    try:
        return median_of(runs, once), statistics.median(starts)
    finally:
        stop(proc)


def per_clip_work(params, clips: int, runs: int) -> dict[str, float]:
    """Seconds of each preprocessing stage's own work per clip, one clip after another, no Prefect."""
    from s2f.audio import stage as audio
    from s2f.faces import stage as faces
    from s2f.media import probe
    from s2f.shards import Shard
    from s2f.synth.corpus import plan_corpus, render_clip
    from s2f.tables import read_dataset

    table = read_dataset(params.paths.clips).sort_values("clip_id").head(clips)
    rows = table.to_dict("records")
    jobs = plan_corpus(params.synth)[:clips]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def timed(fn) -> float:
            start = time.perf_counter()
            fn()
            return (time.perf_counter() - start) / clips

        out["synth"] = median_of(runs, lambda: timed(lambda: [render_clip(j, params.synth, tmp / "synth")
                                                                for j in jobs]))
        out["ingest"] = median_of(runs, lambda: timed(lambda: [probe(r["path"]) for r in rows]))
        for name, mod, section, outputs in (("faces", faces, params.faces, faces.FacesOutputs),
                                            ("audio", audio, params.audio, audio.AudioOutputs)):
            def one_pass(mod=mod, section=section, name=name, outputs=outputs) -> float:
                out = outputs.under(tmp / f"{name}-{time.perf_counter_ns()}")
                return timed(lambda: [mod.run_shard(Shard(f"k{i}", [r]), section, out, {})
                                      for i, r in enumerate(rows)])
            one_pass()  # loads the detector and dlib's models once, as a worker does
            out[name] = median_of(runs, one_pass)
    return out


def step_gflop(kind: str, params, train_speakers: int = 1) -> float:
    """FLOPs (G) of one training step, forward and backward, at the stage's batch size (the voice loss compares
    each prediction with every train speaker's face)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from s2f.models.losses import VoiceTargets, adversarial, voice_loss
    from s2f.models.networks import DecoderConfig, EncoderConfig, FaceDecoder, PatchDiscriminator, VoiceEncoder

    with FlopCounterMode(display=False) as counter:
        if kind == "train_face":
            p = params.face_model
            decoder, critic = FaceDecoder(DecoderConfig(size=p.size, channels=tuple(p.channels))), PatchDiscriminator()
            fake, real = decoder(torch.randn(p.batch_size, 128)), torch.rand(p.batch_size, 3, p.size, p.size)
            (adversarial(critic(real), True) + adversarial(critic(fake.detach()), False)).backward()
            ((fake - real).abs().mean() + adversarial(critic(fake), True)).backward()
        else:
            p = params.voice_model
            cfg = EncoderConfig(**p.architecture(), dropout=p.dropout)
            # the frozen speaker embedding of a training crop is read from its cache (views_seconds), not computed
            known = (torch.nn.functional.normalize(torch.randn(p.batch_size, 256), dim=1)
                     if cfg.speaker != "none" else None)
            pred = VoiceEncoder(cfg)(torch.randn(p.batch_size, 2, cfg.frames, 257), known)
            faces = torch.nn.functional.normalize(torch.randn(train_speakers, 128), dim=1)
            targets = VoiceTargets(faces, torch.ones(128), torch.nn.Linear(128, 2048), torch.nn.Linear(128, 560))
            speaker = torch.randint(0, train_speakers, (p.batch_size,))
            weights = p.loss
            voice_loss(pred, faces[speaker], speaker, targets, weights)["loss"].backward()
    return counter.get_total_flops() / 1e9


def views_seconds(params, runs: int) -> float:
    """Seconds to embed one 6 s train clip's views before training (`voice_model.speaker`; 0 without it)."""
    import numpy as np

    from s2f.models.augment import Augmentation
    from s2f.models.data import Views
    from s2f.models.speaker import SpeakerEmbedding

    p = params.voice_model
    if p.speaker == "none":
        return 0.0
    speaker, views = SpeakerEmbedding().load_pretrained(), Views(Augmentation(**p.augment.model_dump()),
                                                                 p.speaker_views, p.seed)
    spec = np.random.default_rng(0).normal(0, 1, (2, 598, 257)).astype(np.float16)

    def once() -> float:
        start = time.perf_counter()
        views.partials(speaker, "clip", 0, spec)
        return time.perf_counter() - start
    return median_of(runs, once)


def evaluate_work(params, runs: int) -> dict[str, float]:
    """Seconds per dlib descriptor of a decoded face and per resemblyzer embedding of a clip's speech."""
    import numpy as np

    from s2f.evaluate.baselines import speaker_embeddings
    from s2f.faces.align import Aligner

    aligner = Aligner()
    chips = [np.random.default_rng(i).integers(0, 255, (150, 150, 3), dtype=np.uint8) for i in range(16)]
    waves = [np.random.default_rng(i).normal(0, 0.1, 16000 * 6).astype(np.float32) for i in range(8)]
    speaker_embeddings(waves[:1])  # loads the model

    def per(fn, n) -> float:
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) / n
    return {"descriptor": median_of(runs, lambda: per(lambda: [aligner.descriptor(c) for c in chips], len(chips))),
            "embedding": median_of(runs, lambda: per(lambda: speaker_embeddings(waves), len(waves)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, required=True, help="output of `make run` on the default params")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=16, help="clips the preprocessing floors are measured on")
    args = parser.parse_args()
    os.chdir(ROOT)
    from flows.env import configure

    configure()
    import yaml

    from s2f.config import Params
    from s2f.tables import read_dataset

    params = Params.model_validate(yaml.safe_load((ROOT / "params.yaml").read_text()))
    cores = os.cpu_count() or 1
    walls = stage_times(args.log.read_text())
    startup, server = prefect_startup(args.runs)
    gflops = matmul_gflops(args.runs)
    per_clip = per_clip_work(params, args.clips, args.runs)
    clips = read_dataset(params.paths.clips)
    n_clips = len(clips)
    n_train = int((clips.split == "train").sum())
    floors = {stage: startup + per_clip[stage] * n_clips / cores for stage in per_clip}

    faces = read_dataset(params.paths.faces, columns=["split"])
    face_train = int((faces.split == "train").sum())
    face_steps = params.face_model.epochs * math.ceil(face_train / params.face_model.batch_size)
    floors["train_face"] = startup + step_gflop("train_face", params) * face_steps / gflops
    voice = json.loads((ROOT / params.paths.train_voice_reports / "metrics.json").read_text())
    epochs = voice.get("epochs_run", params.voice_model.epochs)
    voice_steps = epochs * math.ceil(n_train / params.voice_model.batch_size)
    speakers = clips[clips.split == "train"].speaker_id.nunique()
    voice_gflop = step_gflop("train_voice", params, speakers)
    per_views = views_seconds(params, args.runs)
    floors["train_voice"] = startup + voice_gflop * voice_steps / gflops + per_views * n_train

    work = evaluate_work(params, args.runs)
    n_test = int((clips.split == "test").sum())
    lengths = len(params.evaluate.seconds)
    # distinct decoded faces read by dlib: train F2F (classifiers), test F2F, voice and resemblyzer at each length
    # and one mean face (the chance baseline's faces are train faces); embeddings: train clips once, test clips at
    # each length
    descriptors = n_train + n_test * (1 + 2 * lengths) + 1
    embeddings = n_train + n_test * lengths
    floors["evaluate"] = startup + (descriptors * work["descriptor"] + embeddings * work["embedding"]) / cores

    print(f"{cores} cores, torch.mm {gflops:.0f} GFLOP/s, Prefect start-up per stage {startup:.1f} s and its server's "
          f"start {server:.1f} s once (counted in the total); median of {args.runs} runs; walls from {args.log}")
    print("| stage | wall s | floor s | wall / floor | floor is |\n|---|---|---|---|---|")
    what = {"synth": f"{per_clip['synth']:.3f} s a clip (espeak-ng, drawing, x264)",
            "ingest": f"{per_clip['ingest']:.3f} s a clip (ffprobe)",
            "faces": f"{per_clip['faces']:.3f} s a clip (decode, BlazeFace, dlib)",
            "audio": f"{per_clip['audio']:.3f} s a clip (decode, STFT)",
            "train_face": f"{face_steps} steps at {step_gflop('train_face', params):.1f} GFLOP",
            "train_voice": f"{voice_steps} steps ({epochs} epochs) at {voice_gflop:.2f} GFLOP"
                           + (f", {n_train} clips' speaker views x {per_views:.3f} s" if per_views else ""),
            "evaluate": f"{descriptors} descriptors x {work['descriptor']:.3f} s, {embeddings} embeddings x "
                        f"{work['embedding']:.3f} s"}
    for stage in STAGES:
        wall = walls.get(stage)
        if wall is None:
            print(f"| {stage} | - | {floors[stage]:.0f} | - | {what[stage]} |")
            continue
        wall += startup  # the log's first line comes after the process has started Prefect
        print(f"| {stage} | {wall:.0f} | {floors[stage]:.0f} | {wall / floors[stage]:.2f} | {what[stage]} |")
    total = server + sum(walls.get(s, 0) + startup for s in STAGES if s in walls)
    floor = server + sum(floors.values())
    print(f"| all | {total:.0f} | {floor:.0f} | {total / floor:.2f} | with the server's start |")


if __name__ == "__main__":
    main()
