"""ffmpeg through ffmpeg-python: probing, encoding a clip from frames and audio, decoding frames."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

from s2f.atomic import atomic_write


def ffmpeg_message(err: ffmpeg.Error) -> str:
    """The last meaningful line of ffmpeg's stderr, for a reject reason or an error."""
    lines = [ln.strip() for ln in (err.stderr or b"").decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else str(err)


def media_arg(path: str | Path) -> str:
    """A file name as ffmpeg must be given it: absolute, so `-clip.mp4` is not read as an option and
    `http:clip.mp4` not as a URL."""
    return os.path.abspath(path)


def probe(path: str | Path) -> dict[str, Any]:
    """ffprobe's format and streams of a file (raises ffmpeg.Error when it cannot be read)."""
    return ffmpeg.probe(media_arg(path))


def video_stream(streams: list[dict[str, Any]]) -> dict[str, Any] | None:
    """ffprobe's first video stream that is not an attached picture (an audio file's cover art), or None."""
    return next((s for s in streams if s.get("codec_type") == "video"
                 and not s.get("disposition", {}).get("attached_pic")), None)


def rotation(video: dict[str, Any]) -> int:
    """The display rotation of an ffprobe video stream in degrees (a phone's portrait video: +-90)."""
    for side in video.get("side_data_list", []):
        if "rotation" in side:
            return round(float(side["rotation"]))
    return int(float(video.get("tags", {}).get("rotate", 0) or 0))


def displayed_size(video: dict[str, Any]) -> tuple[int, int]:
    """(width, height) as shown, which is what ffmpeg decodes: stored size turned by the display rotation."""
    width, height = int(video.get("width", 0)), int(video.get("height", 0))
    return (height, width) if rotation(video) % 180 == 90 else (width, height)


def encode_clip(frames: Iterable[np.ndarray], size: int, fps: int, audio: np.ndarray, rate: int, out: Path,
                audio_rate: int = 16000) -> Path:
    """Write an H.264 + AAC mp4 from RGB frames and float audio, atomically and bit-exactly.

    Single-threaded x264 and +bitexact make the same inputs give the same bytes, and CPUFLAGS and X264_PARAMS the
    same bytes on any x86-64 CPU, so the corpus is reproducible.
    """
    return atomic_write(out, lambda tmp: _encode(frames, size, fps, audio, rate, tmp, audio_rate))


def _encode(frames: Iterable[np.ndarray], size: int, fps: int, audio: np.ndarray, rate: int, out: Path,
            audio_rate: int) -> None:
    wav = out.with_suffix(".f32")
    try:
        np.asarray(audio, "<f4").tofile(wav)
        video_in = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{size}x{size}", framerate=fps)
        audio_in = ffmpeg.input(str(wav), format="f32le", ar=rate, ac=1)
        proc = (
            ffmpeg.output(video_in, audio_in, str(out), vcodec="libx264", pix_fmt="yuv420p", preset="veryfast",
                          crf=20, threads=1, acodec="aac", audio_bitrate="64k", ar=audio_rate, ac=1,
                          movflags="+faststart", fflags="+bitexact", map_metadata=-1,
                          **{"flags:v": "+bitexact", "flags:a": "+bitexact", "x264-params": X264_PARAMS})
            .global_args("-hide_banner", "-loglevel", "error", *CPUFLAGS)
            .overwrite_output()
            .run_async(pipe_stdin=True, pipe_stderr=True)
        )
        try:
            for frame in frames:
                proc.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
        finally:
            proc.stdin.close()
            err = proc.stderr.read()
            proc.stderr.close()
        if proc.wait() != 0:
            raise ffmpeg.Error("ffmpeg", b"", err)
    finally:
        wav.unlink(missing_ok=True)


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Frame size with the short side at most `max_side`, aspect kept, even sides."""
    scale = min(1.0, max_side / min(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def segment_cut(clip: dict[str, Any]) -> tuple[float | None, float | None]:
    """(start, duration) for decode_frames/decode_audio from a clip-table row; (None, None) = whole file."""
    start, end = clip.get("segment_start"), clip.get("segment_end")
    if start is None or end is None or math.isnan(start) or math.isnan(end):  # NaN: a pandas row's missing value
        return None, None
    return start, end - start


def _segment(stream_kwargs: dict, start: float | None, duration: float | None) -> dict:
    if start is not None:
        stream_kwargs["ss"] = start
    if duration is not None:
        stream_kwargs["t"] = duration
    return stream_kwargs


def decode_frames(path: str | Path, width: int, height: int, fps: float | None = None, start: float | None = None,
                  duration: float | None = None) -> Iterator[np.ndarray]:
    """Stream RGB frames scaled to width x height (optionally resampled to `fps`, or cut), one at a time.

    Only one frame is in memory at a time, however long the clip.
    """
    stream = ffmpeg.input(media_arg(path), **_segment({}, start, duration))
    if fps:
        stream = stream.filter("fps", fps=fps)
    stream = stream.filter("scale", width, height)
    proc = (stream.output("pipe:", format="rawvideo", pix_fmt="rgb24")
            .global_args("-hide_banner", "-loglevel", "error", "-nostdin").run_async(pipe_stdout=True))
    nbytes = width * height * 3
    try:
        while chunk := proc.stdout.read(nbytes):
            if len(chunk) < nbytes:
                break
            yield np.frombuffer(chunk, np.uint8).reshape(height, width, 3)
    finally:
        proc.stdout.close()
        proc.wait()


# ffmpeg's float audio code (the AAC decoder, the resampler) has SSE, AVX and AVX2/FMA versions that round
# differently, so decoded samples would depend on the CPU; so do encoded clips (measured: one clip encoded with
# ffmpeg's SIMD left alone, pinned to SSE2, and up to AVX gave three files). On x86-64 audio is decoded, and clips
# are encoded, with the SIMD every x86-64 CPU has (SSE2), which makes them the same on any machine with the same
# ffmpeg build. Video decoding and scaling give the same bytes with or without the newer instructions, so they
# are left alone.
CPUFLAGS = ("-cpuflags", "mmx+mmxext+sse+sse2") if platform.machine() in ("x86_64", "AMD64") else ()
# x264's own assembly makes choices that depend on the CPU unless told not to (measured: the same clip came out
# different with x264's assembly on and off); cpu-independent makes every CPU encode what the plain C code does.
X264_PARAMS = "cpu-independent=1"


def decode_audio(path: str | Path, rate: int = 16000, start: float | None = None,
                 duration: float | None = None) -> np.ndarray:
    """The soundtrack (or a cut of it) as float32 mono at `rate`; raises ffmpeg.Error if it cannot be decoded."""
    out, _ = (ffmpeg.input(media_arg(path), **_segment({}, start, duration))
              .output("pipe:", format="f32le", ac=1, ar=rate)
              .global_args("-hide_banner", "-loglevel", "error", "-nostdin", *CPUFLAGS)
              .run(capture_stdout=True, capture_stderr=True))
    return np.frombuffer(out, "<f4")
