"""Inference: a face from any speech recording ffmpeg reads (wav, mp3, m4a, mp4, mpg...).

The most speech-dense window of `seconds` is used (shorter speech is tiled, as in training); the voice encoder
gives a face feature and the frozen decoder draws it. Attribute probabilities are read off the drawn face by
the classifiers the evaluate stage fitted, the same way evaluation reads them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np
import torch

from s2f.audio.spectrogram import SAMPLE_RATE, spectrogram, tile_to
from s2f.audio.speech import FRAME, SILENT_PEAK_DB, frame_rms, trim_silence
from s2f.config import FacesParams, PredictParams
from s2f.errors import InputError
from s2f.evaluate.attributes import load_classifiers, probabilities
from s2f.faces.align import Aligner
from s2f.images import upscale
from s2f.media import decode_audio, displayed_size, ffmpeg_message, probe, video_stream
from s2f.models.inference import decode, descriptors_of, to_uint8
from s2f.models.speaker import mean_of
from s2f.models.zoo import load_decoder, load_encoder


@dataclass
class Speech:
    samples: np.ndarray  # exactly the window length, 16 kHz
    start: float  # window start in the recording (s)
    speech_seconds: float  # speech found in the whole recording
    tiled: bool  # the speech was shorter than the window and was repeated


def read_speech(path: str | Path, max_seconds: float | None = None) -> np.ndarray:
    """The recording at 16 kHz; with `max_seconds`, a longer one is refused (and never decoded past the limit)."""
    try:
        samples = decode_audio(path, SAMPLE_RATE, duration=None if max_seconds is None else max_seconds + 0.5)
    except ffmpeg.Error as err:
        raise InputError(f"{Path(path).name}: cannot decode audio ({ffmpeg_message(err)})") from None
    if max_seconds is not None and len(samples) > max_seconds * SAMPLE_RATE:
        raise InputError(f"the recording is longer than app.max_seconds ({max_seconds:g} s); send a shorter one")
    return samples


def speech_window(samples: np.ndarray, seconds: float, min_seconds: float, silence_db: float) -> Speech:
    """The `seconds` with the most speech (frames within `silence_db` of the peak); refuses too little speech."""
    rms = frame_rms(samples)
    peak = float(rms.max()) if len(rms) else 0.0
    if peak <= 10 ** (SILENT_PEAK_DB / 20):
        raise InputError(f"no speech found (silent or under {FRAME / SAMPLE_RATE:.3f} s of audio)")
    voiced = rms > peak * 10 ** (silence_db / 20)
    speech_seconds = float(voiced.sum() * FRAME / SAMPLE_RATE)
    if speech_seconds < min_seconds:
        raise InputError(f"only {speech_seconds:.2f} s of speech; predict.min_seconds is {min_seconds:g} s "
                         "(give a longer recording)")
    length = int(round(seconds * SAMPLE_RATE))
    window = length // FRAME
    if len(voiced) <= window:
        speech, start = trim_silence(samples, silence_db)
        return Speech(tile_to(speech, length), start, speech_seconds, len(speech) < length)
    counts = np.convolve(voiced.astype(np.int32), np.ones(window, np.int32), mode="valid")
    best = int(np.argmax(counts))
    piece = samples[best * FRAME: best * FRAME + length]
    return Speech(tile_to(piece, length), best * FRAME / SAMPLE_RATE, speech_seconds, len(piece) < length)


DESCRIPTOR_SIZE = 128  # dlib's face descriptor, which the attribute classifiers read


class Predictor:
    """The trained voice encoder, face decoder and attribute classifiers, loaded once."""

    def __init__(self, encoder_dir: str | Path, decoder_dir: str | Path, attributes: str | Path | None):
        self.encoder, card = load_encoder(encoder_dir)
        self.trained_on = card.trained_on or "unknown"  # the ingest source: synth means synthetic
        self.decoder, _ = load_decoder(decoder_dir)
        self.classifiers = load_classifiers(attributes) if attributes and Path(attributes).is_file() else {}
        wrong = sorted(n for n, clf in self.classifiers.items() if clf.n_features_in_ != DESCRIPTOR_SIZE)
        if wrong:
            raise InputError(f"{attributes}: classifiers {wrong} do not take {DESCRIPTOR_SIZE}-D face descriptors; "
                             "remake it with `dvc repro evaluate`")
        self.aligner = Aligner()
        self.dlib = threading.Lock()  # dlib's networks keep state while they run: one thread at a time uses them

    def tempo(self, tempo: float) -> float:
        """The rate a recording is read at for `PredictParams.tempo`: that for an encoder trained on the synthetic
        corpus (whose speaking rate it calibrates real speech to), else 1: an encoder trained on real videos, or
        one without a speaker embedding (its own convolutions read the spectrogram as it is)."""
        return tempo if self.encoder.speaker is not None and self.trained_on == "synth" else 1.0

    @torch.no_grad()
    def prediction(self, samples: np.ndarray, tempo: float = 1.0) -> torch.Tensor:
        """The encoder's (1, dim) prediction for a recording, as retrieval ranks it; its speaker embedding read as
        if the speech were `tempo` times as fast (`PredictParams.tempo`)."""
        spec = torch.from_numpy(spectrogram(samples))[None]
        if self.tempo(tempo) == 1.0:
            return self.encoder(spec)
        return self.encoder(spec, speaker=mean_of(self.encoder.speaker.partials(spec, tempo)))

    @torch.no_grad()
    def feature(self, samples: np.ndarray, prediction: torch.Tensor | None = None, tempo: float = 1.0) -> np.ndarray:
        """The face feature to draw for a recording (or for its `prediction`, already made): the encoder's
        prediction, widened by its spread."""
        feat = self.encoder.for_decoder(self.prediction(samples, tempo) if prediction is None else prediction)[0]
        return (feat / feat.norm()).numpy()

    def draw(self, feature: np.ndarray) -> np.ndarray:
        """(size, size, 3) uint8 face from a face feature."""
        return to_uint8(decode(self.decoder, torch.from_numpy(feature[None].astype(np.float32))))[0]

    def attributes(self, face: np.ndarray) -> dict[str, dict[str, float]]:
        if not self.classifiers:
            return {}
        with self.dlib:
            descriptor = descriptors_of(face[None], self.aligner)[0]
        return probabilities(self.classifiers, descriptor)


def find_video(path: str | Path) -> dict[str, Any] | None:
    """The recording's video stream (ffprobe's description), or None for audio alone or an unreadable file."""
    try:
        return video_stream(probe(path)["streams"])
    except ffmpeg.Error:
        return None


def real_face(path: str | Path, aligner: Aligner, video: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, np.ndarray] | None:
    """The most frontal aligned face crop of a video and its face feature, or None when no face is found.
    `video` is the file's video stream when the caller has probed it already."""
    from s2f.faces.clip import process_clip
    from s2f.faces.detect import FaceDetector
    from s2f.images import decode_png

    if video is None:
        video = find_video(path)
    if video is None:
        return None
    width, height = displayed_size(video)
    clip: dict[str, Any] = {"path": str(path), "width": width, "height": height}
    with FaceDetector() as detector:
        faces = process_clip(clip, FacesParams(min_frames=1), detector, aligner)
    if faces.reject or not faces.frames:
        return None
    best = max(faces.frames, key=lambda f: f["frontality"])
    return decode_png(best["crop"]), faces.feature["feature"]


