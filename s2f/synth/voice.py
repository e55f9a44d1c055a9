"""Speech for a synthetic speaker: espeak-ng or festival sentences, fitted to an exact clip length.

espeak-ng takes formant and pitch settings only from voice files in its data folder, so each utterance runs
against a folder of links to the installed data plus one voice file written for the speaker (`ESPEAK_DATA_PATH`).
festival's voices come from recorded speech; one festival process says a clip's sentences, with the speaker's
pitch (kal) and speaking rate, and the result is resampled to move the formants (and slt's pitch) by the
speaker's vocal-tract scale.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from s2f.synth.attributes import Speaker

LEAD_S = 0.25  # silence before the first sentence
GAP_S = 0.3  # silence between sentences
RATE = 22050  # every track's sample rate (espeak-ng's own)
PITCH_AT = 0.6  # espeak-ng's median pitch lies this far from the voice's `pitch` base to its top (measured)
SLT_F0 = 171.0  # festival slt's median pitch (Hz, measured); it has no pitch control of its own
FESTIVAL_BATCH = 3  # sentences festival says per call (about 7 s of speech: one call fills a default clip)


@lru_cache(maxsize=1)
def sentences() -> tuple[str, ...]:
    """The project's sentence list (s2f/synth/sentences.txt)."""
    text = resources.files("s2f.synth").joinpath("sentences.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@lru_cache(maxsize=1)
def espeak_data() -> Path:
    """The installed espeak-ng data folder, as the binary reports it."""
    version = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True).stdout
    return Path(version.split("Data at:")[1].strip())


def voice_file(speaker: Speaker, data: Path) -> str:
    """The speaker's espeak-ng voice: the accent's language file, the variant's timbre and the speaker's formants.

    The speaker's pitch replaces the variant's: a base and a top such that the median is about `f0` Hz. With
    `f0` 0 (the variant's pitch) and every formant setting at 100% it sounds exactly like `-v accent+variant` (a
    test checks the bytes).
    """
    accent = next(f for f in (data / "lang").rglob("*") if f.is_file() and f.name.lower() == speaker.accent)
    formants = {n: [100.0, 100.0, 100.0] for n in range(9)}  # frequency, strength, width (%) of formant n
    extra: dict[int, list[str]] = {}
    timbre = []
    for line in (data / "voices" / "!v" / speaker.variant).read_text().splitlines():
        key, *values = line.split() or [""]
        if key == "formant":
            formants[int(values[0])] = [float(v) for v in values[1:4]]
            extra[int(values[0])] = values[4:]
        elif key == "pitch" and speaker.f0:
            continue
        elif key not in ("language", "name"):
            timbre.append(line)
    if speaker.f0:
        base = speaker.f0 / (1 + PITCH_AT * (speaker.f0_span - 1))
        timbre.append(f"pitch {round(base)} {round(base * speaker.f0_span)}")
    for n, f in formants.items():
        f[0] *= speaker.formant_scale / 100 * (speaker.f2_scale / 100 if n in (2, 3) else 1)
    formants[0][1] *= speaker.nasal / 100
    formants[1][2] *= speaker.nasal / 100
    lines = [f"formant {n} " + " ".join([*(str(round(v)) for v in f), *extra.get(n, [])]) for n, f in formants.items()]
    return "\n".join([accent.read_text(), *timbre, *lines]) + "\n"


