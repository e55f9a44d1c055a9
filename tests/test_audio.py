"""The audio front end, pinned to the paper's formula, and the audio stage's segments and rejects."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from s2f.audio.spectrogram import SAMPLE_RATE, n_frames, spectrogram, tile_to
from s2f.audio.speech import segments, trim_silence
from s2f.audio.stage import AudioOutputs, clip_audio, run_shard, spectrogram_array
from s2f.config import AudioParams
from s2f.shards import Shard
from s2f.tables import read_dataset
from tests.conftest import TINY, lavfi_clip, real_stage


def numpy_reference(x: np.ndarray) -> np.ndarray:
    """The paper's front end written out directly: framed, periodic-Hann-windowed 512-point rFFT, no centring,
    then sign(x)|x|^0.3 on the real and imaginary parts separately."""
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    count = (len(x) - 400) // 160 + 1
    frames = np.stack([x[i * 160:i * 160 + 400] * win for i in range(count)])
    spec = np.fft.rfft(frames, n=512, axis=1)
    return np.stack([np.sign(spec.real) * np.abs(spec.real) ** 0.3, np.sign(spec.imag) * np.abs(spec.imag) ** 0.3])


def test_spectrogram_matches_the_formula_and_the_paper_shape():
    x = np.random.default_rng(0).normal(0, 0.1, 6 * SAMPLE_RATE).astype(np.float32)
    ours = spectrogram(x)
    assert ours.shape == (2, 598, 257) == (2, n_frames(6.0), 257)
    ref = numpy_reference(x.astype(np.float64))
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=2e-3)
    # The compression is on real and imaginary parts, not on magnitude and phase (a known reimplementation bug).
    raw = np.fft.rfft(np.stack([x[i * 160:i * 160 + 400].astype(np.float64) * (0.5 - 0.5 * np.cos(
        2 * np.pi * np.arange(400) / 400)) for i in range(598)]), n=512, axis=1)
    magnitude_phase = np.abs(raw) ** 0.3 * np.cos(np.angle(raw))
    assert np.abs(ours[0] - magnitude_phase).mean() > 0.1


def test_short_speech_is_tiled_to_six_seconds():
    two = np.random.default_rng(1).uniform(-0.5, 0.5, 2 * SAMPLE_RATE).astype(np.float32)
    (seg,), problem = segments(two, AudioParams())
    assert problem is None and seg.start == 0.0 and len(seg.samples) == 6 * SAMPLE_RATE
    assert np.array_equal(seg.samples[:32000], two) and np.array_equal(seg.samples[32000:64000], two)
    assert np.array_equal(seg.samples[64000:], two)
    assert spectrogram(seg.samples).shape == (2, 598, 257)
    assert np.array_equal(tile_to(np.arange(3.0), 7), [0, 1, 2, 0, 1, 2, 0])


def test_long_speech_gives_non_overlapping_segments_after_trimming():
    rng = np.random.default_rng(2)
    audio = np.concatenate([np.zeros(8000), rng.uniform(-0.5, 0.5, 13 * SAMPLE_RATE), np.zeros(4000)])
    segs, _ = segments(audio.astype(np.float32), AudioParams(segments_per_clip=3))
    assert [s.start for s in segs] == [0.5, 6.5]  # 13 s of speech holds two 6 s segments, after 0.5 s silence
    assert np.array_equal(segs[1].samples, audio[8000 + 96000:8000 + 192000].astype(np.float32))
    trimmed, offset = trim_silence(audio, -40)
    assert offset == 0.5 and len(trimmed) == 13 * SAMPLE_RATE


def test_normalize_sets_the_level():
    quiet = np.random.default_rng(3).uniform(-0.01, 0.01, 3 * SAMPLE_RATE).astype(np.float32)
    (seg,), _ = segments(quiet, AudioParams(normalize=True))
    assert abs(20 * np.log10(np.sqrt(np.mean(seg.samples**2))) - (-20)) < 0.1


def test_audio_rejects_and_segments_honoured(tmp_path: Path, tiny_clips: list[Path]):
    tone = lavfi_clip(tmp_path / "tone.mp4", 3.0)
    silent = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25:duration=3",
                    "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3", "-c:v", "libx264",
                    "-c:a", "aac", str(silent)], check=True)
    burst = tmp_path / "burst.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25:duration=3",
                    "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=0.4", "-af", "apad",
                    "-t", "3", "-c:v", "libx264", "-c:a", "aac", str(burst)], check=True)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 5000)
    rows = [{"clip_id": f"c{i}", "speaker_id": "s", "split": "train", "path": str(p), "sha256": str(i),
             "segment_start": None, "segment_end": None} for i, p in enumerate([tone, silent, burst, garbage])]
    rows.append({**rows[0], "clip_id": "c4", "path": str(tiny_clips[0]), "segment_start": 0.5,
                 "segment_end": 1.5})
    rows.append({**rows[0], "clip_id": "c5", "segment_start": "zero", "segment_end": 1.5})  # a broken row
    p = AudioParams(seconds=2.0, min_seconds=0.8)
    counts = run_shard(Shard("k1", rows), p, AudioOutputs.under(tmp_path / "out"), {})
    specs = read_dataset(tmp_path / "out/spectrograms")
    rejects = read_dataset(tmp_path / "out/audio_rejects").set_index("clip_id")
    assert counts == {"clips": 6, "segments": 2, "rejects": 4}
    assert sorted(specs.clip_id) == ["c0", "c4"]
    assert rejects.reason.to_dict() == {"c1": "silent", "c2": "too short after trimming", "c3": "undecodable",
                                        "c5": "failed"}
    assert spectrogram_array(specs.iloc[0]).shape == (2, n_frames(2.0), 257)
    assert abs(len(clip_audio(rows[4], p)) - SAMPLE_RATE) < 400  # the 0.5-1.5 s cut, not the whole clip
    assert run_shard(Shard("k1", rows), p, AudioOutputs.under(tmp_path / "out"), {}) == {"skipped": 1}


def test_a_long_recording_is_read_only_as_far_as_the_stage_needs(tmp_path: Path):
    """An hour-long file costs what a minute-long one does: at most seconds x segments + LEAD_SECONDS is decoded."""
    from s2f.audio.stage import LEAD_SECONDS, read_seconds

    long = lavfi_clip(tmp_path / "long.m4a", 150.0, video=False, fmt="mp4")
    p = AudioParams(seconds=2.0, segments_per_clip=3)
    assert read_seconds(p) == 6.0 + LEAD_SECONDS < 150
    assert abs(len(clip_audio({"path": str(long)}, p)) - read_seconds(p) * SAMPLE_RATE) < 2048
    pieces, problem = segments(clip_audio({"path": str(long)}, p), p)
    assert problem is None and len(pieces) == 3


def test_audio_stage_on_the_synthetic_corpus(tiny_processed: Path, tiny_clips: list[Path]):
    specs = read_dataset(tiny_processed / "spectrograms")
    assert len(specs) == len(tiny_clips) and read_dataset(tiny_processed / "audio_rejects").empty
    assert specs["values"].map(len).eq(2 * n_frames(TINY.seconds) * 257).all()
    assert str(pd.Series(specs["values"][0]).dtype) == "float16"


def test_real_clips_get_spectrograms(realdata: Path, real_clips: Path):
    real_processed = real_stage("audio", real_clips)
    manifest = pd.read_csv(realdata / "manifest.csv")
    clips = read_dataset(real_processed / "clips")
    want = set(clips[clips.path.map(lambda p: Path(p).name).isin(
        manifest[manifest.duration_s >= 1.5].file.map(lambda f: Path(f).name))].clip_id)
    specs = read_dataset(real_processed / "spectrograms", columns=["clip_id", "shape"])
    assert want and want <= set(specs.clip_id)
    assert all(list(s) == [2, 598, 257] for s in specs["shape"])


_STAGE = """import sys
from s2f.audio import stage
from s2f.config import AudioParams
from tests.stages import run_stage
run_stage(stage.run_shard, AudioParams(shard_size=3, seconds=2.0), sys.argv[1], stage.AudioOutputs.under(sys.argv[2]))
"""


def test_the_audio_stage_writes_the_same_bytes_under_every_cpu_kernel(tiny_processed: Path, tmp_path: Path):
    """Another machine, simulated: torch's default (no SIMD) and AVX2 kernels give the same spectrogram files
    (and so do AVX-512's where the CPU has it); ffmpeg decodes audio with the SSE2 every x86-64 CPU has."""
    import os
    import platform
    import shutil
    import sys

    from s2f.hashing import sha256_file
    from s2f.media import CPUFLAGS

    hashes, out = {}, tmp_path / "out"  # one output path: it is among the params recorded in the parts
    for capability in ("default", "avx2"):
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([sys.executable, "-c", _STAGE, str(tiny_processed / "clips"), str(out)], check=True,
                       cwd=Path(__file__).parents[1], env={**os.environ, "ATEN_CPU_CAPABILITY": capability})
        hashes[capability] = {p.relative_to(out).as_posix(): sha256_file(p) for p in sorted(out.rglob("*.parquet"))}
    assert len(hashes["default"]) >= 4 and hashes["default"] == hashes["avx2"]
    assert (platform.machine() != "x86_64") or CPUFLAGS == ("-cpuflags", "mmx+mmxext+sse+sse2")


def test_audio_is_decoded_with_the_pinned_cpu_flags(tiny_clips: list[Path]):
    """What the stage decodes is ffmpeg's output under the pinned flags, byte for byte."""
    from s2f.media import CPUFLAGS, decode_audio

    cli = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", *CPUFLAGS, "-i", str(tiny_clips[0]),
                          "-f", "f32le", "-ac", "1", "-ar", "16000", "pipe:"], check=True, capture_output=True).stdout
    assert decode_audio(tiny_clips[0]).tobytes() == cli
