"""Open one candidate clip with ffprobe and either describe it or say why it cannot be used."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from s2f.hashing import sha256_file
from s2f.ingest.sources import Candidate, Reject
from s2f.media import displayed_size, ffmpeg_message, probe, video_stream


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def _truncated(info: dict[str, Any], size: int) -> bool:
    """MP4/MOV index (moov) claims more sample bytes than the file holds: the file was cut short.

    ffprobe derives an MP4 stream's bit_rate from its sample-size table, so rate x duration is what the
    index says the file should carry. (A cut file without moov fails probing outright.)
    """
    if "mp4" not in info["format"].get("format_name", "") and "mov" not in info["format"].get("format_name", ""):
        return False
    expected = sum(float(s.get("bit_rate", 0)) * float(s.get("duration", 0)) / 8 for s in info["streams"])
    return expected > size * 1.01 + 4096


def inspect(c: Candidate, min_seconds: float) -> dict[str, Any] | Reject:
    """A clip-table row (without id or split) for a usable clip, else a Reject with a clear reason."""
    path = Path(c.path)

    def reject(reason: str, detail: str) -> Reject:
        return Reject(c.path, c.source_row, reason, detail)

    if not path.is_file():
        return reject("missing file", "file not found")
    size = path.stat().st_size
    if size == 0:
        return reject("empty file", "0 bytes")
    try:
        info = probe(path)
    except ffmpeg.Error as err:
        return reject("unreadable", ffmpeg_message(err))
    streams = info.get("streams", [])
    video = video_stream(streams)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        return reject("no video stream", f"streams: {[s.get('codec_type') for s in streams]}")
    if audio is None:
        return reject("no audio stream", f"streams: {[s.get('codec_type') for s in streams]}")
    if _truncated(info, size):
        return reject("truncated", f"index describes more data than the file's {size} bytes")
    duration = float(info["format"].get("duration") or video.get("duration") or 0.0)
    if duration <= 0:
        return reject("unreadable", "no duration")
    if c.segment_start is not None and c.segment_end is not None:
        if not 0 <= c.segment_start < c.segment_end <= duration + 0.5:
            return reject("bad segment", f"{c.segment_start}-{c.segment_end} s outside the file's {duration:.2f} s")
        usable = c.segment_end - c.segment_start
    else:
        usable = duration
    if usable < min_seconds:
        return reject("too short", f"{usable:.2f} s < ingest.min_seconds {min_seconds} s")
    width, height = displayed_size(video)  # a portrait phone video is stored landscape with a rotation
    return {
        "speaker_id": c.speaker_id, "path": c.path, "source_row": c.source_row, "duration": usable,
        "fps": _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        "width": width, "height": height,
        "video_codec": video.get("codec_name", ""), "audio_sample_rate": int(audio.get("sample_rate", 0)),
        "audio_channels": int(audio.get("channels", 0)), "audio_codec": audio.get("codec_name", ""),
        "segment_start": c.segment_start, "segment_end": c.segment_end, "face_x": c.face_x, "face_y": c.face_y,
        "gender": c.gender, "size_bytes": size, "sha256": sha256_file(path),
    }


def inspect_shard(cands: list[Candidate], min_seconds: float) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Inspect a shard of candidates; never raises for a bad file."""
    rows, rejects = [], []
    for c in cands:
        try:
            out = inspect(c, min_seconds)
        except Exception as exc:  # a broken file must become a reject, never stop the stage
            out = Reject(c.path, c.source_row, "unreadable", f"{type(exc).__name__}: {exc}")
        (rejects if isinstance(out, Reject) else rows).append(out)
    return rows, rejects