SHOWN_PX = 256  # the side of a face as written and shown (the decoder draws 128 px by default)


@dataclass
class Prediction:
    """One recording's face: what `s2f predict --json` prints and `s2f app` answers, plus the pictures."""

    input: str
    trained_on: str  # the ingest source of the voice encoder's training data ("synth": the synthetic corpus)
    window_start_s: float  # where the speech window used starts in the recording
    window_s: float
    speech_s: float  # speech found in the whole recording
    tiled: bool  # the speech was shorter than the window and was repeated
    tempo: float  # the speaker embedding read the speech as if this many times as fast (PredictParams.tempo)
    duration_s: float  # the recording's length
    attributes: dict[str, dict[str, float]]  # per attribute, class -> probability (most likely first)
    seconds: float  # time taken: speech window, encoder, decoder and attributes
    face: np.ndarray = field(repr=False)  # (SHOWN_PX, SHOWN_PX, 3) uint8
    compared: bool = False  # a comparison was asked for
    compare: np.ndarray | None = field(default=None, repr=False)  # real face | F2F | S2F, when asked and found
    envelope: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)  # peak |x| per bin

    def to_json(self, face: str, compare: str | None = None) -> dict[str, Any]:
        """The JSON result, with `face` (and `compare`) given as where the pictures were put (a path or a URL)."""
        result = {"input": self.input, "face": face, "trained_on": self.trained_on,
                  "window_start_s": round(self.window_start_s, 3), "window_s": self.window_s,
                  "speech_s": round(self.speech_s, 2), "tiled": self.tiled, "tempo": self.tempo,
                  "duration_s": round(self.duration_s, 3), "attributes": self.attributes,
                  "seconds": round(self.seconds, 3)}
        if self.compared:  # null: asked for, but the recording has no usable face
            result["compare"] = compare
        return result


def comparison(predictor: Predictor, path: str | Path, face: np.ndarray,
               video: dict[str, Any] | None = None) -> np.ndarray | None:
    """Real aligned face | F2F | S2F (`face`, drawn), SHOWN_PX each, or None when the file shows no face."""
    with predictor.dlib:
        real = real_face(path, predictor.aligner, video)
    if real is None:
        return None
    crop, real_feature = real
    return np.hstack([im if im.shape[0] == SHOWN_PX else upscale(im, SHOWN_PX)
                      for im in (crop, predictor.draw(real_feature), face)])


def envelope(samples: np.ndarray, bins: int = 400) -> np.ndarray:
    """Peak amplitude in `bins` equal slices of the recording: enough to draw its waveform."""
    if len(samples) == 0:
        return np.zeros(0, np.float32)
    edges = np.linspace(0, len(samples), min(bins, len(samples)) + 1).astype(int)
    return np.maximum.reduceat(np.abs(samples), edges[:-1]).astype(np.float32)


def predict_file(predictor: Predictor, path: str | Path, p: PredictParams, compare: bool = False,
                 max_seconds: float | None = None, name: str | None = None) -> Prediction:
    """A face from one recording; raises InputError (one line) for anything a user can fix."""
    tick = time.perf_counter()
    samples = read_speech(path, max_seconds)
    speech = speech_window(samples, p.seconds, p.min_seconds, p.silence_db)
    face = predictor.draw(predictor.feature(speech.samples, tempo=p.tempo))
    attributes = predictor.attributes(face)
    elapsed = time.perf_counter() - tick
    row = comparison(predictor, path, face) if compare else None
    return Prediction(name or str(path), predictor.trained_on, speech.start, p.seconds, speech.speech_seconds,
                      speech.tiled, predictor.tempo(p.tempo), len(samples) / SAMPLE_RATE, attributes, elapsed,
                      upscale(face, SHOWN_PX), compare, row, envelope(samples))
