"""Speech for a synthetic speaker: espeak-ng sentences, fitted to an exact clip length."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from s2f.synth.attributes import Speaker

LEAD_S = 0.25  # silence before the first sentence
GAP_S = 0.3  # silence between sentences


@lru_cache(maxsize=1)
def sentences() -> tuple[str, ...]:
    """The project's sentence list (s2f/synth/sentences.txt)."""
    text = resources.files("s2f.synth").joinpath("sentences.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def espeak(text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
    """Synthesise one utterance with the speaker's voice; returns float32 samples in [-1, 1] and the rate."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", f"{speaker.accent}+{speaker.variant}", "-p", str(speaker.pitch),
             "-s", str(speaker.speed), "-w", str(wav), text],
            check=True, capture_output=True,
        )
        with wave.open(str(wav)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def speech_track(speaker: Speaker, seconds: float, rng: np.random.Generator) -> tuple[np.ndarray, int, list[str]]:
    """Exactly `seconds` of speech: random sentences from the list, in order, until the clip is full."""
    pool = sentences()
    chunks: list[np.ndarray] = []
    said: list[str] = []
    rate = 22050
    total = 0
    for idx in rng.permutation(len(pool)):
        samples, rate = espeak(pool[idx], speaker)
        if not chunks:
            chunks.append(np.zeros(int(LEAD_S * rate), np.float32))
        chunks += [samples, np.zeros(int(GAP_S * rate), np.float32)]
        said.append(pool[idx])
        total = sum(len(c) for c in chunks)
        if total >= seconds * rate:
            break
    audio = np.concatenate(chunks)[: int(round(seconds * rate))]
    fade = min(len(audio), int(0.02 * rate))
    audio[len(audio) - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return audio, rate, said


def loudness_envelope(audio: np.ndarray, rate: int, fps: int, n_frames: int) -> np.ndarray:
    """Per video frame loudness in [0, 1] (RMS, normalised by the clip's loud speech, lightly smoothed)."""
    hop = rate / fps
    rms = np.array([np.sqrt(np.mean(audio[int(i * hop): int((i + 1) * hop)] ** 2) + 1e-12) for i in range(n_frames)])
    ref = np.percentile(rms, 95)
    env = np.clip(rms / ref, 0, 1) if ref > 1e-4 else np.zeros(n_frames)
    env = np.convolve(np.pad(env, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    return np.where(env > 0.12, env, 0.0)
