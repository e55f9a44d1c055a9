"""The frozen speaker embedding (s2f/models/speaker.py): resemblyzer's encoder on the stored spectrogram, its
weights checked, its cached views in training, and an encoder that carries it through the model files."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from s2f.audio.spectrogram import spectrogram
from s2f.errors import InputError
from s2f.models import speaker as speaker_module
from s2f.models.augment import Augmentation
from s2f.models.data import SpectrogramStream, SplitRecords, Views, load_features
from s2f.models.networks import EncoderConfig, VoiceEncoder
from s2f.models.speaker import (
    PARTIAL,
    TEMPOS,
    SpeakerEmbedding,
    crop_partials,
    mean_of,
    partial_starts,
    projection,
    stretch,
)
from s2f.models.store import ModelCard, save_model
from s2f.models.zoo import load_encoder
from s2f.predict import read_speech

AUGMENT = Augmentation(reverb=0.5, eq=0.5, noise=0.5, band=0.3, codec=0.3, level_db=10.0)


@pytest.fixture(scope="module")
def embedder() -> SpeakerEmbedding:
    return SpeakerEmbedding().load_pretrained()


def _resemblyzer():
    with warnings.catch_warnings():  # webrtcvad imports pkg_resources, which warns
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder as Resemblyzer
        from resemblyzer import preprocess_wav
        from resemblyzer.audio import wav_to_mel_spectrogram
    return Resemblyzer("cpu", verbose=False), preprocess_wav, wav_to_mel_spectrogram


def _speech(tmp_path: Path, voice: str, text: str) -> np.ndarray:
    """espeak-ng speech, decoded to 16 kHz mono as `s2f predict` reads a recording, tiled to 6 s."""
    wav = tmp_path / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True)
    samples = read_speech(wav)
    return np.tile(samples, -(-96000 // len(samples)))[:96000]


def test_the_embedding_is_resemblyzers_own_from_the_stored_spectrogram(tmp_path: Path, embedder: SpeakerEmbedding):
    resemblyzer, preprocess, to_mel = _resemblyzer()
    text = "The quick brown fox jumps over the lazy dog, and then it runs back into the woods again."
    voices = {v: _speech(tmp_path, v, text) for v in ("en+m3", "en+f4")}
    ours, theirs = {}, {}
    for voice, samples in voices.items():
        spec = torch.from_numpy(spectrogram(samples))[None]
        with torch.no_grad():
            ours[voice] = embedder(spec)[0].numpy()
        theirs[voice] = resemblyzer.embed_utterance(preprocess(samples, source_sr=16000))
        # the band powers: resemblyzer's front end on the waveform at -30 dBFS, against ours on the spectrogram
        level = samples / np.sqrt(np.mean(samples ** 2)) * 10 ** (-30 / 20)
        reference = to_mel(level)[1:]  # its frames are centred: its frame t+1 covers our frame t's samples
        mel = embedder.mel(spec)[0].numpy()
        n = min(len(mel), len(reference))
        assert np.median(mel[:n] / np.maximum(reference[:n], 1e-12)) == pytest.approx(1.0, abs=0.05)
        assert float(ours[voice] @ theirs[voice]) > 0.9
    # it tells the two speakers apart as resemblyzer does
    assert float(ours["en+m3"] @ ours["en+f4"]) < float(ours["en+m3"] @ theirs["en+m3"]) - 0.05


def test_other_weights_stop_before_any_work(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(speaker_module, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(InputError, match="pretrained.pt: not resemblyzer 0.1.4's .* reinstall"):
        SpeakerEmbedding().load_pretrained()


def test_a_crop_takes_the_partials_inside_it():
    starts = partial_starts(598)
    assert starts == [0, 80, 160, 240, 320, 400] and partial_starts(100) == [0]
    assert crop_partials(starts, 0, 298) == [0, 1] and crop_partials(starts, 90, 298) == [2]
    for start in range(0, 598 - 298 + 1):  # every crop has at least one, each inside it
        chosen = crop_partials(starts, start, 298)
        assert chosen and all(start <= starts[i] and starts[i] + PARTIAL <= start + 298 for i in chosen)


def test_cached_views_give_the_same_items_as_streaming(tiny_processed: Path, embedder: SpeakerEmbedding):
    ids, _, _ = load_features(tiny_processed / "face_features", "train")
    rows = {clip: i for i, clip in enumerate(ids)}
    views = Views(AUGMENT, 2, seed=5)
    records = SplitRecords.load(tiny_processed / "spectrograms", "train", set(ids), 2 ** 30)
    records.embed(embedder, views)
    streams = [SpectrogramStream(tiny_processed / "spectrograms", rows, "train", 50, True, seed=3, buffer=2,
                                 records=r, speaker=embedder, views=views) for r in (None, records)]
    for s in streams:
        s.set_epoch(1)
    streamed, held = (list(s) for s in streams)
    assert len(held) == len(ids) and all(len(item) == 3 and item[2].shape == (256,) for item in held)
    for a, b in zip(streamed, held, strict=True):
        assert torch.equal(a[0], b[0]) and a[1] == b[1]
        assert torch.allclose(a[2], b[2], atol=1e-5)  # one record at a time against batches of them
    # each record has its clean view and two augmented ones
    assert all(p.shape[0] == 3 for parts in records.partials.values() for p in parts)
    # a copy with noise moves the embedding; a copy that only changes the level does not (it is normalised away)
    spec = next(iter(records.by_file.values()))[0][1]
    noisy = Views(Augmentation(noise=1.0, level_db=10.0), 2, seed=5).partials(embedder, "c", 0, spec)
    louder = Views(Augmentation(level_db=10.0), 2, seed=5).partials(embedder, "c", 0, spec)
    assert not np.allclose(noisy[0], noisy[1], atol=1e-3) and not np.allclose(noisy[0], noisy[2], atol=1e-3)
    assert np.allclose(louder[0], louder[1], atol=1e-4) and np.allclose(louder[0], louder[2], atol=1e-4)
    plain = SpectrogramStream(tiny_processed / "spectrograms", rows, "train", 50, True, seed=3, buffer=2,
                              records=records)
    plain.set_epoch(1)
    assert all(len(item) == 2 for item in plain)  # without the embedding, the items are as before


def test_an_encoder_with_the_embedding_round_trips_and_uses_it(tmp_path: Path, embedder: SpeakerEmbedding):
    torch.manual_seed(0)
    encoder = VoiceEncoder(EncoderConfig(frames=100, speaker="concat"))
    encoder.speaker.load_pretrained()
    encoder.eval()
    spec = torch.randn(3, 2, 300, 257)
    with torch.no_grad():
        emb = encoder.speaker(spec)
        assert torch.allclose(encoder(spec), encoder(spec, emb), atol=1e-6)  # a given embedding is the computed one
        assert not torch.allclose(encoder(spec), encoder(spec, emb.roll(1, 0)), atol=1e-3)  # and it counts
    card = ModelCard(model="voice_encoder", arch=encoder.cfg.to_json(), params={}, params_hash="h", data_version="v",
                     metrics={})
    save_model(encoder, card, tmp_path / "enc")
    loaded, _ = load_encoder(tmp_path / "enc")  # its frozen weights travel in the model file
    with torch.no_grad():
        assert torch.equal(loaded(spec), encoder(spec))
    assert not any(p.requires_grad for p in loaded.speaker.parameters())
    only = VoiceEncoder(EncoderConfig(frames=100, speaker="only"))
    assert only.trunk is None and only(spec, emb).shape == (3, 128)
    with pytest.raises(ValueError, match="unknown encoder speaker"):
        EncoderConfig(speaker="both")


def test_a_faster_clip_keeps_its_spectrum_and_moves_the_embedding(tmp_path: Path, embedder: SpeakerEmbedding):
    samples = _speech(tmp_path, "en-us", "The quick brown fox jumps over the lazy dog.")
    spec = torch.from_numpy(spectrogram(samples))[None]
    mel = embedder.mel(spec)
    assert stretch(mel, 1.0) is mel
    fast, slow = stretch(mel, 1.1), stretch(mel, 0.9)
    assert fast.shape[1] == round(mel.shape[1] / 1.1) and slow.shape[1] == round(mel.shape[1] / 0.9)
    # the same band powers over the clip (only the rate changes), within a frame's resampling
    assert torch.allclose(fast.mean(1), mel.mean(1), rtol=0.05) and torch.allclose(slow.mean(1), mel.mean(1), rtol=0.05)
    with torch.no_grad():
        clean = mean_of(embedder.partials(spec))
        moved = [mean_of(embedder.partials(spec, tempo)) for tempo in TEMPOS]
    for other in moved:  # the same voice, another rate: near but not equal
        cosine = float((clean * other).sum())
        assert 0.8 < cosine < 0.9999


def test_the_projection_removes_the_channel_and_tempo_directions():
    gen = torch.Generator().manual_seed(0)
    clean = torch.nn.functional.normalize(torch.randn(40, 1, 256, generator=gen), dim=-1)
    channel, rate = torch.zeros(256), torch.zeros(256)
    channel[3], rate[7] = 1.0, 1.0
    views = torch.cat([clean, clean + 0.3 * channel + 0.002 * torch.randn(40, 1, 256, generator=gen)], 1)
    stretched = torch.cat([clean - 0.2 * rate, clean + 0.2 * rate], 1) + 0.002 * torch.randn(40, 2, 256, generator=gen)
    both = projection(views, 1, 0, stretched, 1).double()
    assert torch.allclose(both, both.T, atol=1e-6) and torch.allclose(both @ both, both, atol=1e-5)  # a projection
    assert round(float(torch.trace(both))) == 254  # of rank 256 - 2
    assert float((both @ channel.double()).norm()) < 0.05 and float((both @ rate.double()).norm()) < 0.05
    channel_only = projection(views, 1, 0).double()  # without the tempo directions, the rate stays
    assert float((channel_only @ rate.double()).norm()) > 0.99 and round(float(torch.trace(channel_only))) == 255
    assert torch.allclose(projection(views, 1, 0, stretched, 0), projection(views, 1, 0), atol=1e-6)
