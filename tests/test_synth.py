"""The synthetic corpus: deterministic, VoxCeleb2-shaped, voices that follow faces, faces a detector finds."""

from __future__ import annotations

import subprocess
import wave
from dataclasses import replace
from pathlib import Path

import mediapipe as mp
import numpy as np
import pandas as pd
from mediapipe.tasks.python import BaseOptions, vision

from s2f.blazeface import MODEL_SHA256, model_path
from s2f.hashing import sha256_file
from s2f.media import decode_audio, decode_frames, probe
from s2f.synth.attributes import (
    ACCENTS,
    F0_MEDIAN,
    FEMALE_VARIANTS,
    FESTIVAL_VOICES,
    MALE_VARIANTS,
    SHARED_VARIANTS,
    sample_speaker,
)
from s2f.synth.corpus import plan_corpus, render_clip
from s2f.synth.face import FaceRenderer
from s2f.synth.voice import RATE, espeak, festival_scale, loudness_envelope, say
from s2f.tables import read_dataset, read_meta
from tests.conftest import TINY, render_corpus


def test_speaker_depends_only_on_seed_and_index():
    assert sample_speaker(3, 11) == sample_speaker(3, 11)
    assert sample_speaker(3, 11) != sample_speaker(4, 11)
    small = TINY.model_copy(update={"speakers": 2})
    assert plan_corpus(small) == plan_corpus(TINY)[: 2 * TINY.clips_per_speaker]


def test_voice_settings_follow_the_face_and_details_do_not():
    people = pd.DataFrame([sample_speaker(0, i).as_row() for i in range(3000)])
    size = people.face_width / people.face_width.std() + people.face_height / people.face_height.std()
    for gender in ("f", "m"):
        own = people[people.gender == gender]
        assert own.f0.corr(size[own.index]) < -0.2
        assert abs(own.f0.median() / F0_MEDIAN[gender == "f"] - 1) < 0.05
    assert people.groupby("gender").f0.median().pipe(lambda f: f["f"] > 1.6 * f["m"])
    assert people.speed.corr(people.age) < -0.5
    # Two engines; a timbre either of a gender's own or one both genders share, so no timbre tells the gender.
    assert set(people.engine) == {"espeak", "festival"}
    voices = people.groupby("gender").variant.agg(set).to_dict()
    assert voices["f"] <= {*FEMALE_VARIANTS, *SHARED_VARIANTS, *FESTIVAL_VOICES.values()}
    assert voices["m"] <= {*MALE_VARIANTS, *SHARED_VARIANTS, FESTIVAL_VOICES["m"]}
    assert set(SHARED_VARIANTS) <= voices["f"] & voices["m"]
    skin_by_group = people.groupby("accent_group").skin_tone.mean().to_numpy()
    assert np.all(np.diff(skin_by_group) > 0.1)
    assert set(people.accent) == set(ACCENTS)
    # A longer vocal tract lowers the formants; a woman on a shared timbre gets her shorter tract's higher ones.
    shared = people.variant.isin([*SHARED_VARIANTS, FESTIVAL_VOICES["m"]])
    for (gender, on_shared), own in people.groupby(["gender", shared]):
        assert own.formant_scale.corr(size[own.index]) < -0.6, (gender, on_shared)
    tract = people[shared].groupby("gender").formant_scale.median()
    assert 1.14 < tract["f"] / tract["m"] < 1.20
    assert FESTIVAL_VOICES["m"] in voices["f"]  # kal speaks for women too
    assert people.f2_scale.corr(people.mouth_width) > 0.8
    assert people.nasal.corr(people.nose_width) > 0.8
    for voice in ("f0", "speed", "formant_scale", "f2_scale", "nasal"):
        for independent in ("eye_spacing", "lip_thickness", "iris", "background", "glasses"):
            assert abs(people[independent].astype(float).corr(people[voice])) < 0.08, (independent, voice)


def _f0(samples: np.ndarray, rate: int) -> float:
    """Median pitch of voiced 40 ms frames by autocorrelation (60-400 Hz)."""
    n, out = int(0.04 * rate), []
    for start in range(0, len(samples) - n, n):
        x = samples[start:start + n] - samples[start:start + n].mean()
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        ac = np.correlate(x, x, "full")[n - 1:]
        lo, hi = rate // 400, rate // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            out.append(rate / lag)
    return float(np.median(out))


