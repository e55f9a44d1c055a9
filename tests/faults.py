"""A fault corpus made from the real clips in ../shared/realdata with ffmpeg and espeak-ng: broken, odd and good
media, each with what every stage must make of it (`tests/test_faults.py` runs it in `make test`).

    python -m tests.faults OUT     # write the corpus to OUT (a folder source: OUT/clips, OUT/speakers.csv)

Every file is cut to a few seconds at a few hundred pixels (except where size or length is the case), so the
whole corpus is made in about 20 s and goes through ingest, faces and audio in about a minute.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REALDATA, espeak_wav

ROOT = "clips"  # the folder source's root inside the corpus; speakers.csv and outside.mp4 lie beside it
CSV = "speakers.csv"
MAN, WOMAN, OTHER = "S01_1.mp4", "S03_1.mp4", "S04_1.mp4"  # real clips: a man, a woman, another woman


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what each stage must make of it: a reject reason, or None for a usable clip.
    A stage's field is ignored when an earlier stage rejected the clip."""

    name: str  # relative to the corpus root; '../x' lies outside it
    what: str
    ingest: str | None = None
    faces: str | None = None
    audio: str | None = None
    listed: bool = True  # a row in speakers.csv
    gender: str = "m"
    predict: str | None = None  # `s2f predict`: words of its one-line error, or None for a drawn face
    compare: bool = True  # `s2f predict --compare` finds a real face to put beside the drawn one


CASES = [
    Case("good.mp4", "a real talking head (a man), 360 px, 3 s"),
    Case("zz_copy.mp4", "the same bytes as good.mp4", ingest="duplicate"),
    Case("-dash.mp4", "a name ffprobe would read as an option", gender="f"),
    Case("space ünï.mkv", "spaces and non-ASCII in the name; Matroska", gender="f"),
    Case("odd.webm", "VP9 and Opus at an odd frame size (359 x 299)", gender="f"),
    Case("stereo48k.mov", "48 kHz stereo AAC in QuickTime"),
    Case("phone.mp4", "portrait phone video: stored 700 x 400 on its side, shown upright by a display rotation"),
    Case("wide_1080p.mp4", "1920 x 1080, the head half the frame's height"),
    Case("far_1080p.mp4", "1920 x 1080, the head 200 px of 1080", faces="face too small", compare=False),
    Case("long.mp4", "a minute of the real clip, looped"),
    Case("still_espeak.mp4", "one frame of a real face held, with an espeak-ng voice", gender="f"),
    Case("no_face.mp4", "real speech over a test pattern", faces="no face", compare=False),
    Case("two_faces.mp4", "two real speakers side by side, no face-centre hint", faces="several faces",
         compare=False),
    Case("glimpse.mp4", "the face for the first 0.3 s, then black", faces="too few good frames"),
    Case("mute.mp4", "a real face with a silent soundtrack", audio="silent", predict="no speech found"),
    Case("burst.mp4", "a real face, 0.4 s of espeak-ng speech, then silence", audio="too short after trimming",
         predict="s of speech; predict.min_seconds is 1.5 s"),
    Case("empty.mp4", "zero bytes", ingest="empty file", predict="cannot decode audio"),
    Case("garbage.mp4", "text named .mp4", ingest="unreadable", predict="cannot decode audio"),
    Case("truncated.mp4", "the first half of good.mp4's bytes", ingest="truncated",
         predict="only 1.20 s of speech"),
    Case("silent_film.mp4", "video without an audio stream", ingest="no audio stream",
         predict="cannot decode audio"),
    Case("radio.mp4", "real speech without a video stream", ingest="no video stream", compare=False),
    Case("short.mp4", "1 s of a real clip (ingest.min_seconds is 1.5)", ingest="too short",
         predict="s of speech; predict.min_seconds is 1.5 s"),
    Case("unlisted.mp4", "a good clip that speakers.csv does not name", ingest="no speaker", listed=False),
    Case("missing.mp4", "a speakers.csv row whose file is absent", ingest="missing file"),
    Case("../outside.mp4", "a speakers.csv row naming a file beside the root, not below it", ingest="outside root"),
]
BY_NAME = {c.name: c for c in CASES}


def _ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def _h264(*extra: str) -> list[str]:
    return ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", *extra]


def _speech(real: Path, out: Path, seconds: float = 3.0, size: int = 360, *extra: str) -> None:
    """`seconds` of a real clip at `size` px, H.264 and AAC."""
    _ffmpeg("-i", real, "-t", seconds, "-vf", f"scale={size}:{size}", *_h264(), "-c:a", "aac", *extra, out)


def _wide(face_height: int) -> Callable[[Path, Path, Path], None]:
    def make(real: Path, out: Path, tmp: Path) -> None:
        _ffmpeg("-i", real / MAN, "-t", 3, "-vf",
                f"scale=-2:{face_height},pad=1920:1080:(ow-iw)/2:(oh-ih)/3:color=gray", *_h264(), "-c:a", "aac",
                out)
    return make


def _phone(real: Path, out: Path, tmp: Path) -> None:
    sideways = tmp / "sideways.mp4"
    _ffmpeg("-i", real / MAN, "-t", 3, "-vf", "crop=400:700,transpose=1", *_h264(), "-c:a", "aac", sideways)
    _ffmpeg("-i", sideways, "-c", "copy", "-metadata:s:v:0", "rotate=270", out)


