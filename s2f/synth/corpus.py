"""The synthetic talking-face corpus: plan the clips, render each one, and write the corpus index.

Layout (VoxCeleb2-like, so the same ingest code reads it):
    <out>/mp4/<speaker>/<video>/00001.mp4
    <out>/meta.csv             VoxCeleb2 ID ,VGGFace2 ID ,Gender ,Set   (with VoxCeleb2's trailing spaces)
    <out>/attributes.parquet   every latent attribute and voice setting per speaker (evaluation ground truth)
    <out>/transcripts.csv      the sentences each clip says
Every clip is a pure function of (seed, speaker index, clip index): same seed, same bytes.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from s2f.atomic import atomic_write
from s2f.config import SynthParams
from s2f.media import encode_clip
from s2f.synth.attributes import Speaker, sample_speaker
from s2f.synth.face import FaceRenderer
from s2f.synth.voice import loudness_envelope, speech_track
from s2f.tables import write_parquet

ATTRIBUTES_SCHEMA_VERSION = 3  # 2: formant_scale, f2_scale, nasal; 3: engine, f0 (Hz) and f0_span for pitch


@dataclass(frozen=True)
class ClipJob:
    """One clip to render: which speaker, which of their clips, and where it goes below the corpus root."""

    speaker_index: int
    clip_index: int
    relpath: str


def video_id(seed: int, speaker_index: int, clip_index: int) -> str:
    """A YouTube-like 11-character video id, stable for (seed, speaker, clip)."""
    digest = hashlib.sha256(f"{seed}/{speaker_index}/{clip_index}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:11]


def plan_corpus(p: SynthParams) -> list[ClipJob]:
    jobs = []
    for s in range(p.speakers):
        spk = sample_speaker(p.seed, s).speaker_id
        for c in range(p.clips_per_speaker):
            jobs.append(ClipJob(s, c, f"mp4/{spk}/{video_id(p.seed, s, c)}/00001.mp4"))
    return jobs


def _motion(rng: np.random.Generator, n: int, fps: int) -> dict[str, np.ndarray]:
    """Smooth head motion, lighting drift, gaze and blinks for n frames."""
    t = np.arange(n) / fps

    def wave(amp: float, lo: float, hi: float) -> np.ndarray:
        f, phase = rng.uniform(lo, hi, 2), rng.uniform(0, 2 * np.pi, 2)
        return amp * (0.6 * np.sin(2 * np.pi * f[0] * t + phase[0]) + 0.4 * np.sin(2 * np.pi * f[1] * t + phase[1]))

    blink = np.zeros(n, bool)
    at = rng.exponential(2.5)
    while at * fps < n:
        start = int(at * fps)
        blink[start: start + 3] = True
        at += 0.5 + rng.exponential(2.5)
    return {"dx": wave(3.0, 0.1, 0.5), "dy": wave(2.0, 0.1, 0.5), "angle": wave(2.5, 0.05, 0.3),
            "light": 1 + wave(0.06, 0.02, 0.1), "gaze": wave(0.6, 0.05, 0.3), "blink": blink}


def render_clip(job: ClipJob, p: SynthParams, root: Path) -> dict:
    """Render one clip (speech, then frames with the mouth following its loudness) to root/job.relpath."""
    speaker = sample_speaker(p.seed, job.speaker_index)
    rng = np.random.default_rng([p.seed, job.speaker_index, job.clip_index, 0xC11])
    audio, rate, said = speech_track(speaker, p.seconds, rng)
    n = int(round(p.seconds * p.fps))
    envelope = loudness_envelope(audio, rate, p.fps, n)
    motion = _motion(rng, n, p.fps)
    renderer = FaceRenderer(speaker, p.size)
    frames = (
        renderer.frame(envelope[i], eyes_open=not motion["blink"][i], gaze=motion["gaze"][i], dx=motion["dx"][i],
                       dy=motion["dy"][i], angle=motion["angle"][i], light=motion["light"][i])
        for i in range(n)
    )
    encode_clip(frames, p.size, p.fps, audio, rate, root / job.relpath)
    return {"path": job.relpath, "speaker_id": speaker.speaker_id, "text": " ".join(said)}


def speakers(p: SynthParams) -> list[Speaker]:
    return [sample_speaker(p.seed, s) for s in range(p.speakers)]


def write_index(p: SynthParams, root: Path, rendered: list[dict]) -> None:
    """meta.csv (VoxCeleb2 format), attributes.parquet and transcripts.csv for a rendered corpus."""
    people = speakers(p)
    meta = pd.DataFrame({
        "VoxCeleb2 ID ": [f"{s.speaker_id} " for s in people],
        "VGGFace2 ID ": [f"n{i:06d} " for i in range(len(people))],
        "Gender ": [f"{s.gender} " for s in people],
        "Set ": ["dev " for _ in people],
    })
    _write_csv(meta, root / "meta.csv")
    _write_csv(pd.DataFrame(rendered).sort_values("path"), root / "transcripts.csv")
    attrs = pa.Table.from_pylist([s.as_row() for s in people])
    write_parquet(attrs, root / "attributes.parquet", dataset="synth_attributes",
                  schema_version=ATTRIBUTES_SCHEMA_VERSION, params=p.model_dump(mode="json"))


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