def _espeak_speaker(index: int = 0):
    """The first speaker from `index` on whom espeak-ng speaks with a variant of their gender's own."""
    while (s := sample_speaker(0, index)).variant not in (*FEMALE_VARIANTS, *MALE_VARIANTS):
        index += 1
    return s


def test_neutral_settings_sound_exactly_like_the_accent_and_variant(tmp_path: Path):
    speaker = replace(_espeak_speaker(7), f0=0.0, formant_scale=100, f2_scale=100, nasal=100)
    text = "Nine nice mice."
    wav = tmp_path / "plain.wav"
    subprocess.run(["espeak-ng", "-v", f"{speaker.accent}+{speaker.variant}", "-s", str(speaker.speed), "-w", str(wav),
                    text], check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        rate, plain = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    ours, ours_rate = espeak(text, speaker)
    assert ours_rate == rate and np.array_equal(np.round(ours * 32768).astype("<i2"), plain)


def _band_db(samples: np.ndarray, rate: int, lo: float, hi: float) -> float:
    """Mean power (dB) in [lo, hi) Hz over 512-sample frames."""
    frames = np.lib.stride_tricks.sliding_window_view(samples, 512)[::256] * np.hanning(512)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(0)
    freqs = np.fft.rfftfreq(512, 1 / rate)
    return float(10 * np.log10(power[(freqs >= lo) & (freqs < hi)].mean()))


def test_a_wider_nose_and_mouth_move_the_voice_the_way_the_attributes_say():
    speaker = _espeak_speaker(7)
    text = "Many young men and women know nothing about the moon."
    narrow = espeak(text, replace(speaker, nasal=50))
    wide = espeak(text, replace(speaker, nasal=170))
    assert _band_db(*wide, 0, 300) > _band_db(*narrow, 0, 300) + 3  # more low nasal resonance
    closed = espeak(text, replace(speaker, f2_scale=88))
    spread = espeak(text, replace(speaker, f2_scale=112))
    assert _band_db(*spread, 2500, 4000) > _band_db(*closed, 2500, 4000) + 2  # F2 and F3 move up


def test_each_engine_speaks_at_the_speakers_pitch():
    """espeak-ng (own and shared timbres) and festival (kal: pitch set; slt: pitch moved by resampling, within
    0.88-1.2x of its own) land within 12% of the drawn F0, for women and men."""
    people = [sample_speaker(0, i) for i in range(80)]
    picked = []
    for engine in ("espeak", "festival"):
        for gender in ("f", "m"):
            picked += [p for p in people if p.engine == engine and p.gender == gender][:2]
    picked += [p for p in people if p.variant in SHARED_VARIANTS][:2]
    text = "She sells sea shells by the shore, and we were away a year ago."
    for p in picked:
        (samples,) = say(p, [text])
        target = 171.0 * festival_scale(p) if p.variant == FESTIVAL_VOICES["f"] else p.f0
        assert abs(_f0(samples, RATE) / target - 1) < 0.12, (p.speaker_id, p.variant, p.f0)


def test_festival_voices_are_the_same_bytes_every_time():
    speaker = next(p for i in range(40) if (p := sample_speaker(0, i)).engine == "festival")
    first, again = (list(say(speaker, ["Nine nice mice.", "A second sentence."])) for _ in range(2))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True)) and len(first[0]) > RATE // 2


def test_corpus_layout_meta_and_attributes(tiny_corpus: Path, tiny_clips: list[Path]):
    assert len(tiny_clips) == TINY.speakers * TINY.clips_per_speaker
    assert all(c.relative_to(tiny_corpus).parts[0] == "mp4" and c.name == "00001.mp4" for c in tiny_clips)
    header, *rows = (tiny_corpus / "meta.csv").read_text().splitlines()
    assert header == "VoxCeleb2 ID ,VGGFace2 ID ,Gender ,Set "
    assert rows[0].startswith("id00000 ,n000000 ,") and len(rows) == TINY.speakers
    attrs = read_dataset(tiny_corpus / "attributes.parquet")
    assert list(attrs.speaker_id) == [f"id{i:05d}" for i in range(TINY.speakers)]
    assert {"gender", "age", "accent_group", "jaw", "skin_tone", "beard", "glasses", "engine", "f0"} <= set(
        attrs.columns)
    assert read_meta(tiny_corpus / "attributes.parquet")["params"]["seed"] == TINY.seed
    info = probe(tiny_clips[0])
    video, audio = info["streams"][0], info["streams"][1]
    assert (video["codec_name"], video["width"], video["height"], video["avg_frame_rate"]) == ("h264", 128, 128, "25/1")
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "16000", 1)
    assert abs(float(info["format"]["duration"]) - TINY.seconds) < 0.05
    transcripts = pd.read_csv(tiny_corpus / "transcripts.csv")
    assert len(transcripts) == len(tiny_clips) and transcripts.text.str.len().min() > 10


