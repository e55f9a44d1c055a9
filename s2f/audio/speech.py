"""A clip's speech: decode, trim silence, reject what cannot be used, cut into fixed-length segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2f.audio.spectrogram import SAMPLE_RATE, tile_to
from s2f.config import AudioParams

FRAME = 400  # 25 ms RMS frames for trimming
SILENT_PEAK_DB = -60.0  # a clip whose loudest 25 ms is below this is silent
TARGET_RMS_DB = -20.0  # audio.normalize level


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the clip's audio (or of its segment)
    samples: np.ndarray  # float32, exactly audio.seconds long


def _db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-12))


def frame_rms(samples: np.ndarray) -> np.ndarray:
    n = len(samples) // FRAME
    return np.sqrt(np.mean(samples[: n * FRAME].reshape(n, FRAME) ** 2, axis=1)) if n else np.zeros(0)


def trim_silence(samples: np.ndarray, silence_db: float) -> tuple[np.ndarray, float]:
    """Drop leading and trailing frames quieter than peak + silence_db; returns (audio, start offset in s)."""
    rms = frame_rms(samples)
    loud = np.flatnonzero(rms > rms.max() * 10 ** (silence_db / 20)) if len(rms) else []
    if len(loud) == 0:
        return samples[:0], 0.0
    first, last = loud[0] * FRAME, (loud[-1] + 1) * FRAME
    return samples[first:last], first / SAMPLE_RATE


def segments(samples: np.ndarray, p: AudioParams) -> tuple[list[Segment], tuple[str, str] | None]:
    """Fixed-length segments of a clip's speech, or (reason, detail) for a reject."""
    if len(samples) == 0:
        return [], ("undecodable", "no audio samples decoded")
    rms = frame_rms(samples)
    peak = float(rms.max()) if len(rms) else float(np.sqrt(np.mean(samples**2)))
    if _db(peak) < SILENT_PEAK_DB:
        return [], ("silent", f"loudest 25 ms at {_db(peak):.0f} dBFS (< {SILENT_PEAK_DB:.0f})")
    speech, offset = trim_silence(samples, p.silence_db)
    have = len(speech) / SAMPLE_RATE
    if have < p.min_seconds:
        return [], ("too short after trimming", f"{have:.2f} s of speech < audio.min_seconds {p.min_seconds} s")
    length = int(round(p.seconds * SAMPLE_RATE))
    count = max(1, min(p.segments_per_clip, len(speech) // length))
    out = []
    for k in range(count):
        piece = tile_to(speech[k * length:(k + 1) * length], length)
        if p.normalize:
            piece = piece * (10 ** (TARGET_RMS_DB / 20) / max(float(np.sqrt(np.mean(piece**2))), 1e-8))
        out.append(Segment(offset + k * length / SAMPLE_RATE, piece.astype(np.float32)))
    return out, None