@lru_cache(maxsize=1)
def _linked_data() -> Path:
    """This process's espeak-ng data folder: links to the installed data and an empty `voices/` for the speakers'
    voice files. Made once per process (linking its ~120 entries took 0.15 s, an eighth of a clip's rendering)
    and removed when the process exits."""
    tmp = Path(tempfile.mkdtemp(prefix="s2f-espeak-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    data, home = espeak_data(), tmp / "espeak-ng-data"
    (home / "voices").mkdir(parents=True)
    for entry in data.iterdir():
        if entry.name != "voices":
            (home / entry.name).symlink_to(entry)
    return tmp


@dataclass(frozen=True)
class VoiceHome:
    """Where espeak-ng finds a speaker's voice: its data folder (`ESPEAK_DATA_PATH`) and the voice's name there."""

    data_path: Path
    voice: str


@contextmanager
def voice_home(speaker: Speaker) -> Iterator[VoiceHome]:
    """The speaker's voice file, written under a name of its own into this process's linked data folder for as
    long as the context lasts (threads rendering other speakers at the same time each have their own file)."""
    tmp = _linked_data()
    fd, name = tempfile.mkstemp(prefix="s2f-", dir=tmp / "espeak-ng-data" / "voices")
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(voice_file(speaker, espeak_data()))
        yield VoiceHome(tmp, path.name)
    finally:
        path.unlink(missing_ok=True)


def espeak(text: str, speaker: Speaker, home: VoiceHome | None = None) -> tuple[np.ndarray, int]:
    """Synthesise one utterance with the speaker's voice; returns float32 samples in [-1, 1] and the rate.

    `home` is what `voice_home(speaker)` gives; without one, the voice file is written for this utterance.
    """
    if home is None:
        with voice_home(speaker) as made:
            return espeak(text, speaker, made)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", home.voice, "-s", str(speaker.speed), "-w", str(wav), text],
            check=True, capture_output=True, env={**os.environ, "ESPEAK_DATA_PATH": str(home.data_path)},
        )
        return _read_wav(wav)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def festival_scale(speaker: Speaker) -> float:
    """How much resampling moves a festival voice's formants (and its pitch and tempo): the speaker's vocal-tract
    scale, or for slt, which has no pitch control, the ratio of the speaker's pitch to slt's (within 0.88-1.2)."""
    if speaker.variant == "kal_diphone":
        return speaker.formant_scale / 100
    return float(np.clip(speaker.f0 / SLT_F0, 0.88, 1.2))


def festival_script(texts: list[str], speaker: Speaker, out: Path) -> str:
    """The Scheme that makes festival say each text to out/<i>.wav with the speaker's voice."""
    scale = festival_scale(speaker)
    if speaker.variant == "kal_diphone":
        mean = speaker.f0 / scale  # resampling by `scale` then moves it to f0
        std = mean * (speaker.f0_span - 1) * 0.4
        setup = [
            "(voice_kal_diphone)",
            f"(set! int_lr_params '((target_f0_mean {mean:.1f}) (target_f0_std {std:.1f})"
            " (model_f0_mean 170) (model_f0_std 34)))",
            f"(Parameter.set 'Duration_Stretch {175 / speaker.speed * scale:.3f})",
        ]
    else:
        rate = speaker.speed / 175 / scale  # HTS's speed: resampling by `scale` then multiplies it by scale
        setup = [f"(voice_{speaker.variant})",
                 f"(set! hts_engine_params (append hts_engine_params (list (list \"-r\" {rate:.3f}))))"]
    says = [f'(set! utt (Utterance Text "{text}"))(utt.synth utt)(utt.save.wave utt "{out / f"{i}.wav"}" \'riff)'
            for i, text in enumerate(texts)]
    return "\n".join(setup + says) + "\n"


def resample(samples: np.ndarray, rate: float) -> np.ndarray:
    """Audio at `rate` Hz to RATE by linear interpolation, after a [1 4 6 4 1] / 16 low-pass when it goes down
    (plain float64 arithmetic: the same bytes on every CPU, unlike filters designed with sin and exp)."""
    x = samples.astype(np.float64)
    if rate > RATE * 1.05:  # shifted sums in a fixed order (np.convolve may take BLAS's CPU-specific dot)
        p = np.pad(x, 2)
        x = (p[:-4] + 4 * p[1:-3] + 6 * p[2:-2] + 4 * p[3:-1] + p[4:]) / 16
    n = int(len(x) * RATE / rate)
    return np.interp(np.arange(n) * (rate / RATE), np.arange(len(x)), x).astype(np.float32)


def festival(texts: list[str], speaker: Speaker) -> list[np.ndarray]:
    """Each text said by the speaker's festival voice (one festival process), float32 samples at RATE."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "say.scm"
        script.write_text(festival_script(texts, speaker, Path(tmp)))
        subprocess.run(["festival", "-b", str(script)], check=True, capture_output=True)
        out = []
        for i in range(len(texts)):
            samples, rate = _read_wav(Path(tmp) / f"{i}.wav")
            out.append(resample(samples, rate * festival_scale(speaker)))
    return out


def say(speaker: Speaker, texts: list[str]) -> Iterator[np.ndarray]:
    """The speaker saying each text in turn (float32 samples at RATE), with its engine."""
    if speaker.engine == "festival":
        for start in range(0, len(texts), FESTIVAL_BATCH):
            yield from festival(texts[start:start + FESTIVAL_BATCH], speaker)
        return
    with voice_home(speaker) as home:
        for text in texts:
            samples, rate = espeak(text, speaker, home)
            yield samples if rate == RATE else resample(samples, rate)


def speech_track(speaker: Speaker, seconds: float, rng: np.random.Generator) -> tuple[np.ndarray, int, list[str]]:
    """Exactly `seconds` of speech: random sentences from the list, in order, until the clip is full."""
    pool = sentences()
    order = [pool[i] for i in rng.permutation(len(pool))]
    chunks: list[np.ndarray] = [np.zeros(int(LEAD_S * RATE), np.float32)]
    said: list[str] = []
    for text, samples in zip(order, say(speaker, order), strict=False):
        chunks += [samples, np.zeros(int(GAP_S * RATE), np.float32)]
        said.append(text)
        if sum(len(c) for c in chunks) >= seconds * RATE:
            break
    audio = np.concatenate(chunks)[: int(round(seconds * RATE))]
    fade = min(len(audio), int(0.02 * RATE))
    audio[len(audio) - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return audio, RATE, said


def loudness_envelope(audio: np.ndarray, rate: int, fps: int, n_frames: int) -> np.ndarray:
    """Per video frame loudness in [0, 1] (RMS, normalised by the clip's loud speech, lightly smoothed)."""
    hop = rate / fps
    rms = np.array([np.sqrt(np.mean(audio[int(i * hop): int((i + 1) * hop)] ** 2) + 1e-12) for i in range(n_frames)])
    ref = np.percentile(rms, 95)
    env = np.clip(rms / ref, 0, 1) if ref > 1e-4 else np.zeros(n_frames)
    env = np.convolve(np.pad(env, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    return np.where(env > 0.12, env, 0.0)