def _still(real: Path, out: Path, tmp: Path) -> None:
    frame, voice = tmp / "frame.png", espeak_wav(tmp / "voice.wav", "The quick brown fox jumps over the lazy dog.")
    _ffmpeg("-ss", 1, "-i", real / WOMAN, "-frames:v", 1, "-vf", "scale=360:360", frame)
    _ffmpeg("-loop", 1, "-framerate", 25, "-i", frame, "-i", voice, "-shortest", *_h264(), "-c:a", "aac", out)


def _burst(real: Path, out: Path, tmp: Path) -> None:
    voice = espeak_wav(tmp / "hi.wav", "Hi.")
    _ffmpeg("-i", real / MAN, "-i", voice, "-map", "0:v", "-map", "1:a", "-t", 3, "-vf", "scale=360:360",
            "-af", "apad", *_h264(), "-c:a", "aac", out)


def _maker(case: str) -> Callable[[Path, Path, Path], None]:
    """How each case is made: (realdata clips folder, output file, scratch folder)."""
    root = lambda out: out.parent  # noqa: E731  (the corpus root, where good.mp4 is made first)
    makers: dict[str, Callable[[Path, Path, Path], None]] = {
        "good.mp4": lambda real, out, tmp: _speech(real / MAN, out, 3.0, 360, "-movflags", "+faststart"),
        "zz_copy.mp4": lambda real, out, tmp: shutil.copyfile(root(out) / "good.mp4", out),
        "-dash.mp4": lambda real, out, tmp: _speech(real / WOMAN, out),
        "space ünï.mkv": lambda real, out, tmp: _speech(real / OTHER, out),
        "odd.webm": lambda real, out, tmp: _ffmpeg(
            "-i", real / WOMAN, "-t", 3, "-vf", "scale=359:299", "-c:v", "libvpx-vp9", "-deadline", "realtime",
            "-cpu-used", 8, "-c:a", "libopus", out),
        "stereo48k.mov": lambda real, out, tmp: _speech(real / MAN, out, 3.0, 360, "-ac", "2", "-ar", "48000"),
        "phone.mp4": _phone,
        "wide_1080p.mp4": _wide(540),
        "far_1080p.mp4": _wide(200),
        "long.mp4": lambda real, out, tmp: _ffmpeg("-stream_loop", 19, "-i", root(out) / "good.mp4", "-c", "copy",
                                                   out),
        "still_espeak.mp4": _still,
        "no_face.mp4": lambda real, out, tmp: _ffmpeg(
            "-f", "lavfi", "-i", "testsrc=size=360x360:rate=25", "-i", real / MAN, "-map", "0:v", "-map", "1:a",
            "-t", 3, *_h264(), "-c:a", "aac", out),
        "two_faces.mp4": lambda real, out, tmp: _ffmpeg(
            "-i", real / MAN, "-i", real / OTHER, "-t", 3, "-filter_complex",
            "[0:v]scale=300:300[a];[1:v]scale=300:300[b];[a][b]hstack", "-map", "0:a", *_h264(), "-c:a", "aac",
            out),
        "glimpse.mp4": lambda real, out, tmp: _ffmpeg(
            "-i", real / MAN, "-t", 3, "-vf",
            "scale=360:360,drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='gte(t,0.3)'", *_h264(),
            "-c:a", "aac", out),
        "mute.mp4": lambda real, out, tmp: _ffmpeg(
            "-i", real / MAN, "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-map", "0:v", "-map", "1:a",
            "-t", 3, "-vf", "scale=360:360", *_h264(), "-c:a", "aac", out),
        "burst.mp4": _burst,
        "empty.mp4": lambda real, out, tmp: out.write_bytes(b""),
        "garbage.mp4": lambda real, out, tmp: out.write_text("this is not a video at all\n" * 100),
        "truncated.mp4": lambda real, out, tmp: out.write_bytes(
            (root(out) / "good.mp4").read_bytes()[: (root(out) / "good.mp4").stat().st_size // 2]),
        "silent_film.mp4": lambda real, out, tmp: _ffmpeg("-i", real / MAN, "-t", 3, "-an", "-vf", "scale=360:360",
                                                          *_h264(), out),
        "radio.mp4": lambda real, out, tmp: _ffmpeg("-i", real / WOMAN, "-t", 3, "-vn", "-c:a", "aac", out),
        "short.mp4": lambda real, out, tmp: _speech(real / OTHER, out, 1.0),
        "unlisted.mp4": lambda real, out, tmp: _speech(real / OTHER, out, 2.0),
        "missing.mp4": lambda real, out, tmp: None,
        "../outside.mp4": lambda real, out, tmp: _speech(real / WOMAN, out, 2.0),
    }
    return makers[case]


def build(realdata: Path, out: Path) -> Path:
    """Write every case under out/clips (and outside.mp4 beside it) and out/speakers.csv; returns out."""
    root, scratch = out / ROOT, out / "scratch"
    root.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(exist_ok=True)
    for case in CASES:  # good.mp4 first: the copy, the loop and the truncation are made from it
        _maker(case.name)(realdata / "clips", root / case.name, scratch)
    shutil.rmtree(scratch)
    with (out / CSV).open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "speaker_id", "gender"])
        for i, case in enumerate(c for c in CASES if c.listed):
            writer.writerow([case.name, f"F{i:02d}", case.gender])
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.faults OUT")
    print(build(REALDATA, Path(sys.argv[1])))