def test_same_seed_same_corpus_other_seed_other_corpus(tiny_corpus: Path, tmp_path: Path):
    job = plan_corpus(TINY)[3]
    render_clip(job, TINY, tmp_path / "again")
    first, again = tiny_corpus / job.relpath, tmp_path / "again" / job.relpath
    assert sha256_file(first) == sha256_file(again)
    frames = [np.stack(list(decode_frames(p, TINY.size, TINY.size))) for p in (first, again)]
    assert frames[0].shape == (50, 128, 128, 3) and np.array_equal(frames[0], frames[1])
    assert np.array_equal(decode_audio(first), decode_audio(again))

    other = TINY.model_copy(update={"seed": TINY.seed + 1, "speakers": 2})
    other_root = render_corpus(other, tmp_path / "other")
    other_frames = np.stack(list(decode_frames(other_root / plan_corpus(other)[0].relpath, 128, 128)))
    assert not np.array_equal(other_frames, np.stack(list(decode_frames(tiny_corpus / plan_corpus(TINY)[0].relpath,
                                                                      128, 128))))


def test_clips_are_encoded_the_same_whatever_simd_the_cpu_has(tmp_path: Path, monkeypatch):
    """x264 with its assembly off (the plain C code every CPU runs) writes the bytes it writes with it on, and
    ffmpeg's own SIMD is pinned to SSE2 on x86-64: another machine of this kind renders the same corpus."""
    import platform

    import s2f.media as media

    speaker = sample_speaker(0, 1)
    frames = [FaceRenderer(speaker, 96).frame(level, eyes_open=True) for level in np.linspace(0, 1, 12)]
    audio = np.sin(np.linspace(0, 400 * np.pi, 8000)).astype(np.float32) * 0.3
    media.encode_clip(frames, 96, 25, audio, 16000, tmp_path / "asm.mp4")
    monkeypatch.setattr(media, "X264_PARAMS", f"{media.X264_PARAMS}:asm=0")
    media.encode_clip(frames, 96, 25, audio, 16000, tmp_path / "c.mp4")
    assert sha256_file(tmp_path / "asm.mp4") == sha256_file(tmp_path / "c.mp4")
    assert (platform.machine() != "x86_64") or media.CPUFLAGS == ("-cpuflags", "mmx+mmxext+sse+sse2")


def test_mouth_opens_with_the_voice(tiny_corpus: Path):
    """The mouth region departs from its silent look as the soundtrack gets louder."""
    corr = []
    for job in plan_corpus(TINY)[:4]:
        path = tiny_corpus / job.relpath
        face = FaceRenderer(sample_speaker(TINY.seed, job.speaker_index), TINY.size)
        y, x, w = int(face.mouth_y), int(face.cx), int(face.mouth_w)
        frames = np.stack(list(decode_frames(path, TINY.size, TINY.size)))
        mouth = frames[:, y - 8:y + 12, x - w:x + w].astype(float)
        loud = loudness_envelope(decode_audio(path), 16000, TINY.fps, len(frames))
        silent = np.median(mouth[loud == 0], axis=0)
        change = np.abs(mouth - silent).mean((1, 2, 3))
        corr.append(np.corrcoef(change, loud)[0, 1])
    assert np.median(corr) > 0.5, corr


def test_blazeface_detects_the_drawn_faces(tiny_clips: list[Path]):
    assert sha256_file(model_path()) == MODEL_SHA256
    options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(model_path())))
    found = total = 0
    with vision.FaceDetector.create_from_options(options) as detector:
        for clip in tiny_clips:
            for frame in list(decode_frames(clip, TINY.size, TINY.size))[::10]:
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
                found += len(detector.detect(image).detections) == 1
                total += 1
    assert found / total >= 0.95, (found, total)
